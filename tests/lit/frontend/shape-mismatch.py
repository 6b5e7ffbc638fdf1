# RUN: not ctorchc -O0 %s --input x=f32[N,4] 2>&1 | %FileCheck %s
import torch.nn as nn


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        return self.fc(x)
# CHECK: {{.*}}shape-mismatch.py:11:16: error: {{.*}}f32[N,4]{{.*}}f32[2,8]

# RUN: not ctorchc -O0 %s --input x=f32[N,4] 2>&1 | %FileCheck %s
import torch.nn as nn


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2, biass=False)

    def forward(self, x):
        return self.fc(x)
# CHECK: {{.*}}bad-keyword.py:8:35: error: unexpected keyword argument 'biass' for nn.Linear; supported: in_features, out_features, bias

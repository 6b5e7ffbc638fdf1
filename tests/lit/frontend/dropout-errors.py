# Dropout probabilities are checked as PyTorch checks them (0 <= p <= 1); p=1 (every element
# zeroed) is not supported, and training= must be a compile-time constant or self.training.
# RUN: not ctorchc -O0 %s --input x=f32[N,4] 2>&1 | %FileCheck %s --implicit-check-not=error:
import torch.nn as nn
import torch.nn.functional as F


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Dropout(1.5)
        self.b = nn.Dropout(p=-0.1)
        self.c = nn.Dropout(1)
        self.d = nn.Dropout("half")

    def forward(self, x):
        y = F.dropout(x, 2.0)
        y = F.dropout(x, training=x)
        return F.dropout(x, 0.1, training=self.train)
# CHECK: {{.*}}dropout-errors.py:11:18: error: dropout probability has to be between 0 and 1, but got 1.5
# CHECK: {{.*}}dropout-errors.py:12:18: error: dropout probability has to be between 0 and 1, but got -0.1
# CHECK: {{.*}}dropout-errors.py:13:18: error: unsupported: dropout with p=1 (every element zeroed); supported: 0 <= p < 1
# CHECK: {{.*}}dropout-errors.py:14:18: error: dropout probability must be a number
# CHECK: {{.*}}dropout-errors.py:17:13: error: dropout probability has to be between 0 and 1, but got 2
# CHECK: {{.*}}dropout-errors.py:18:13: error: dropout: training must be a compile-time constant or self.training
# CHECK: {{.*}}dropout-errors.py:19:43: error: M has no attribute 'train'

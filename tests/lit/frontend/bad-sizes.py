# Module and tensor sizes are checked as PyTorch's constructors check them, so a typo is a
# diagnostic rather than a parameter the runtime cannot allocate.
# RUN: not ctorchc -O0 %s --input x=f32[N,4] 2>&1 | %FileCheck %s --implicit-check-not=error:
import torch
import torch.nn as nn


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(-4, 2)
        self.conv = nn.Conv2d(3, 8, 3, groups=2)
        self.pool = nn.MaxPool2d(2, stride=0)
        self.emb = nn.Embedding(1 << 30, 1 << 30)
        self.p = nn.Parameter(torch.zeros(4, -1))

    def forward(self, x):
        return torch.zeros(x.shape[0], -3)
# CHECK: {{.*}}bad-sizes.py:11:19: error: nn.Linear: in_features must be non-negative, got -4
# CHECK: {{.*}}bad-sizes.py:12:21: error: nn.Conv2d: in_channels and out_channels must be divisible by groups
# CHECK: {{.*}}bad-sizes.py:13:21: error: nn.MaxPool2d: stride must be positive, got 0
# CHECK: {{.*}}bad-sizes.py:14:20: error: nn.Embedding: the weight would have 1152921504606846976 elements; at most 2^40 are supported
# CHECK: {{.*}}bad-sizes.py:15:31: error: torch.zeros: size -1 out of range
# CHECK: {{.*}}bad-sizes.py:18:16: error: torch.zeros: size -3 out of range

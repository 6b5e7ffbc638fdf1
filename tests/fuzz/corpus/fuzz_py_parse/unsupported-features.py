# Python that is valid but outside the subset: each message says what is unsupported and what
# is supported (varargs parameters, plain tensor attributes, arithmetic on initializers,
# iterating over a tensor, random numbers in forward, conditions and slice bounds that depend on
# a symbolic size).
# RUN: not ctorchc -O0 %s --input x=f32[N,4] 2>&1 | %FileCheck %s --implicit-check-not=error:
import torch
import torch.nn as nn


class M(nn.Module):
    def __init__(self, *sizes):
        super().__init__()

    def forward(self, x):
        return x


class N(nn.Module):
    def __init__(self):
        super().__init__()
        self.table = torch.zeros(4, 4)
        self.w = nn.Parameter(torch.zeros(4) + 1)
        self.m = M(1, 2)

    def forward(self, x):
        for row in x:
            x = x + row
        noise = torch.randn(4)
        n = x.shape[0]
        if n > 1:
            x = x * 2
        return x[:n]
# CHECK: {{.*}}unsupported-features.py:21:9: error: unsupported: a plain tensor attribute self.table; wrap it in nn.Parameter(...) or compute it in forward
# CHECK: {{.*}}unsupported-features.py:22:31: error: unsupported: '+' on an initializer in __init__; supported: torch.zeros/ones/randn/rand(...) times or divided by a number
# CHECK: {{.*}}unsupported-features.py:11:24: error: unsupported parameter kind in M.__init__(); supported: plain parameters with defaults
# CHECK: {{.*}}unsupported-features.py:26:20: error: unsupported: iterating over a value of type tensor; supported: range(CONST), tuples, lists, nn.ModuleList, nn.Sequential, enumerate(...), zip(...)
# CHECK: {{.*}}unsupported-features.py:28:17: error: unsupported: torch.randn in forward (random numbers at run time)
# CHECK: {{.*}}unsupported-features.py:30:12: error: comparison on a symbolic size is not known at compile time; supported: comparisons of constants and constant dims
# CHECK: {{.*}}unsupported-features.py:32:19: error: unsupported: a slice bound that is a symbolic size; supported: constant bounds

# Python features the parser does not accept are named as such, at the construct.
# RUN: not ctorchc -O0 %s --input x=f32[N,4] 2>&1 | %FileCheck %s --implicit-check-not=error:
import torch
import torch.nn as nn


class M(nn.Module):
    def forward(self, x):
        f = lambda v: v * 2
        with torch.no_grad():
            y = x
        return x
# CHECK: {{.*}}unsupported-syntax.py:9:13: error: unsupported Python feature: lambda expression
# CHECK: {{.*}}unsupported-syntax.py:10:9: error: unsupported Python feature: 'with' statement

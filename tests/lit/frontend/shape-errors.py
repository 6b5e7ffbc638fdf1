# Shape mismatches name the op and print both shapes, at the expression that causes them.
# RUN: not ctorchc -O0 %s --input x=f32[N,4] --input y=f32[3,N] 2>&1 | %FileCheck %s --implicit-check-not=error:
import torch
import torch.nn as nn


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm2d(3)
        self.ln = nn.LayerNorm(5)

    def forward(self, x, y):
        a = x + y
        b = x @ y
        c = self.bn(x)
        d = self.ln(x)
        e = x.view(-1, 7)
        f = x[:, 9]
        return a
# CHECK: {{.*}}shape-errors.py:14:13: error: add: cannot broadcast f32[N,4] with f32[3,N]
# CHECK: {{.*}}shape-errors.py:15:13: error: matmul: cannot multiply f32[N,4] by f32[3,N]
# CHECK: {{.*}}shape-errors.py:16:13: error: nn.BatchNorm2d expects a rank-4 input, got f32[N,4]
# CHECK: {{.*}}shape-errors.py:17:13: error: layer_norm: normalized_shape f32[5] does not match input f32[N,4]
# CHECK: {{.*}}shape-errors.py:18:13: error: cannot infer the -1 dimension of view/reshape of f32[N,4]
# CHECK: {{.*}}shape-errors.py:19:18: error: index 9 is out of bounds for dimension 1 with size 4

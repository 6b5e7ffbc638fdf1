# Calling a non-module attribute and indexing a tensor with a tensor are reported at the expression, and the
# lowering continues with the next statement.
# RUN: not ctorchc -O0 %s --input x=f32[N,4] 2>&1 | %FileCheck %s
import torch.nn as nn


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.k = 3

    def forward(self, x):
        y = self.k(x)
        return x[x > 0]
# CHECK: {{.*}}unsupported-expr.py:13:13: error: unsupported call: a value of type int is not callable; supported: modules, torch.*, F.*, tensor methods
# CHECK: {{.*}}unsupported-expr.py:14:18: error: unsupported: indexing with a tensor (advanced indexing); supported: integers, slices, '...', None

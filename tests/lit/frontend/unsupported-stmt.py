# RUN: not ctorchc -O0 %s --input x=f32[N,4] 2>&1 | %FileCheck %s
import torch.nn as nn


class M(nn.Module):
    def forward(self, x):
        while x.shape[0] > 1:
            x = x + 1
        return x
# CHECK: {{.*}}unsupported-stmt.py:7:9: error: unsupported statement: while; supported: assignment, tuple unpacking, augmented assignment, return, pass, if (compile-time condition), for (unrolled), break, continue, assert

# RUN: not ctorchc -O0 %s --input x=f32[N,4] 2>&1 | %FileCheck %s
import torch.nn as nn


class M(nn.Module):
    def forward(self, x):
        y = foo(x)
        return bar + y
# CHECK: {{.*}}unknown-name.py:7:13: error: name 'foo' is not defined
# CHECK: {{.*}}unknown-name.py:8:16: error: name 'bar' is not defined

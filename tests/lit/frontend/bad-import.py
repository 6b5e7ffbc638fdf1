# RUN: not ctorchc -O0 %s --input x=f32[N,4] 2>&1 | %FileCheck %s
import torch.nn as nn
import numpy as np
# CHECK: {{.*}}bad-import.py:3:8: error: unsupported import 'numpy' (supported: import torch, {{.*}})


class M(nn.Module):
    def forward(self, x):
        return x

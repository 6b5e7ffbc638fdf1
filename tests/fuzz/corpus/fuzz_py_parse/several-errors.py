# Several independent errors in one run are all reported, in source order: errors in __init__
# (an unsupported module, an unknown keyword) leave those attributes unbound and do not hide the
# errors in forward (an unknown name, a condition on a tensor); values depending on an earlier
# error are not reported again.
# RUN: not ctorchc -O0 %s --input x=f32[N,4] 2>&1 | %FileCheck %s --implicit-check-not=error:
import torch
import torch.nn as nn
import torch.nn.functional as F


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 8)
        self.bad = nn.LSTM(4, 8)
        self.norm = nn.LayerNorm(8, epsilon=1e-5)

    def forward(self, x):
        h = self.fc(x)
        h = self.bad(h)
        h = self.norm(h)
        y = undefined_name + 1
        if x.sum() > 0:
            h = h * 2
        z = self.fc(h @ h)
        return F.relu(h)
# CHECK: {{.*}}several-errors.py:15:20: error: unsupported module: nn.LSTM; supported: Linear, Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, BatchNorm1d, BatchNorm2d, LayerNorm, Embedding, ReLU, GELU, SiLU, Tanh, Sigmoid, Softmax, LogSoftmax, Identity, Dropout, Flatten, Sequential, ModuleList, Parameter
# CHECK: {{.*}}several-errors.py:16:37: error: unexpected keyword argument 'epsilon' for nn.LayerNorm; supported: normalized_shape, eps, elementwise_affine
# CHECK: {{.*}}several-errors.py:22:13: error: name 'undefined_name' is not defined
# CHECK: {{.*}}several-errors.py:23:12: error: unsupported: a condition on a tensor value (data-dependent control flow); supported: conditions on compile-time constants and shapes

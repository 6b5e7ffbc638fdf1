# An error inside a class used several times (a ModuleList of three, then once more by index)
# is reported once, at its place in the class.
# RUN: not ctorchc -O0 %s --input x=f32[N,4] 2>&1 | %FileCheck %s --implicit-check-not=error:
import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.fc = nn.Linear(d, d)

    def forward(self, x):
        return self.fc(x) + undefined_bias


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([Block(4) for _ in range(3)])
        self.extra = Block(8)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        y = self.blocks[0](x)
        return self.extra(x)
# CHECK: {{.*}}repeated-errors.py:14:29: error: name 'undefined_bias' is not defined

# Wrong arity: user constructors and forwards (too many, missing, unexpected keyword),
# built-in modules' forward(input), nn constructors and torch functions (too many positional
# arguments, at the first extra one). Each is reported; lowering goes on.
# RUN: not ctorchc -O0 %s --input x=f32[N,4] 2>&1 | %FileCheck %s --implicit-check-not=error:
import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.fc = nn.Linear(d, d)

    def forward(self, x):
        return self.fc(x)


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = Block(4, 5)
        self.b = Block()
        self.c = Block(4)
        self.fc = nn.Linear(4, 4, True, 1)

    def forward(self, x):
        y = self.c(x, x)
        z = self.c.fc(x, x)
        w = self.c(x, scale=2)
        v = x.view()
        return torch.softmax(x, 1, 2, 3, 4)
# CHECK: {{.*}}wrong-arity.py:21:18: error: Block.__init__() takes 1 argument but 2 were given
# CHECK: {{.*}}wrong-arity.py:22:18: error: Block.__init__() missing required argument 'd'
# CHECK: {{.*}}wrong-arity.py:24:41: error: nn.Linear takes at most 3 positional arguments but 4 were given
# CHECK: {{.*}}wrong-arity.py:27:13: error: Block.forward() takes 1 argument but 2 were given
# CHECK: {{.*}}wrong-arity.py:28:13: error: nn.Linear.forward() takes 1 argument (input) but 2 were given
# CHECK: {{.*}}wrong-arity.py:29:13: error: Block.forward() got an unexpected keyword argument 'scale'
# CHECK: {{.*}}wrong-arity.py:30:13: error: reshape: cannot reshape f32[N,4] to f32[]: element counts differ
# CHECK: {{.*}}wrong-arity.py:31:42: error: softmax takes at most 4 positional arguments but 5 were given

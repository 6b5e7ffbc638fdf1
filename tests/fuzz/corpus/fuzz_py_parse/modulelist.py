# nn.ModuleList from a list comprehension over range(CONST) (children named 0, 1, ...; a
# constructor argument deciding bias), `for layer in self.layers` and `for i in range(...)`
# unrolled, len(), indexing with negative indices, a comprehension over the list,
# enumerate + break.
# RUN: ctorchc -O0 %s --input x=f32[N,8] | %FileCheck %s
import torch
import torch.nn as nn


class Layer(nn.Module):
    def __init__(self, d, i):
        super().__init__()
        self.fc = nn.Linear(d, d, bias=i % 2 == 0)

    def forward(self, x):
        return torch.relu(self.fc(x))


class Net(nn.Module):
    def __init__(self, d=8, depth=3):
        super().__init__()
        self.layers = nn.ModuleList([Layer(d, i) for i in range(depth)])
        self.heads = nn.ModuleList([nn.Linear(d, 2), nn.Linear(d, 3)])
        self.depth = depth

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        for i in range(len(self.layers) - 1):
            x = x + self.layers[i](x)
        outs = [head(x) for head in self.heads]
        for i, head in enumerate(self.heads):
            if i == 1:
                break
        return outs[0], self.heads[-1](x)
# CHECK: param layers.0.fc.weight: f32[8,8]
# CHECK-NEXT: param layers.0.fc.bias: f32[8]
# CHECK-NEXT: param layers.1.fc.weight: f32[8,8]
# CHECK-NEXT: param layers.2.fc.weight: f32[8,8]
# CHECK-NEXT: param layers.2.fc.bias: f32[8]
# CHECK-NEXT: param heads.0.weight: f32[2,8]
# CHECK: -> (output0: f32[N,2], output1: f32[N,3])
# CHECK-NEXT: %0: f32[N,8] = linear(%x, %layers.0.fc.weight, %layers.0.fc.bias)
# CHECK-NEXT: %1: f32[N,8] = relu(%0)
# CHECK-NEXT: %2: f32[N,8] = linear(%1, %layers.1.fc.weight)
# CHECK-NEXT: %3: f32[N,8] = relu(%2)
# CHECK-NEXT: %4: f32[N,8] = linear(%3, %layers.2.fc.weight, %layers.2.fc.bias)
# CHECK-NEXT: %5: f32[N,8] = relu(%4)
# CHECK-NEXT: %6: f32[N,8] = linear(%5, %layers.0.fc.weight, %layers.0.fc.bias)
# CHECK-NEXT: %7: f32[N,8] = relu(%6)
# CHECK-NEXT: %8: f32[N,8] = add(%5, %7)
# CHECK-NEXT: %9: f32[N,8] = linear(%8, %layers.1.fc.weight)
# CHECK-NEXT: %10: f32[N,8] = relu(%9)
# CHECK-NEXT: %11: f32[N,8] = add(%8, %10)
# CHECK-NEXT: %12: f32[N,2] = linear(%11, %heads.0.weight, %heads.0.bias)
# CHECK-NEXT: %13: f32[N,3] = linear(%11, %heads.1.weight, %heads.1.bias)
# CHECK-NEXT: %14: f32[N,3] = linear(%11, %heads.1.weight, %heads.1.bias)
# CHECK-NEXT: return %12, %14

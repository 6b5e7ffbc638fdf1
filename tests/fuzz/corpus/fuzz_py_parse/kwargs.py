# Keyword arguments as PyTorch spells them: on nn constructors (in_features=), user
# constructors (factor=), built-in module calls (input=), user forward calls (bias=, x=),
# F.softmax(input=, dim=), Tensor.mean(dim=, keepdim=), F.gelu(approximate='tanh'),
# Tensor.transpose(dim0=, dim1=), torch.cat(tensors=, dim=).
# RUN: ctorchc -O0 %s --input x=f32[N,4] | %FileCheck %s
import torch
import torch.nn as nn
import torch.nn.functional as F


class Scale(nn.Module):
    def __init__(self, factor=1.0):
        super().__init__()
        self.factor = factor

    def forward(self, x, bias=0.0):
        return x * self.factor + bias


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(in_features=4, out_features=6, bias=False)
        self.scale = Scale(factor=2.0)

    def forward(self, x):
        h = self.fc(input=x)
        h = self.scale(h, bias=1.0)
        h = self.scale(x=h)
        p = F.softmax(input=h, dim=1)
        m = h.mean(dim=-1, keepdim=True)
        g = F.gelu(h, approximate='tanh')
        t = h.transpose(dim0=0, dim1=1)
        return torch.cat(tensors=[p, m, g], dim=1), t
# CHECK: graph @forward(%x: f32[N,4], %fc.weight: f32[6,4]) -> (output0: f32[N,13], output1: f32[6,N]) {
# CHECK-NEXT: %0: f32[N,6] = linear(%x, %fc.weight)
# CHECK-NEXT: %1: f32[] = constant() {shape=[], dtype=f32, value=2}
# CHECK-NEXT: %2: f32[N,6] = mul(%0, %1)
# CHECK-NEXT: %3: f32[] = constant() {shape=[], dtype=f32, value=1}
# CHECK-NEXT: %4: f32[N,6] = add(%2, %3)
# CHECK-NEXT: %5: f32[] = constant() {shape=[], dtype=f32, value=2}
# CHECK-NEXT: %6: f32[N,6] = mul(%4, %5)
# CHECK-NEXT: %7: f32[] = constant() {shape=[], dtype=f32}
# CHECK-NEXT: %8: f32[N,6] = add(%6, %7)
# CHECK-NEXT: %9: f32[N,6] = softmax(%8) {dim=1}
# CHECK-NEXT: %10: f32[N,1] = mean(%8) {dims=[-1], keepdim=true}
# CHECK-NEXT: %11: f32[N,6] = gelu(%8) {approximate="tanh"}
# CHECK-NEXT: %12: f32[6,N] = permute(%8) {dims=[1, 0]}
# CHECK-NEXT: %13: f32[N,13] = concat(%9, %10, %11) {dim=1}
# CHECK-NEXT: return %13, %12
# CHECK-NEXT: }

# clamp / torch.clamp as maximum and minimum with scalars, masked_fill with float('-inf')
# (a constant of value -inf), expand with -1 keeping a dim, expand_as.
# RUN: ctorchc -O0 %s --input x=f32[N,4] --input y=f32[1,4] | %FileCheck %s
import torch
import torch.nn as nn


class Net(nn.Module):
    def forward(self, x, y):
        a = x.clamp(min=0.0)
        b = torch.clamp(x, -0.5, 0.5)
        c = x.masked_fill(x < -1.0, float('-inf')).softmax(dim=-1)
        d = y.expand(x.shape[0], -1) + x
        e = y.expand_as(x) * 2
        return a, b, c, d, e
# CHECK: graph @forward(%x: f32[N,4], %y: f32[1,4]) -> (output0: f32[N,4], output1: f32[N,4], output2: f32[N,4], output3: f32[N,4], output4: f32[N,4]) {
# CHECK-NEXT: %0: f32[] = constant() {shape=[], dtype=f32}
# CHECK-NEXT: %1: f32[N,4] = maximum(%x, %0)
# CHECK-NEXT: %2: f32[] = constant() {shape=[], dtype=f32, value=-0.5}
# CHECK-NEXT: %3: f32[N,4] = maximum(%x, %2)
# CHECK-NEXT: %4: f32[] = constant() {shape=[], dtype=f32, value=0.5}
# CHECK-NEXT: %5: f32[N,4] = minimum(%3, %4)
# CHECK-NEXT: %6: f32[] = constant() {shape=[], dtype=f32, value=-1}
# CHECK-NEXT: %7: bool[N,4] = lt(%x, %6)
# CHECK-NEXT: %8: f32[] = constant() {shape=[], dtype=f32, value=-inf}
# CHECK-NEXT: %9: f32[N,4] = where(%7, %8, %x)
# CHECK-NEXT: %10: f32[N,4] = softmax(%9) {dim=-1}
# CHECK-NEXT: %11: f32[N,4] = expand(%y) {shape=[N, 4]}
# CHECK-NEXT: %12: f32[N,4] = add(%11, %x)
# CHECK-NEXT: %13: f32[N,4] = expand(%y) {shape=[N, 4]}
# CHECK-NEXT: %14: f32[] = constant() {shape=[], dtype=f32, value=2}
# CHECK-NEXT: %15: f32[N,4] = mul(%13, %14)
# CHECK-NEXT: return %1, %5, %10, %12, %15
# CHECK-NEXT: }

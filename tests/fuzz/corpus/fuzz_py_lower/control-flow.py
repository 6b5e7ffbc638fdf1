# `if`/`elif`/`else` on constructor arguments, strings and shapes, a conditional expression,
# a filtered comprehension, `assert` on a shape, `not`/`and`, `continue` and `break` in
# unrolled loops: each decided at compile time, so only the taken path is lowered.
# RUN: ctorchc -O0 %s --input x=f32[N,3,4] | %FileCheck %s
# RUN: ctorchc -O0 %s --input x=f32[N,1,4] | %FileCheck %s --check-prefix=ONE
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self, d=4, use_norm=False, act="gelu"):
        super().__init__()
        self.act = act
        if use_norm:
            self.norm = nn.LayerNorm(d)
        else:
            self.norm = nn.Identity()
        self.proj = nn.Linear(d, d) if d > 2 else nn.Identity()
        self.scales = [0.5 * (i + 1) for i in range(3) if i != 1]

    def forward(self, x):
        assert x.shape[-1] == 4, "expects 4 features"
        if x.dim() == 3 and x.shape[1] > 1:
            x = x.mean(dim=1)
        elif x.dim() == 3:
            x = x[:, 0]
        if self.act == "gelu":
            x = F.gelu(self.proj(self.norm(x)))
        elif self.act == "relu":
            x = F.relu(x)
        for s in self.scales:
            if s > 1.0 and not self.act == "relu":
                continue
            x = x * s
        for k in range(10):
            if k >= 2:
                break
            x = x + k
        y = x if x.shape[0] == x.shape[0] else None
        return y
# CHECK: graph @forward(%x: f32[N,3,4], %proj.weight: f32[4,4], %proj.bias: f32[4]) -> (output: f32[N,4])
# CHECK-NEXT: %0: f32[N,4] = mean(%x) {dims=[1]}
# CHECK-NEXT: %1: f32[N,4] = linear(%0, %proj.weight, %proj.bias)
# CHECK-NEXT: %2: f32[N,4] = gelu(%1)
# CHECK-NEXT: constant() {shape=[], dtype=f32, value=0.5}
# CHECK-NEXT: %4: f32[N,4] = mul(%2, %3)
# CHECK-NEXT: constant() {shape=[], dtype=f32}
# CHECK-NEXT: %6: f32[N,4] = add(%4, %5)
# CHECK-NEXT: constant() {shape=[], dtype=f32, value=1}
# CHECK-NEXT: %8: f32[N,4] = add(%6, %7)
# CHECK-NEXT: return %8
# ONE: %0: f32[N,1,4] = slice(%x) {dim=1, start=0, end=1}
# ONE-NEXT: %1: f32[N,4] = reshape(%0) {shape=[N, 4]}
# ONE-NEXT: linear(%1, %proj.weight, %proj.bias)

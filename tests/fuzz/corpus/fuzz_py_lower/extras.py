# register_buffer (after the parameters in state_dict order), nn.LeakyReLU and F.leaky_relu
# as where(x > 0, x, slope * x), masked_fill as where, max/min with dim as (values, indices)
# (argmin as argmax of the negation), conversions (.float(), .to(dtype), .long()), mse_loss
# and l1_loss with their reductions.
# RUN: ctorchc -O0 %s --input x=f32[N,4] --input target=f32[N,4] | %FileCheck %s
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("offset", torch.ones(4) * 0.5)
        self.fc = nn.Linear(4, 4)
        self.w = nn.Parameter(torch.rand(4))
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x, target):
        h = self.act(self.fc(x)) + self.offset * self.w
        h = F.leaky_relu(h, negative_slope=0.1)
        h = h.masked_fill(h < 0, -1.0)
        values, idx = h.max(dim=1)
        low, where = h.min(1, keepdim=True)
        return (values, idx.float(), low, where.to(torch.float32), h.max(),
                F.mse_loss(h, target), F.l1_loss(h, target, reduction='sum'), idx.long())
# CHECK: param w: f32[4] init=uniform(0,1)
# CHECK-NEXT: buffer offset: f32[4] init=constant(0.5)
# CHECK-NEXT: param fc.weight: f32[4,4] init=uniform(-0.5,0.5)
# CHECK-NEXT: param fc.bias: f32[4] init=uniform(-0.5,0.5)
# CHECK-EMPTY:
# CHECK-NEXT: graph @forward(%x: f32[N,4], %target: f32[N,4], %w: f32[4], %offset: f32[4], %fc.weight: f32[4,4], %fc.bias: f32[4]) -> (output0: f32[N], output1: f32[N], output2: f32[N,1], output3: f32[N,1], output4: f32[], output5: f32[], output6: f32[], output7: i64[N]) {
# CHECK-NEXT: %0: f32[N,4] = linear(%x, %fc.weight, %fc.bias)
# CHECK-NEXT: %1: f32[] = constant() {shape=[], dtype=f32}
# CHECK-NEXT: %2: bool[N,4] = gt(%0, %1)
# CHECK-NEXT: %3: f32[] = constant() {shape=[], dtype=f32, value=0.2}
# CHECK-NEXT: %4: f32[N,4] = mul(%0, %3)
# CHECK-NEXT: %5: f32[N,4] = where(%2, %0, %4)
# CHECK-NEXT: %6: f32[4] = mul(%offset, %w)
# CHECK-NEXT: %7: f32[N,4] = add(%5, %6)
# CHECK-NEXT: %8: f32[] = constant() {shape=[], dtype=f32}
# CHECK-NEXT: %9: bool[N,4] = gt(%7, %8)
# CHECK-NEXT: %10: f32[] = constant() {shape=[], dtype=f32, value=0.1}
# CHECK-NEXT: %11: f32[N,4] = mul(%7, %10)
# CHECK-NEXT: %12: f32[N,4] = where(%9, %7, %11)
# CHECK-NEXT: %13: f32[] = constant() {shape=[], dtype=f32}
# CHECK-NEXT: %14: bool[N,4] = lt(%12, %13)
# CHECK-NEXT: %15: f32[] = constant() {shape=[], dtype=f32, value=-1}
# CHECK-NEXT: %16: f32[N,4] = where(%14, %15, %12)
# CHECK-NEXT: %17: f32[N] = amax(%16) {dims=[1]}
# CHECK-NEXT: %18: i64[N] = argmax(%16) {dim=1}
# CHECK-NEXT: %19: f32[N,1] = amin(%16) {dims=[1], keepdim=true}
# CHECK-NEXT: %20: f32[N,4] = neg(%16)
# CHECK-NEXT: %21: i64[N,1] = argmax(%20) {dim=1, keepdim=true}
# CHECK-NEXT: %22: f32[N] = cast(%18) {dtype=f32}
# CHECK-NEXT: %23: f32[N,1] = cast(%21) {dtype=f32}
# CHECK-NEXT: %24: f32[] = amax(%16)
# CHECK-NEXT: %25: f32[N,4] = sub(%16, %target)
# CHECK-NEXT: %26: f32[N,4] = mul(%25, %25)
# CHECK-NEXT: %27: f32[] = mean(%26)
# CHECK-NEXT: %28: f32[N,4] = sub(%16, %target)
# CHECK-NEXT: %29: f32[N,4] = abs(%28)
# CHECK-NEXT: %30: f32[] = sum(%29)
# CHECK-NEXT: return %17, %22, %19, %23, %24, %27, %30, %18
# CHECK-NEXT: }

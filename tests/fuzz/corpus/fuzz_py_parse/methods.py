# Tensor methods and torch functions: size() unpacking, permute, transpose,
# contiguous, unsqueeze/squeeze, chunk, split, torch.stack, tanh/sigmoid/exp, comparisons to
# bool tensors combined with & ~ |, torch.where with a scalar, argmax, amax over a tuple of
# dims, .T.
# RUN: ctorchc -O0 %s --input x=f32[N,6,4] | %FileCheck %s
import torch
import torch.nn as nn


class Net(nn.Module):
    def forward(self, x):
        n, c, l = x.size()
        a = x.permute(0, 2, 1).contiguous()
        b = x.transpose(-2, -1).unsqueeze(1).squeeze(1)
        q, k = x.chunk(2, dim=-1)
        parts = x.split(3, 1)
        s = torch.stack(parts, dim=0)
        y = torch.tanh(q) + k.sigmoid() - torch.exp(-k)
        mask = (y > 0) & ~(y >= 1.0) | (y == 0.5)
        z = torch.where(mask, y, 0.0)
        idx = z.argmax(dim=-1)
        top = z.amax(dim=(1, 2))
        return a, b, s, z, idx, top, x[0].T
# CHECK: graph @forward(%x: f32[N,6,4]) -> (output0: f32[N,4,6], output1: f32[N,4,6], output2: f32[2,N,3,4], output3: f32[N,6,2], output4: i64[N,6], output5: f32[N], output6: f32[4,6]) {
# CHECK-NEXT: %0: f32[N,4,6] = permute(%x) {dims=[0, 2, 1]}
# CHECK-NEXT: %1: f32[N,4,6] = permute(%x) {dims=[0, 2, 1]}
# CHECK-NEXT: %2: f32[N,1,4,6] = reshape(%1) {shape=[N, 1, 4, 6]}
# CHECK-NEXT: %3: f32[N,4,6] = reshape(%2) {shape=[N, 4, 6]}
# CHECK-NEXT: %4: f32[N,6,2] = slice(%x) {dim=2, start=0, end=2}
# CHECK-NEXT: %5: f32[N,6,2] = slice(%x) {dim=2, start=2, end=4}
# CHECK-NEXT: %6: f32[N,3,4] = slice(%x) {dim=1, start=0, end=3}
# CHECK-NEXT: %7: f32[N,3,4] = slice(%x) {dim=1, start=3, end=6}
# CHECK-NEXT: %8: f32[1,N,3,4] = reshape(%6) {shape=[1, N, 3, 4]}
# CHECK-NEXT: %9: f32[1,N,3,4] = reshape(%7) {shape=[1, N, 3, 4]}
# CHECK-NEXT: %10: f32[2,N,3,4] = concat(%8, %9) {dim=0}
# CHECK-NEXT: %11: f32[N,6,2] = tanh(%4)
# CHECK-NEXT: %12: f32[N,6,2] = sigmoid(%5)
# CHECK-NEXT: %13: f32[N,6,2] = add(%11, %12)
# CHECK-NEXT: %14: f32[N,6,2] = neg(%5)
# CHECK-NEXT: %15: f32[N,6,2] = exp(%14)
# CHECK-NEXT: %16: f32[N,6,2] = sub(%13, %15)
# CHECK-NEXT: %17: f32[] = constant() {shape=[], dtype=f32}
# CHECK-NEXT: %18: bool[N,6,2] = gt(%16, %17)
# CHECK-NEXT: %19: f32[] = constant() {shape=[], dtype=f32, value=1}
# CHECK-NEXT: %20: bool[N,6,2] = ge(%16, %19)
# CHECK-NEXT: %21: bool[N,6,2] = logical_not(%20)
# CHECK-NEXT: %22: bool[N,6,2] = logical_and(%18, %21)
# CHECK-NEXT: %23: f32[] = constant() {shape=[], dtype=f32, value=0.5}
# CHECK-NEXT: %24: bool[N,6,2] = eq(%16, %23)
# CHECK-NEXT: %25: bool[N,6,2] = logical_or(%22, %24)
# CHECK-NEXT: %26: f32[] = constant() {shape=[], dtype=f32}
# CHECK-NEXT: %27: f32[N,6,2] = where(%25, %16, %26)
# CHECK-NEXT: %28: i64[N,6] = argmax(%27) {dim=-1}
# CHECK-NEXT: %29: f32[N] = amax(%27) {dims=[1, 2]}
# CHECK-NEXT: %30: f32[1,6,4] = slice(%x) {dim=0, start=0, end=1}
# CHECK-NEXT: %31: f32[6,4] = reshape(%30) {shape=[6, 4]}
# CHECK-NEXT: %32: f32[4,6] = permute(%31) {dims=[1, 0]}
# CHECK-NEXT: return %0, %3, %10, %27, %28, %29, %32
# CHECK-NEXT: }

# Tensor indexing lowers to slice nodes (bounds clamped as Python does, negative indices
# counted from the end of a constant dim) and one reshape that drops integer-indexed dims and
# inserts None dims; a full `:` emits nothing. Tuples (x.shape[1:]) index at compile time.
# RUN: ctorchc -O0 %s --input x=f32[N,6,8] | %FileCheck %s
import torch
import torch.nn as nn


class Net(nn.Module):
    def forward(self, x):
        a = x[:, 1:-1:2, ::3]
        b = x[..., -1]
        c = x[:, None, 2, :100]
        d = x[0]
        e = x[:, :, :]
        rows, cols = x.shape[1:]
        f = x[:, -2:, cols - 2:]
        return a, b, c, d, e, f
# CHECK: -> (output0: f32[N,2,3], output1: f32[N,6], output2: f32[N,1,8], output3: f32[6,8], output4: f32[N,6,8], output5: f32[N,2,2])
# CHECK-NEXT: %0: f32[N,2,8] = slice(%x) {dim=1, start=1, end=5, step=2}
# CHECK-NEXT: %1: f32[N,2,3] = slice(%0) {dim=2, start=0, end=8, step=3}
# CHECK-NEXT: %2: f32[N,6,1] = slice(%x) {dim=2, start=7, end=8}
# CHECK-NEXT: %3: f32[N,6] = reshape(%2) {shape=[N, 6]}
# CHECK-NEXT: %4: f32[N,1,8] = slice(%x) {dim=1, start=2, end=3}
# CHECK-NEXT: %5: f32[N,1,8] = reshape(%4) {shape=[N, 1, 8]}
# CHECK-NEXT: %6: f32[1,6,8] = slice(%x) {dim=0, start=0, end=1}
# CHECK-NEXT: %7: f32[6,8] = reshape(%6) {shape=[6, 8]}
# CHECK-NEXT: %8: f32[N,2,8] = slice(%x) {dim=1, start=4, end=6}
# CHECK-NEXT: %9: f32[N,2,2] = slice(%8) {dim=2, start=6, end=8}
# CHECK-NEXT: return %1, %3, %5, %7, %x, %9

# F.cross_entropy over [N, C] logits: log_softmax over the classes, one_hot of i64
# class indices (or class probabilities as they are), mul, sum over classes, neg, then the
# reduction ('mean' by default, 'none', 'sum').
# RUN: ctorchc -O0 %s --input x=f32[N,4] --input target=i64[N] --input probs=f32[N,3] | %FileCheck %s
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x, target, probs):
        logits = self.fc(x)
        loss = F.cross_entropy(logits, target)
        per_sample = F.cross_entropy(logits, target, reduction='none')
        soft = F.cross_entropy(logits, probs, reduction='sum')
        return loss, per_sample, soft
# CHECK: graph @forward(%x: f32[N,4], %target: i64[N], %probs: f32[N,3], %fc.weight: f32[3,4], %fc.bias: f32[3]) -> (output0: f32[], output1: f32[N], output2: f32[]) {
# CHECK-NEXT: %0: f32[N,3] = linear(%x, %fc.weight, %fc.bias)
# CHECK-NEXT: %1: f32[N,3] = log_softmax(%0) {dim=1}
# CHECK-NEXT: %2: f32[N,3] = one_hot(%target) {num_classes=3}
# CHECK-NEXT: %3: f32[N,3] = mul(%2, %1)
# CHECK-NEXT: %4: f32[N] = sum(%3) {dims=[1]}
# CHECK-NEXT: %5: f32[N] = neg(%4)
# CHECK-NEXT: %6: f32[] = mean(%5)
# CHECK-NEXT: %7: f32[N,3] = log_softmax(%0) {dim=1}
# CHECK-NEXT: %8: f32[N,3] = one_hot(%target) {num_classes=3}
# CHECK-NEXT: %9: f32[N,3] = mul(%8, %7)
# CHECK-NEXT: %10: f32[N] = sum(%9) {dims=[1]}
# CHECK-NEXT: %11: f32[N] = neg(%10)
# CHECK-NEXT: %12: f32[N,3] = log_softmax(%0) {dim=1}
# CHECK-NEXT: %13: f32[N,3] = mul(%probs, %12)
# CHECK-NEXT: %14: f32[N] = sum(%13) {dims=[1]}
# CHECK-NEXT: %15: f32[N] = neg(%14)
# CHECK-NEXT: %16: f32[] = sum(%15)
# CHECK-NEXT: return %6, %11, %16
# CHECK-NEXT: }

# Sequential children named 0, 1, ...; a user submodule with a constructor argument and a
# default; Flatten, view(x.size(0), -1), cat, mean, softmax, Python scalars as rank-0 constants,
# a tuple result. Parameters follow PyTorch's state_dict order and names.
# RUN: ctorchc -O0 %s --input x=f32[N,3,16,16] --input y=f32[1,5] | %FileCheck %s
import torch
from torch import nn
import torch.nn.functional as F
from typing import Tuple


class Block(nn.Module):
    def __init__(self, c, hidden=8):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(c, hidden), nn.GELU(), nn.Dropout(0.1), nn.Linear(hidden, c))
        self.scale = 0.5
    def forward(self, x):
        return x + self.net(x) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, kernel_size=3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(8, 8, 3, stride=2, groups=2, bias=False), nn.AvgPool2d(2, stride=1),
        )
        self.flat = nn.Flatten()
        self.block = Block(8)
        self.head = nn.Linear(8, 4)
    def forward(self, x, y):
        h = self.features(x)
        h = h.view(x.size(0), -1)
        h = torch.flatten(h, 1)
        h = self.block(h.reshape(-1, 8))
        a, b = h, h * 2.0
        z = torch.cat([a, b], dim=1)
        m = z.mean(dim=1, keepdim=True)
        s = F.softmax(self.head(h), dim=-1)
        return s - 1, m @ y, F.log_softmax(z, 1).sum()
# CHECK: module @net
# CHECK: param features.0.weight: f32[8,3,3,3] init=uniform(-0.19245,0.19245)
# CHECK-NEXT: param features.0.bias: f32[8]
# CHECK-NEXT: param features.3.weight: f32[8,4,3,3] init=uniform(-0.166667,0.166667)
# CHECK-NEXT: param block.net.0.weight: f32[8,8] init=uniform(-0.353553,0.353553)
# CHECK-NEXT: param block.net.0.bias: f32[8]
# CHECK-NEXT: param block.net.3.weight: f32[8,8]
# CHECK-NEXT: param block.net.3.bias: f32[8]
# CHECK-NEXT: param head.weight: f32[4,8]
# CHECK-NEXT: param head.bias: f32[4]
# CHECK: graph @forward(%x: f32[N,3,16,16], %y: f32[1,5], %features.0.weight: {{.*}}) -> (output0: f32[4*N,4], output1: f32[4*N,5], output2: f32[])
# CHECK: conv2d(%x, %features.0.weight, %features.0.bias) {padding=[1, 1]}
# CHECK-NEXT: relu
# CHECK-NEXT: max_pool2d(%1) {kernel_size=[2, 2], stride=[2, 2]}
# CHECK-NEXT: conv2d(%2, %features.3.weight) {stride=[2, 2], groups=2}
# CHECK-NEXT: avg_pool2d(%3) {kernel_size=[2, 2], stride=[1, 1]}
# CHECK-NEXT: %5: f32[N,32] = reshape(%4) {shape=[N, 32]}
# CHECK: %7: f32[4*N,8] = reshape(%6) {shape=[4*N, 8]}
# CHECK-NEXT: linear(%7, %block.net.0.weight, %block.net.0.bias)
# CHECK-NEXT: gelu
# CHECK-NEXT: %10: f32[4*N,8] = dropout(%9) {p=0.1}
# CHECK-NEXT: linear(%10, %block.net.3.weight, %block.net.3.bias)
# CHECK-NEXT: %12: f32[] = constant() {shape=[], dtype=f32, value=0.5}
# CHECK-NEXT: mul(%11, %12)
# CHECK-NEXT: add(%7, %13)
# CHECK: %17: f32[4*N,16] = concat(%14, %16) {dim=1}
# CHECK-NEXT: %18: f32[4*N,1] = mean(%17) {dims=[1], keepdim=true}
# CHECK: softmax(%19) {dim=-1}
# CHECK: %23: f32[4*N,5] = matmul(%18, %y)
# CHECK: %25: f32[] = sum(%24)
# CHECK-NEXT: return %22, %23, %25

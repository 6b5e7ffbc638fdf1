# nn.Parameter(torch.randn/ones/zeros(...) [* k]) with PyTorch's init spec (requires_grad=False:
# not trained), a module's own parameters registered before its children's (state_dict order);
# BatchNorm1d(affine=False) with constant scale and shift, LayerNorm over two dims without
# affine, Embedding keywords with a negative padding_idx, AdaptiveAvgPool2d as avg_pool2d or a
# mean, LogSoftmax(dim=1), GELU's exact default.
# RUN: ctorchc -O0 %s --input x=f32[N,3,4] --input tokens=i64[N,7] --input img=f32[N,2,6,8] | %FileCheck %s
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.cls = nn.Parameter(torch.randn(1, 4) * 0.02)
        self.frozen = nn.Parameter(torch.ones(4), requires_grad=False)
        self.bn = nn.BatchNorm1d(4, eps=1e-3, affine=False)
        self.ln = nn.LayerNorm([3, 4], elementwise_affine=False)
        self.emb = nn.Embedding(num_embeddings=10, embedding_dim=4, padding_idx=-1)
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.sm = nn.LogSoftmax(dim=1)
        self.gelu = nn.GELU()
        self.bias = nn.Parameter(torch.zeros(4))

    def forward(self, x, tokens, img):
        h = self.ln(x) + self.cls + self.frozen
        v = self.bn(h.mean(1)) + self.emb(tokens).mean(dim=1) + self.bias
        p = self.pool(img)
        return self.sm(self.gelu(v)), p, F.adaptive_avg_pool2d(img, (1, 1))
# CHECK: param cls: f32[1,4] init=normal(0,0.02)
# CHECK-NEXT: buffer frozen: f32[4] init=ones
# CHECK-NEXT: param bias: f32[4] init=zeros
# CHECK-NEXT: buffer bn.running_mean: f32[4] init=zeros
# CHECK-NEXT: buffer bn.running_var: f32[4] init=ones
# CHECK-NEXT: buffer bn.num_batches_tracked: i64[] init=zeros
# CHECK-NEXT: param emb.weight: f32[10,4] init=normal_pad(0,1,9)
# CHECK-EMPTY:
# CHECK-NEXT: graph @forward
# CHECK-NEXT: %0: f32[N,3,4] = layer_norm(%x) {normalized_shape=[3, 4]}
# CHECK: %4: f32[4] = constant() {shape=[4], dtype=f32, value=1}
# CHECK-NEXT: %5: f32[4] = constant() {shape=[4], dtype=f32}
# CHECK-NEXT: %6: f32[N,4] = batch_norm(%3, %4, %5, %bn.running_mean, %bn.running_var) {eps=0.001}
# CHECK-NEXT: %7: f32[N,7,4] = embedding(%tokens, %emb.weight) {padding_idx=9}
# CHECK: %11: f32[N,2,2,2] = avg_pool2d(%img) {kernel_size=[3, 4], stride=[3, 4]}
# CHECK-NEXT: %12: f32[N,4] = gelu(%10)
# CHECK-NEXT: %13: f32[N,4] = log_softmax(%12) {dim=1}
# CHECK-NEXT: %14: f32[N,2,1,1] = mean(%img) {dims=[2, 3], keepdim=true}

# nn.Dropout and F.dropout lower to the dropout op: the identity in @forward, x * dropout_mask
# in the training graphs (a new mask per node and step). p=0 and training=False are the
# identity; F.dropout's p defaults to 0.5 and nn.Dropout's too (the printer omits p=0.5);
# training=self.training is the op's own meaning. -O2 removes dropout from @forward.
# --no-dropout trains as with p=0: no masks (and plain SGD then needs no step counter).
# RUN: ctorchc -O0 %s --input x=f32[N,4] | %FileCheck %s --check-prefix=FWD
# RUN: ctorchc -O0 %s --input x=f32[N,4] --train --loss mse_loss --target t=f32[N,4] \
# RUN:   --optim sgd --lr 0.1 | %FileCheck %s --check-prefix=TRAIN
# RUN: ctorchc -O0 %s --input x=f32[N,4] --train --loss mse_loss --target t=f32[N,4] \
# RUN:   --optim sgd --lr 0.1 --no-dropout | %FileCheck %s --check-prefix=OFF
# RUN: ctorchc -O2 %s --input x=f32[N,4] | %FileCheck %s --check-prefix=O2
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4, bias=False)
        self.drop = nn.Dropout(0.5)
        self.off = nn.Dropout(p=0.0)
        self.dflt = nn.Dropout(inplace=True)

    def forward(self, x):
        h = self.drop(self.fc(x))
        h = self.off(h)
        h = F.dropout(h, 0.25)
        h = F.dropout(h, p=0.3, training=False)
        h = F.dropout(h, training=True)
        h = F.dropout(h, 0.2, self.training)
        h = F.dropout(h, training=self.training, p=0.1)
        return self.dflt(h)
# FWD: graph @forward(%x: f32[N,4], %fc.weight: f32[4,4]) -> (output: f32[N,4]) {
# FWD-NEXT: %0: f32[N,4] = linear(%x, %fc.weight)
# FWD-NEXT: %1: f32[N,4] = dropout(%0){{$}}
# FWD-NEXT: %2: f32[N,4] = dropout(%1) {p=0.25}
# FWD-NEXT: %3: f32[N,4] = dropout(%2){{$}}
# FWD-NEXT: %4: f32[N,4] = dropout(%3) {p=0.2}
# FWD-NEXT: %5: f32[N,4] = dropout(%4) {p=0.1}
# FWD-NEXT: %6: f32[N,4] = dropout(%5){{$}}
# FWD-NEXT: return %6

# TRAIN: state step: f32[] init=zeros
# TRAIN: graph @forward(
# TRAIN: dropout(%0)
# TRAIN: graph @train_step(%x: f32[N,4], %t: f32[N,4], %fc.weight: f32[4,4], %step: f32[]) -> (loss: f32[], new.fc.weight: f32[4,4], new.step: f32[])
# TRAIN-NEXT: %0: f32[N,4] = linear(%x, %fc.weight)
# TRAIN-NEXT: %[[M0:[0-9]+]]: f32[N,4] = dropout_mask(%step) {shape=[N, 4], dtype=f32, p=0.5}
# TRAIN-NEXT: %[[Y0:[0-9]+]]: f32[N,4] = mul(%0, %[[M0]])
# TRAIN-NEXT: %[[M1:[0-9]+]]: f32[N,4] = dropout_mask(%step) {shape=[N, 4], dtype=f32, p=0.25, seed=1}
# TRAIN-NEXT: %[[Y1:[0-9]+]]: f32[N,4] = mul(%[[Y0]], %[[M1]])
# TRAIN-NEXT: %[[M2:[0-9]+]]: f32[N,4] = dropout_mask(%step) {shape=[N, 4], dtype=f32, p=0.5, seed=2}
# TRAIN-NEXT: %[[Y2:[0-9]+]]: f32[N,4] = mul(%[[Y1]], %[[M2]])
# TRAIN-NEXT: %[[M3:[0-9]+]]: f32[N,4] = dropout_mask(%step) {shape=[N, 4], dtype=f32, p=0.2, seed=3}
# TRAIN-NEXT: %[[Y3:[0-9]+]]: f32[N,4] = mul(%[[Y2]], %[[M3]])
# TRAIN-NEXT: %[[M4:[0-9]+]]: f32[N,4] = dropout_mask(%step) {shape=[N, 4], dtype=f32, p=0.1, seed=4}
# TRAIN-NEXT: %[[Y4:[0-9]+]]: f32[N,4] = mul(%[[Y3]], %[[M4]])
# TRAIN-NEXT: %[[M5:[0-9]+]]: f32[N,4] = dropout_mask(%step) {shape=[N, 4], dtype=f32, p=0.5, seed=5}
# TRAIN-NEXT: mul(%[[Y4]], %[[M5]])
# TRAIN-NOT: dropout(
# The backward multiplies by the same masks.
# TRAIN: mul(%{{[0-9]+}}, %[[M5]])
# TRAIN: mul(%{{[0-9]+}}, %[[M0]])

# OFF-NOT: state step
# OFF: graph @forward(
# OFF: dropout(%0) {p=0}
# OFF: graph @train_step(%x: f32[N,4], %t: f32[N,4], %fc.weight: f32[4,4]) -> (loss: f32[], new.fc.weight: f32[4,4])
# OFF-NOT: dropout

# O2: graph @forward(%x: f32[N,4], %fc.weight: f32[4,4]) -> (output: f32[N,4]) {
# O2-NEXT: %0: f32[N,4] = linear(%x, %fc.weight)
# O2-NEXT: return %0

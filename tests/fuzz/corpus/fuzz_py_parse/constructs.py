"""Not an example: a model that exercises the frontend constructs whose lowering does
arithmetic of its own (indexing with negative indices, steps, '...' and None; split, chunk,
stack; comparisons and where; BatchNorm1d on rank 2 and 3, BatchNorm2d without affine,
LayerNorm over two dims; Embedding with padding_idx; F.cross_entropy and F.nll_loss with class
indices), so the interpreter's output is checked against PyTorch's
(ctorchc tests/fixtures/constructs/model.py --class Constructs --input x=f32[N,6,8] --input tokens=i64[N,5]
--input target=i64[N]). Runs under PyTorch unchanged."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Constructs(nn.Module):
    def __init__(self):
        super().__init__()
        self.bn_seq = nn.BatchNorm1d(6, eps=1e-3)
        self.bn_vec = nn.BatchNorm1d(num_features=8, momentum=0.5)
        self.bn_img = nn.BatchNorm2d(2, affine=False)
        self.ln = nn.LayerNorm((6, 8))
        self.emb = nn.Embedding(10, 8, padding_idx=0)
        self.head = nn.Linear(8, 4)
        self.scale = nn.Parameter(torch.ones(8) * 0.5)

    def forward(self, x, tokens, target):
        a = x[:, 1:-1:2, ::3]                  # [N, 2, 3]
        b = x[..., -1]                          # [N, 6]
        c = x[:, None, 2, :4]                   # [N, 1, 4]
        first, second = x.chunk(2, dim=1)       # [N, 3, 8] each
        parts = torch.split(x, 3, dim=2)        # [N, 6, 3], [N, 6, 3], [N, 6, 2]
        stacked = torch.stack([first, second], dim=1).flatten(1, 2)
        masked = torch.where(x > 0.25, x, x * 0.1)
        normed = self.ln(self.bn_seq(masked)) * self.scale
        img = self.bn_img(x.view(x.shape[0], 2, 3, 8))
        pooled = self.bn_vec(normed.mean(dim=1) + self.emb(tokens).sum(1))
        logits = self.head(pooled)
        ce = F.cross_entropy(logits, target)
        nll = F.nll_loss(F.log_softmax(logits, dim=1), target, reduction='sum')
        summary = torch.cat([a.flatten(1), b, c.squeeze(1), parts[2].sum(-1),
                             stacked.mean(dim=(1, 2), keepdim=True).squeeze(-1),
                             img.permute(0, 2, 3, 1).reshape(x.shape[0], -1)], dim=1)
        return summary, logits, ce, nll


class Extras(nn.Module):
    """register_buffer, LeakyReLU (module and function), masked_fill, max/min with and without
    dim (values and indices), dtype conversions, mse_loss and l1_loss
    (ctorchc ... --class Extras --input x=f32[N,4] --input target=f32[N,4])."""

    def __init__(self):
        super().__init__()
        self.register_buffer("offset", torch.ones(4) * 0.5)
        self.fc = nn.Linear(4, 4)
        self.w = nn.Parameter(torch.rand(4))
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x, target):
        h = self.act(self.fc(x)) + self.offset * self.w
        h = F.leaky_relu(h, negative_slope=0.1)
        h = h.masked_fill(h > 1.5, 1.5)
        values, idx = h.max(dim=1)
        low, where = h.min(1, keepdim=True)
        return (values, idx.float(), low, where.to(torch.float32), h.max(),
                F.mse_loss(h, target), F.l1_loss(h, target, reduction='sum'), idx)


class Pooling(nn.Module):
    """Pooling options and convolution padding modes: MaxPool2d with padding, dilation and
    ceil_mode, AvgPool2d with count_include_pad=False, the functional forms, Conv2d with
    padding='same' and 'valid', AdaptiveAvgPool2d to a divisor of the input
    (ctorchc ... --class Pooling --input x=f32[N,2,9,9])."""

    def __init__(self):
        super().__init__()
        self.same = nn.Conv2d(2, 3, kernel_size=(3, 5), padding='same', dilation=(2, 1))
        self.valid = nn.Conv2d(3, 2, 3, padding='valid', bias=False)
        self.mp = nn.MaxPool2d(3, stride=2, padding=1, dilation=1, ceil_mode=True)
        self.ap = nn.AvgPool2d(kernel_size=2, stride=2, padding=1, count_include_pad=False)
        self.adapt = nn.AdaptiveAvgPool2d((7, 1))

    def forward(self, x):
        h = self.same(x)
        a = self.mp(h)
        b = self.ap(h)
        c = F.max_pool2d(h, kernel_size=2, dilation=2)
        d = F.avg_pool2d(h, 3, 1, 1, ceil_mode=True, count_include_pad=True)
        e = self.adapt(self.valid(h))
        return a, b, c, d, e


class Elementwise(nn.Module):
    """clamp (method and function), masked_fill with float('-inf') before a softmax, expand
    and expand_as (ctorchc ... --class Elementwise --input x=f32[N,4] --input y=f32[1,4])."""

    def forward(self, x, y):
        a = x.clamp(min=0.0)
        b = torch.clamp(x, -0.5, 0.5)
        c = x.masked_fill(x < -1.5, float('-inf')).softmax(dim=-1)
        d = y.expand(x.shape[0], -1) + x
        e = y.expand_as(x) * 2
        return a, b, c, d, e

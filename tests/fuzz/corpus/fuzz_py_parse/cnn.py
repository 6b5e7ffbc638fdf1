from torch import nn
from typing import Tuple


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 6, 5), nn.ReLU(),
            nn.MaxPool2d(2, 2),
        )
        self.blocks = nn.ModuleList([nn.Linear(16, 16) for i in range(3)])

    def forward(self, x, y):
        x = self.features(x).view(-1, 16 * 5 * 5)
        for block in self.blocks:
            x = x + block(x) * 0.5 ** 2 @ y
        a, b = x.shape[0], \
            x.size(1)
        if a > 1 and not b < 2:
            x = x.mean(dim=-1, keepdim=True)
        return x, a // 2

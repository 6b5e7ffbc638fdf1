"""A model returning a tuple: its results are output0 and output1 (tuple.test)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Two(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        y = self.fc(x)
        return y, F.relu(y)

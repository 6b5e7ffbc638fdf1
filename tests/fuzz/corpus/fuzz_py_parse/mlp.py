import torch
import torch.nn as nn
import torch.nn.functional as F


class MLP(nn.Module):
    """A multi-layer perceptron."""

    def __init__(self, hidden: int = 256):
        super().__init__()
        self.fc1 = nn.Linear(784, hidden)
        self.fc2 = nn.Linear(hidden, 10)

    def forward(self, x):
        x = F.relu(self.fc1(x))  # hidden layer
        return self.fc2(x)

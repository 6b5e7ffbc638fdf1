"""MLP 784-256-128-10 for flattened 28x28 digits: ctorchc's first example
(ctorchc examples/mlp/model.py --input x=f32[N,784]); runs under PyTorch unchanged."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 128)
        self.fc3 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)

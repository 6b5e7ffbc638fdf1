"""A chain of elementwise ops over one tensor (bench/bench.py: the fused elementwise chain on 16M
floats): ctorchc fuses it into one loop that reads x once and writes the result once, so its
speed is bounded by memory bandwidth. Runs under PyTorch unchanged."""
import torch
import torch.nn as nn


class Chain(nn.Module):
    def forward(self, x):
        y = x * 1.5 + 0.25
        y = torch.relu(y) - x * 0.5
        return torch.sigmoid(y) * 2.0 - 1.0

"""The CNN of PyTorch's CIFAR-10 tutorial ("Training a Classifier"): 3x32x32 images, two
conv + max-pool stages, three fully connected layers
(ctorchc examples/cnn/model.py --input x=f32[N,3,32,32]); runs under PyTorch unchanged."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class MyNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)  # flatten all dimensions except batch
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x

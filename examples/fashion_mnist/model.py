"""LeNet-5 style CNN for Fashion-MNIST (28x28 grayscale, 10 classes). Plain PyTorch source: it runs
under PyTorch unchanged and compiles with
    ctorchc examples/fashion_mnist/model.py --input x=f32[N,1,28,28]
(add --train --loss cross_entropy --optim adam for the training package)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class FashionLeNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)

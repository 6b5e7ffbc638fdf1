"""An Elman RNN cell unrolled over a fixed-length sequence with `for t in range(T)`:
h = tanh(W_ih x_t + W_hh h), then a linear classifier on the last hidden state
(ctorchc examples/rnn/model.py --input x=f32[N,12,8]). Runs under PyTorch unchanged."""
import torch
import torch.nn as nn


class RNN(nn.Module):
    def __init__(self, input_size=8, hidden_size=32, num_classes=5):
        super().__init__()
        self.hidden_size = hidden_size
        self.i2h = nn.Linear(input_size, hidden_size)
        self.h2h = nn.Linear(hidden_size, hidden_size, bias=False)
        self.fc = nn.Linear(hidden_size, num_classes)

    def forward(self, x):
        batch, steps, _ = x.shape
        h = torch.zeros(batch, self.hidden_size)
        for t in range(steps):
            h = torch.tanh(self.i2h(x[:, t, :]) + self.h2h(h))
        return self.fc(h)

# Type annotations, docstrings, super(Net, self).__init__(), nn.functional / torch.nn.functional
# spelled out, and a forward input with a default: compiled with or without it (`is None`
# decided at compile time).
# RUN: ctorchc -O0 %s --input x=f32[N,4] | %FileCheck %s --check-prefix=ONE
# RUN: ctorchc -O0 %s --input x=f32[N,4] --input mask=f32[N,4] | %FileCheck %s --check-prefix=TWO
# RUN: not ctorchc -O0 %s 2>&1 | %FileCheck %s --check-prefix=NONE
from typing import Optional
import torch
from torch import nn


class Net(nn.Module):
    """Docstring."""

    def __init__(self, d: int = 4) -> None:
        super(Net, self).__init__()
        self.fc: nn.Linear = nn.Linear(d, d)
        self.n_layers = 2

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Forward docstring."""
        y = nn.functional.relu(self.fc(x))
        y = torch.nn.functional.softmax(y, dim=-1)
        if mask is not None:
            y = y * mask
        return y
# ONE: graph @forward(%x: f32[N,4], %fc.weight: f32[4,4], %fc.bias: f32[4]) -> (output: f32[N,4])
# ONE-NEXT: linear(%x, %fc.weight, %fc.bias)
# ONE-NEXT: relu
# ONE-NEXT: %2: f32[N,4] = softmax(%1) {dim=-1}
# ONE-NEXT: return %2
# TWO: graph @forward(%x: f32[N,4], %mask: f32[N,4], %fc.weight: f32[4,4], %fc.bias: f32[4])
# TWO: %3: f32[N,4] = mul(%2, %mask)
# TWO-NEXT: return %3
# NONE: optional-inputs.py:20:5: error: forward takes 1 to 2 inputs but 0 --input specs were given

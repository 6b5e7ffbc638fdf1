"""Generates the package training fixtures with PyTorch 1.13 (run with /usr/bin/python3): the
Tiny model's initial weights, a batch, and after each of two Adam steps (lr 0.01, cross entropy,
mean) the loss and the weights. Output: tests/lit/package/Inputs/train/."""
import importlib.util
import os
import sys

import torch
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "..", "fixtures"))
import safetensors_io  # noqa: E402

spec = importlib.util.spec_from_file_location("tiny", os.path.join(here, "tiny.py"))
tiny = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tiny)

torch.manual_seed(0)
model = tiny.Tiny()
out = os.path.join(here, "train")
os.makedirs(out, exist_ok=True)
safetensors_io.save(os.path.join(out, "weights.safetensors"), model.state_dict())
x = torch.randn(5, 8)
y = torch.tensor([0, 2, 1, 2, 0])
safetensors_io.save(os.path.join(out, "batch.safetensors"), {"x": x, "y": y})
opt = torch.optim.Adam(model.parameters(), lr=0.01)
for step in (1, 2):
    opt.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    safetensors_io.save(os.path.join(out, f"loss{step}.safetensors"), {"loss": loss.detach()})
    safetensors_io.save(os.path.join(out, f"weights{step}.safetensors"), model.state_dict())

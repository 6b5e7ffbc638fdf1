#!/usr/bin/python3
"""The PyTorch 1.13 side of the Fashion-MNIST main job (issue 7): the same model
(examples/fashion_mnist/model.py), initial weights (--init, the safetensors file ctorch's driver
writes), data order (the same splitmix64 Fisher-Yates shuffle as fmnist_data.c), normalization,
batch size and Adam settings as examples/fashion_mnist/train.c. Reports test accuracy per epoch
and training images/s (eager, --threads threads), and with --check-weights loads ctorch's trained
weights through load_state_dict and evaluates them.
    /usr/bin/python3 examples/fashion_mnist/train_torch.py --init build/fmnist/init.safetensors \
        --epochs 8 --threads 2 [--check-weights build/fmnist/weights.safetensors] [--json out]"""
import argparse
import gzip
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "fixtures"))
import safetensors_io  # noqa: E402
from model import FashionLeNet  # noqa: E402

MEAN, STD = 0.2860, 0.3530  # the training set's pixel mean and std (fmnist_data.h)
MASK64 = (1 << 64) - 1


def read_idx(path):
    """An IDX file (raw or gzip) as a uint8 numpy array with the header's dims."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise SystemExit(f"{path}: not an unsigned-byte IDX file")
    rank = raw[3]
    dims = struct.unpack(">" + "I" * rank, raw[4:4 + 4 * rank])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank)
    if data.size != int(np.prod(dims)):
        raise SystemExit(f"{path}: {data.size} data bytes, header says {int(np.prod(dims))}")
    return data.reshape(dims)


def find(data_dir, stem):
    for name in (stem, stem + ".gz"):
        if os.path.exists(os.path.join(data_dir, name)):
            return os.path.join(data_dir, name)
    raise SystemExit(f"{data_dir}: no {stem}[.gz]")


def normalize(images):
    """uint8 [N,28,28] -> f32 [N,1,28,28], the same f32 operations in the same order as C."""
    x = torch.from_numpy(images.astype(np.float32)).unsqueeze(1)
    return (x / np.float32(255.0) - np.float32(MEAN)) / np.float32(STD)


class SplitMix64:
    """The shuffle's random stream (fmnist_data.c: splitmix64)."""

    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)


def epoch_order(rng, n):
    """Fisher-Yates from the identity, one stream across epochs: fmnist_shuffle."""
    perm = list(range(n))
    for i in range(n - 1, 0, -1):
        j = rng.next() % (i + 1)
        perm[i], perm[j] = perm[j], perm[i]
    return torch.tensor(perm, dtype=torch.int64)


def evaluate(model, x, y, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            correct += int((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum())
    model.train()
    return correct / x.shape[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--init", help="initial weights (safetensors, state_dict keys); default: PyTorch's init")
    ap.add_argument("--save-init", help="write the initial weights used here to this file")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=int(os.environ.get("CTORCH_NUM_THREADS", "0")) or os.cpu_count())
    ap.add_argument("--train-limit", type=int, default=0, help="use only the first K training images")
    ap.add_argument("--test-limit", type=int, default=0, help="use only the first K test images")
    ap.add_argument("--save-weights", help="write the trained weights (state_dict keys) here")
    ap.add_argument("--check-weights", help="ctorch's trained weights: load_state_dict and evaluate")
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    xtr = read_idx(find(a.data, "train-images-idx3-ubyte"))
    ytr = read_idx(find(a.data, "train-labels-idx1-ubyte"))
    xte = read_idx(find(a.data, "t10k-images-idx3-ubyte"))
    yte = read_idx(find(a.data, "t10k-labels-idx1-ubyte"))
    if a.train_limit:
        xtr, ytr = xtr[:a.train_limit], ytr[:a.train_limit]
    if a.test_limit:
        xte, yte = xte[:a.test_limit], yte[:a.test_limit]
    xtr, xte = normalize(xtr), normalize(xte)
    ytr, yte = torch.from_numpy(ytr.astype(np.int64)), torch.from_numpy(yte.astype(np.int64))

    model = FashionLeNet()
    if a.init:
        model.load_state_dict(safetensors_io.load(a.init))
    if a.save_init:
        safetensors_io.save(a.save_init, model.state_dict())
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    rng = SplitMix64(a.seed)
    n = xtr.shape[0]
    result = {"threads": a.threads, "epochs": [], "batch_size": a.batch_size}
    print(f"pytorch {torch.__version__}: {n} training images, {xte.shape[0]} test images, "
          f"batch {a.batch_size}, Adam lr {a.lr}, {a.threads} threads")
    train_time = 0.0
    for epoch in range(1, a.epochs + 1):
        order = epoch_order(rng, n)
        total, t0 = 0.0, time.perf_counter()
        for b in range(0, n, a.batch_size):
            idx = order[b:b + a.batch_size]
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss) * idx.shape[0]
        dt = time.perf_counter() - t0
        train_time += dt
        acc = evaluate(model, xte, yte)
        result["epochs"].append({"epoch": epoch, "loss": total / n, "accuracy": acc, "seconds": dt,
                                 "images_per_s": n / dt})
        print(f"epoch {epoch}: loss {total / n:.4f}  test accuracy {100 * acc:.2f}%  "
              f"{dt:.1f} s  {n / dt:.0f} images/s", flush=True)
    if a.epochs:
        result["accuracy"] = result["epochs"][-1]["accuracy"]
        result["train_images_per_s"] = n * a.epochs / train_time
        print(f"pytorch: test accuracy {100 * result['accuracy']:.2f}%, "
              f"training {result['train_images_per_s']:.0f} images/s (eager, {a.threads} threads)")
    if a.save_weights:
        safetensors_io.save(a.save_weights, model.state_dict())
    if a.check_weights:
        checked = FashionLeNet()
        checked.load_state_dict(safetensors_io.load(a.check_weights))
        acc = evaluate(checked, xte, yte)
        result["ctorch_weights_accuracy"] = acc
        print(f"ctorch's weights ({a.check_weights}) in PyTorch: test accuracy {100 * acc:.2f}%")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()

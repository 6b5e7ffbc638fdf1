"""Writes a safetensors file with one f32 tensor of pseudo-random values in [-1, 1) (plain
Python, no torch): make_input.py OUT NAME DIM[,DIM...] [SEED]."""
import json
import random
import struct
import sys

out, name, dims = sys.argv[1], sys.argv[2], [int(d) for d in sys.argv[3].split(",")]
rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 0)
n = 1
for d in dims:
    n *= d
data = struct.pack("<%df" % n, *(rng.uniform(-1, 1) for _ in range(n)))
header = json.dumps({name: {"dtype": "F32", "shape": dims, "data_offsets": [0, len(data)]}},
                    separators=(",", ":")).encode()
header += b" " * ((8 - len(header) % 8) % 8)
with open(out, "wb") as f:
    f.write(struct.pack("<Q", len(header)) + header + data)

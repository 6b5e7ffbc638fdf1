"""Reads two safetensors files with the fixture reader (no torch needed beyond the stdlib
fallback) and prints, per tensor of the first, whether the bytes equal the second's within 1e-5."""
import json
import math
import struct
import sys

FMT = {"F32": ("f", 4), "F64": ("d", 8), "I64": ("q", 8), "I32": ("i", 4)}


def read(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        code, size = FMT[info["dtype"]]
        b, e = info["data_offsets"]
        vals = struct.unpack("<%d%s" % ((e - b) // size, code), data[b:e])
        out[name] = (info["dtype"], info["shape"], vals)
    return out


a, b = read(sys.argv[1]), read(sys.argv[2])
for name, (dt, shape, vals) in a.items():
    want = b.get(name)
    same = want is not None and want[1] == shape and all(
        math.isclose(x, y, rel_tol=1e-5, abs_tol=1e-6) for x, y in zip(vals, want[2]))
    print(name, dt.lower(), shape, "same" if same else "DIFFERENT")

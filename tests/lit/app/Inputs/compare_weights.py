"""compare_weights.py GOT WANT [--rtol R] [--atol A]: compares two safetensors files tensor by
tensor (same keys, shapes, |got - want| <= atol + rtol * |want|) with the standard library only;
prints the keys and the worst difference, exits 1 on any mismatch."""
import argparse
import json
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
        out[name] = (info["shape"], struct.unpack("<%d%s" % ((e - b) // size, code), data[b:e]))
    return out


ap = argparse.ArgumentParser()
ap.add_argument("got")
ap.add_argument("want")
ap.add_argument("--rtol", type=float, default=1e-5)
ap.add_argument("--atol", type=float, default=1e-6)
a = ap.parse_args()
got, want = read(a.got), read(a.want)
print("keys:", " ".join(sorted(got)))
bad = sorted(set(got) ^ set(want))
if bad:
    print("key mismatch:", " ".join(bad))
    sys.exit(1)
worst, worst_at, failed = 0.0, "", 0
for name in sorted(want):
    (gs, gv), (ws, wv) = got[name], want[name]
    if gs != ws:
        print(f"{name}: shape {gs} vs {ws}")
        sys.exit(1)
    for i, (g, w) in enumerate(zip(gv, wv)):
        d = abs(g - w)
        if d > worst:
            worst, worst_at = d, f"{name}[{i}]"
        if d > a.atol + a.rtol * abs(w):
            failed += 1
print(f"worst difference {worst:.3g} at {worst_at}")
print("MATCH" if failed == 0 else f"MISMATCH: {failed} elements outside tolerance")
sys.exit(1 if failed else 0)

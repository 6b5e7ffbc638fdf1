"""state_compare.py SAVED EXPECTED: compares the parameters and optimizer state ctorch-run
--save-state wrote (keys <key>) with a train_step fixture's results (keys new.<key>):
|got - want| <= 1e-6 + 1e-4 |want| elementwise. Prints one line per key; exit 1 on a mismatch
or a missing key. Plain Python (the lit suite does not need torch)."""
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


saved, expected = read(sys.argv[1]), read(sys.argv[2])
bad = 0
for name, (shape, want) in sorted(expected.items()):
    if not name.startswith("new."):
        continue
    key = name[4:]
    if key not in saved or saved[key][0] != shape:
        print("%s: missing or of another shape" % key)
        bad += 1
        continue
    got = saved[key][1]
    worst = max(abs(g - w) - 1e-4 * abs(w) for g, w in zip(got, want))
    ok = worst <= 1e-6
    bad += not ok
    print("%s: %s (%d elements)" % (key, "matches" if ok else "DIFFERS", len(want)))
sys.exit(1 if bad else 0)

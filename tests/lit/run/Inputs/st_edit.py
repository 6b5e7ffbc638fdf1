"""Rewrites a safetensors file for error tests, with the standard library only:
    st_edit.py IN OUT [drop=KEY] [retype=KEY:DTYPE] [reshape=KEY:D0,D1,...] [fill=KEY:VALUE]
drop removes a tensor; retype relabels a tensor's dtype (keeping its bytes when the element
size matches, else zero-filling); reshape relabels its shape (zero-filling to the new size);
fill sets every element of an F32 tensor to VALUE."""
import json
import struct
import sys

SIZE = {"F32": 4, "F64": 8, "I64": 8, "I32": 4, "BOOL": 1, "U8": 1}

raw = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", raw[:8])
header = json.loads(raw[8:8 + n])
data = raw[8 + n:]
meta = header.pop("__metadata__", None)
tensors = {}
for name, info in header.items():
    b, e = info["data_offsets"]
    tensors[name] = [info["dtype"], info["shape"], data[b:e]]
for edit in sys.argv[3:]:
    op, arg = edit.split("=", 1)
    if op == "drop":
        del tensors[arg]
        continue
    key, val = arg.rsplit(":", 1)
    t = tensors[key]
    if op == "fill":
        t[2] = struct.pack("<f", float(val)) * (len(t[2]) // 4)
        continue
    if op == "retype":
        t[0] = val
    elif op == "reshape":
        t[1] = [int(d) for d in val.split(",")] if val else []
    count = 1
    for d in t[1]:
        count *= d
    if len(t[2]) != count * SIZE[t[0]]:
        t[2] = bytes(count * SIZE[t[0]])
out_header, blobs, offset = {}, [], 0
for name, (dt, shape, blob) in tensors.items():
    out_header[name] = {"dtype": dt, "shape": shape, "data_offsets": [offset, offset + len(blob)]}
    blobs.append(blob)
    offset += len(blob)
if meta is not None:
    out_header["__metadata__"] = meta
text = json.dumps(out_header, separators=(",", ":")).encode()
text += b" " * ((8 - len(text) % 8) % 8)
with open(sys.argv[2], "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))

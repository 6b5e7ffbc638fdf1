"""An independent reader and writer of the .ctm container (docs/package.md), in plain Python, for
the package lit tests: list a package's sections, drop one (e.g. the native code, to test the
interpreter fallback), or write a damaged copy of one.

  ctm.py list PKG
  ctm.py drop PKG KIND OUT
  ctm.py graft PKG KIND FROM OUT    PKG with its KIND section taken from package FROM
  ctm.py damage PKG MODE OUT    MODE: truncate, flip-weights, version, magic, misalign, size
"""
import struct
import sys
import zlib

KINDS = {1: "meta", 2: "ir", 3: "weights", 4: "native", 5: "ptx"}
NUMS = {v: k for k, v in KINDS.items()}


def read(path):
    raw = open(path, "rb").read()
    assert raw[:8] == b"CTORCHPK", "bad magic"
    version, n, size, table_crc, header_crc = struct.unpack("<IIQII", raw[8:32])
    assert size == len(raw) and zlib.crc32(raw[:28]) == header_crc
    table = raw[64:64 + 32 * n]
    assert zlib.crc32(table) == table_crc
    sections = []
    for i in range(n):
        kind, flags, off, sz, crc, _ = struct.unpack("<IIQQII", table[32 * i:32 * i + 32])
        data = raw[off:off + sz]
        assert off % 64 == 0 and zlib.crc32(data) == crc, "section %d" % i
        sections.append((kind, flags, data))
    return version, sections


def write(path, sections, version=1):
    n = len(sections)
    pos = (64 + 32 * n + 63) // 64 * 64
    table, body, offsets = b"", b"", []
    for kind, flags, data in sections:
        offsets.append(pos)
        pos = (pos + len(data) + 63) // 64 * 64
    total = offsets[-1] + len(sections[-1][2])
    img = bytearray(total)
    for (kind, flags, data), off in zip(sections, offsets):
        img[off:off + len(data)] = data
        table += struct.pack("<IIQQII", kind, flags, off, len(data), zlib.crc32(data), 0)
    img[64:64 + len(table)] = table
    head = b"CTORCHPK" + struct.pack("<IIQI", version, n, total, zlib.crc32(table))
    img[0:28] = head
    img[28:32] = struct.pack("<I", zlib.crc32(head))
    open(path, "wb").write(bytes(img))


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    version, sections = read(path)
    if cmd == "list":
        print("version %d" % version)
        for kind, flags, data in sections:
            print("%s %s%d bytes" % (KINDS.get(kind, kind), "required " if flags & 1 else "",
                                     len(data)))
    elif cmd == "drop":
        write(sys.argv[4], [s for s in sections if s[0] != NUMS[sys.argv[3]]], version)
    elif cmd == "graft":
        kind = NUMS[sys.argv[3]]
        donor = [s for s in read(sys.argv[4])[1] if s[0] == kind]
        write(sys.argv[5], [donor[0] if s[0] == kind else s for s in sections], version)
    elif cmd == "damage":
        mode, out = sys.argv[3], sys.argv[4]
        write(out, sections, version)
        img = bytearray(open(out, "rb").read())
        if mode == "truncate":
            img = img[:len(img) // 2]
        elif mode == "flip-weights":
            kinds = [s[0] for s in sections]
            i = kinds.index(3)
            off = struct.unpack("<Q", img[64 + 32 * i + 8:64 + 32 * i + 16])[0]
            img[off + 3] ^= 0x10
        elif mode == "version":
            write(out, sections, version + 1)
            img = bytearray(open(out, "rb").read())
        elif mode == "magic":
            img[0:8] = b"NOTAPKG!"
        elif mode == "misalign" or mode == "size":
            field = 8 if mode == "misalign" else 16
            at = 64 + 32 * 1 + field
            (v,) = struct.unpack("<Q", img[at:at + 8])
            img[at:at + 8] = struct.pack("<Q", v + 4 if mode == "misalign" else 1 << 62)
            n = struct.unpack("<I", img[12:16])[0]
            img[24:28] = struct.pack("<I", zlib.crc32(bytes(img[64:64 + 32 * n])))
            img[28:32] = struct.pack("<I", zlib.crc32(bytes(img[0:28])))
        open(out, "wb").write(bytes(img))
    else:
        sys.exit("unknown command " + cmd)


main()

#!/usr/bin/env python3
"""Writes the safetensors test corpus: well-formed files with known contents, and hostile files, each with
the error the reader must give. The files are built byte by byte from the format's definition (u64 LE
header length, JSON header, data), independently of mlxc's writer.

Run from the repository root:  python3 tests/gen/make_safetensors_cases.py
"""
import json
import os
import struct

HERE = os.path.join("tests", "data", "safetensors")


def header_bytes(obj, pad_to=8):
    """Compact JSON with sorted keys, padded with spaces to a multiple of pad_to (as mlxc writes)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    while pad_to and len(text) % pad_to:
        text += b" "
    return text


def file_bytes(header, data=b"", declared_len=None):
    if isinstance(header, (dict, list)):
        header = header_bytes(header)
    n = len(header) if declared_len is None else declared_len
    return struct.pack("<Q", n) + header + data


def write(name, content):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(content)


def good_cases():
    # f32 [2,3] = 0..5, i8 [4] = -2..1, bf16 [2] = 1.0, -2.5; metadata as MLX model shards carry it.
    f32 = struct.pack("<6f", *[float(i) for i in range(6)])
    i8 = struct.pack("<4b", -2, -1, 0, 1)
    bf16 = struct.pack("<2H", 0x3F80, 0xC020)
    hdr = {
        "__metadata__": {"format": "mlx"},
        "a.weight": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
        "b.ids": {"dtype": "I8", "shape": [4], "data_offsets": [24, 28]},
        "c.bf": {"dtype": "BF16", "shape": [2], "data_offsets": [28, 32]},
        "d.empty": {"dtype": "F16", "shape": [0, 5], "data_offsets": [32, 32]},
        "e.scalar": {"dtype": "U8", "shape": [], "data_offsets": [32, 33]},
    }
    write("good/small.safetensors", file_bytes(hdr, f32 + i8 + bf16 + b"\x07"))
    # The same file as mlxc's writer must produce it byte for byte (data in header-key order).
    # No metadata object given: the writer still writes an empty one.
    hdr2 = {
        "__metadata__": {},
        "x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "y": {"dtype": "U32", "shape": [1, 1], "data_offsets": [8, 12]},
    }
    write("good/writer_expected.safetensors",
          file_bytes(hdr2, struct.pack("<2f", 1.5, -2.0) + struct.pack("<I", 0xDEADBEEF)))
    # Every dtype the reader must know, one element each.
    dts = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8,
           "U32": 4, "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E8M0": 1}
    hdr3, off = {}, 0
    for name, size in dts.items():
        hdr3["t_" + name] = {"dtype": name, "shape": [1], "data_offsets": [off, off + size]}
        off += size
    write("good/all_dtypes.safetensors", file_bytes(hdr3, bytes(range(off))))
    # Unpadded header, no metadata, a unicode tensor name.
    raw = json.dumps({"größe": {"dtype": "U8", "shape": [3], "data_offsets": [0, 3]}},
                     ensure_ascii=False).encode()
    write("good/unpadded_unicode.safetensors", file_bytes(raw, b"abc"))


BAD = []  # (file, expected substring of the error)


def bad(name, content, expect):
    write("bad/" + name, content)
    BAD.append((name, expect))


def bad_cases():
    ok_t = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
    data8 = b"\0" * 8
    bad("empty.safetensors", b"", "too short")
    bad("short_len.safetensors", b"\x10\x00\x00", "too short")
    full = file_bytes({"t": ok_t}, data8)
    bad("truncated_header.safetensors", full[:20], "runs past the end of the file")
    bad("len_past_eof.safetensors", file_bytes(b'{"t":1}', b"", declared_len=1000), "runs past the end of the file")
    bad("huge_len.safetensors", struct.pack("<Q", 2**63 + 5) + b"{}", "exceeds the")
    bad("len_100mb.safetensors", struct.pack("<Q", 100_000_001) + b"{}", "exceeds the")
    bad("not_json.safetensors", file_bytes(b"{not json}   "), "not valid JSON")
    bad("json_array.safetensors", file_bytes(b"[1,2,3] "), "not a JSON object")
    bad("trailing_garbage.safetensors", file_bytes(b'{}  xyz '), "trailing bytes")
    bad("non_utf8.safetensors", file_bytes(b'{"\xff\xfe":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"x"),
        "not valid UTF-8")
    bad("overlong_utf8.safetensors", file_bytes(b'{"\xc0\xaf":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"x"),
        "not valid UTF-8")
    bad("unknown_dtype.safetensors", file_bytes({"t": {"dtype": "F4", "shape": [2], "data_offsets": [0, 1]}}, b"x"),
        "unknown dtype 'F4'")
    bad("shape_mismatch.safetensors", file_bytes({"t": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, data8),
        "needs 12 bytes but 'data_offsets' span 8")
    bad("offsets_outside.safetensors", file_bytes({"t": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, data8),
        "outside the 8-byte data section")
    bad("offsets_reversed.safetensors", file_bytes({"t": {"dtype": "U8", "shape": [0], "data_offsets": [8, 0]}}, data8),
        "end before they begin")
    bad("offsets_overflow64.safetensors",
        file_bytes(b'{"t":{"dtype":"U8","shape":[1],"data_offsets":[18446744073709551615,18446744073709551616]}}', data8),
        "non-negative integers below 2^53")
    bad("shape_overflow64.safetensors",
        file_bytes({"t": {"dtype": "F64", "shape": [2**31, 2**31, 2**3], "data_offsets": [0, 8]}}, data8),
        "shape overflows 64 bits")
    bad("negative_dim.safetensors", file_bytes({"t": {"dtype": "U8", "shape": [-1], "data_offsets": [0, 0]}}),
        "not a non-negative integer")
    bad("fraction_dim.safetensors", file_bytes({"t": {"dtype": "U8", "shape": [1.5], "data_offsets": [0, 1]}}, b"x"),
        "not a non-negative integer")
    bad("overlap.safetensors",
        file_bytes({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                    "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, data8),
        "tensors 'a' and 'b' overlap")
    bad("duplicate_key.safetensors",
        file_bytes(b'{"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"t":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', b"xy"),
        "the key 't' twice")
    bad("metadata_not_string.safetensors", file_bytes({"__metadata__": {"n": 3}}), "is not a string")
    bad("metadata_not_object.safetensors", file_bytes({"__metadata__": "x"}), "'__metadata__' is not an object")
    bad("entry_not_object.safetensors", file_bytes({"t": [1, 2]}), "entry is not an object")
    bad("missing_offsets.safetensors", file_bytes({"t": {"dtype": "U8", "shape": [1]}}, b"x"), "'data_offsets' is not a pair")
    bad("too_many_dims.safetensors", file_bytes({"t": {"dtype": "U8", "shape": [1] * 9, "data_offsets": [0, 1]}}, b"x"),
        "more than the 8 supported")
    bad("deep_nesting.safetensors", file_bytes(b"[" * 5000 + b"]" * 5000), "not valid JSON")
    with open(os.path.join(HERE, "bad", "EXPECTED"), "w") as f:
        f.write("# file<TAB>a substring the reader's error must contain (written by tests/gen/make_safetensors_cases.py)\n")
        for name, expect in BAD:
            f.write(f"{name}\t{expect}\n")


if __name__ == "__main__":
    os.makedirs(os.path.join(HERE, "good"), exist_ok=True)
    os.makedirs(os.path.join(HERE, "bad"), exist_ok=True)
    good_cases()
    bad_cases()

"""Deterministic fixture weights, reproducible bit for bit in C (tests/model_fixture.c).

Each tensor has its own splitmix64 stream seeded with fnv1a64(name) ^ SEED. Element i is
    z   = mix64(seed + (i + 1) * 0x9E3779B97F4A7C15)          (splitmix64 output)
    u   = float32(z >> 40) * 2^-24                            (exact, in [0, 1))
    w   = float32(float32(2u - 1) * scale) + base             (f32 arithmetic, two roundings)
so the same bytes come out of numpy and C (C compiles this with -ffp-contract=off).
"""
import json
import struct

import numpy as np

SEED = 0x6D6C7863  # "mlxc"
GOLDEN = 0x9E3779B97F4A7C15
M64 = (1 << 64) - 1


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & M64
    return h


def stream(name: str, n: int) -> np.ndarray:
    seed = np.uint64(fnv1a64(name.encode()) ^ SEED)
    with np.errstate(over="ignore"):
        i = np.arange(1, n + 1, dtype=np.uint64)
        z = seed + i * np.uint64(GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(40)).astype(np.float32) * np.float32(2.0 ** -24)
    return u * np.float32(2.0) - np.float32(1.0)


def tensor(name, shape, base, scale):
    n = int(np.prod(shape)) if shape else 1
    v = stream(name, n) * np.float32(scale)
    v = v + np.float32(base)
    return v.astype(np.float32).reshape(shape)


def role_of(name, shape):
    """(base, scale) of a tensor from its name: norms near 1, biases small, matrices ~ 1/sqrt(fan_in)."""
    if name.endswith("norm.weight") or name.endswith("layernorm.weight"):
        return 1.0, 0.1
    if name.endswith(".bias"):
        return 0.0, 0.1
    if "embed_tokens" in name:
        return 0.0, 0.05  # small: a tied head would otherwise just echo the input token
    if name.startswith("lm_head"):
        return 0.0, 0.5  # large enough for peaked logits
    return 0.0, float(np.float32(1.0 / np.sqrt(shape[-1])))


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, float32 or uint8 array). Header keys sorted, padded to 8 (as mlxc writes)."""
    header, offset = {"__metadata__": metadata or {}}, 0
    for name, arr in tensors:
        nbytes = arr.size * arr.itemsize
        dt = "U8" if arr.dtype == np.uint8 else "F32"
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for _, arr in tensors:
            f.write(np.ascontiguousarray(arr, dtype=arr.dtype if arr.dtype == np.uint8 else "<f4").tobytes())


def spot_checks(arr):
    """16 (index, f32 bit pattern) pairs spread over the tensor (bytes for a uint8 tensor), and the f64
    sum: the C generator must reproduce them exactly."""
    if arr.dtype == np.uint8:
        flat = arr.reshape(-1)
        bits = flat
    else:
        flat = np.ascontiguousarray(arr, dtype="<f4").reshape(-1)
        bits = flat.view("<u4")
    n = flat.size
    idx = sorted({0, n - 1} | {(k * 2654435761) % n for k in range(1, 15)})
    return {"at": [[int(i), int(bits[i])] for i in idx], "sum": float(flat.astype(np.float64).sum())}

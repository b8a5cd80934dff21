#!/usr/bin/python3
"""Writes tests/data/quant/cases.safetensors: inputs, and the bytes MLX's CPU algorithm makes of them, for
every quantization mode x bits x group size x source dtype, with the exact dequantized values.

This is an independent numpy implementation written from mlx-lm-facts.md §3.1-3.3 (and MLX's graph
fallback for the fp modes, which works in the source dtype): float32 arithmetic, np.rint, a bit stream
built with np.packbits, an E4M3 encoder that searches the value grid (not the C code's bit trick), and
np.argmin over the FP4 table. Nothing here is shared with the C code under test.

Run from the repository root:  /usr/bin/python3 tests/gen/make_quant_cases.py
"""
import json
import os
import struct

import numpy as np

OUT = os.path.join("tests", "data", "quant", "cases.safetensors")
ROWS, COLS, SEG = 8, 256, 128  # 16 segments of 128 columns, each a kind of group (see make_input)
F32 = np.float32
DTYPES = ["F32", "F16", "BF16"]
AFFINE_BITS = [2, 3, 4, 5, 6, 8]
GROUP_SIZES = [32, 64, 128]


# ---------------------------------------------------------------- rounding to the source dtype

def bf16_bits(x):
    """float32 -> bfloat16 bits, round to nearest even (NaN stays NaN)."""
    u = np.asarray(x, dtype=F32).view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(np.asarray(x, dtype=F32))
    return np.where(nan, ((u >> 16) | 0x40).astype(np.uint16), r)


def bf16_to_f32(b):
    return (np.asarray(b, dtype=np.uint32) << 16).view(F32)


def round_to(x, dt):
    """x (float32) rounded to dtype dt and back to float32."""
    x = np.asarray(x, dtype=F32)
    if dt == "BF16":
        return bf16_to_f32(bf16_bits(x))
    if dt == "F16":
        return x.astype(np.float16).astype(F32)
    return x


def dtype_bytes(x, dt):
    """float32 values (already representable) as the raw bytes of dtype dt."""
    if dt == "BF16":
        return bf16_bits(x).astype("<u2").tobytes()
    if dt == "F16":
        return np.asarray(x, dtype=F32).astype("<f2").tobytes()
    return np.asarray(x, dtype="<f4").tobytes()


# ---------------------------------------------------------------- codecs

def e4m3_grid():
    """The 128 non-negative E4M3 values by code; code 0x7F continues the grid as 480."""
    vals = []
    for code in range(128):
        e, m = code >> 3, code & 7
        vals.append(m * 2.0 ** -9 if e == 0 else (1 + m / 8) * 2.0 ** (e - 7))
    return np.array(vals)


GRID = e4m3_grid()


def e4m3_encode(x):
    """MLX's ToFP8 behaviour, by search: nearest grid value, ties to the even code; |x| >= 480, inf and NaN
    give 0x7E; values in (464, 480) round to the code after 448, 0x7F. Sign bit from x (so -0 -> 0x80)."""
    x = np.asarray(x, dtype=F32)
    a = np.abs(x.astype(np.float64))
    sign = np.where(np.signbit(x), 0x80, 0).astype(np.uint8)
    hi = np.clip(np.searchsorted(GRID, a), 1, 127)  # first grid value >= a
    lo = hi - 1
    d_lo, d_hi = a - GRID[lo], GRID[hi] - a
    code = np.where(d_lo < d_hi, lo, np.where(d_hi < d_lo, hi, np.where(lo % 2 == 0, lo, hi)))
    code = np.where(np.isnan(a) | (a >= 480), 0x7E, code)
    return (code.astype(np.uint8) | sign).astype(np.uint8)


def e4m3_value(b, nan_7f):
    """E4M3 byte -> float32. nan_7f: MLX's CPU FromFP8 (0x7F is NaN); else MLX's Metal decoding (480)."""
    b = np.asarray(b, dtype=np.uint8)
    v = GRID[b & 0x7F].astype(F32)
    if nan_7f:
        v = np.where((b & 0x7F) == 0x7F, np.nan, v).astype(F32)
    return np.where(b & 0x80, -v, v).astype(F32)


def e8m0_value(s):
    s = np.asarray(s, dtype=np.int64)
    with np.errstate(over="ignore"):
        return np.where(s == 0, np.ldexp(F32(1), -127), np.ldexp(F32(1), s - 127)).astype(F32)


FP4 = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0], dtype=F32)


def pack_bits(codes, bits):
    """(rows, n) codes -> (rows, n*bits/8) bytes: an LSB-first bit stream per row."""
    codes = np.asarray(codes, dtype=np.uint8)
    stream = ((codes[..., None] >> np.arange(bits, dtype=np.uint8)) & 1).astype(np.uint8)
    stream = stream.reshape(codes.shape[0], -1)
    return np.packbits(stream, axis=1, bitorder="little")


# ---------------------------------------------------------------- MLX's CPU algorithms

def affine_quantize(w, bits, gs, dt):
    """§3.1 in float32. Returns codes (rows, cols), scales and biases in dt (as float32 values)."""
    g = w.reshape(-1, gs).astype(F32)
    n_bins, eps = F32(2 ** bits - 1), F32(1e-7)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        w_max, w_min = g.max(axis=1), g.min(axis=1)
        mask = np.abs(w_min) > np.abs(w_max)
        scale = np.maximum((w_max - w_min) / n_bins, eps)
        scale = np.where(mask, scale, -scale).astype(F32)
        edge = np.where(mask, w_min, w_max).astype(F32)
        q0 = np.rint(edge / scale)
        nz = q0 != 0
        scale = np.where(nz, edge / np.where(nz, q0, F32(1)), scale).astype(F32)
        bias = np.where(nz, edge, F32(0)).astype(F32)
        q = np.rint((g - bias[:, None]) / scale[:, None])
    q = np.clip(q, 0, n_bins).astype(np.uint8)
    return q.reshape(w.shape), round_to(scale, dt), round_to(bias, dt)


def affine_dequantize(codes, scales, biases, gs):
    q = codes.reshape(-1, gs).astype(F32)
    with np.errstate(invalid="ignore", over="ignore"):
        return ((q * scales[:, None]).astype(F32) + biases[:, None]).astype(F32).reshape(codes.shape)


def fp_quantize(w, mode, dt):
    """§3.3, MLX's graph fallback evaluated in dtype dt. Returns codes (rows, cols) and scale bytes."""
    gs = 16 if mode == "nvfp4" else 32
    maxval = F32(448 if mode == "mxfp8" else 6)
    g = w.reshape(-1, gs).astype(F32)
    s = round_to(np.abs(g).max(axis=1) / maxval, dt)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if mode == "nvfp4":
            sb = e4m3_encode(s)
            d = e4m3_value(sb, nan_7f=True)
        else:
            lg = round_to(np.log2(s.astype(np.float64)).astype(F32), dt)
            e = np.where(s == 0, 0, np.rint(lg)).astype(np.int64)
            assert (e >= -127).all() and (e <= 127).all(), "fixture outside MLX's E8M0 range"
            sb = (e + 127).astype(np.uint8)
            d = round_to(np.ldexp(F32(1), e).astype(F32), dt)
        wq = round_to((g / d[:, None]).astype(F32), dt)
        if mode == "mxfp8":
            codes = e4m3_encode(wq)
        else:
            diff = np.abs(round_to((wq[..., None] - FP4[None, None, :]).astype(F32), dt))
            codes = np.argmin(diff, axis=-1).astype(np.uint8)  # first minimum; all-NaN rows -> 0
    return codes.reshape(w.shape), sb


def fp_dequantize(codes, sb, mode):
    gs = 16 if mode == "nvfp4" else 32
    el = e4m3_value(codes, nan_7f=False) if mode == "mxfp8" else FP4[codes]
    sc = e4m3_value(sb, nan_7f=False) if mode == "nvfp4" else e8m0_value(sb)
    with np.errstate(over="ignore", invalid="ignore"):
        return (el.reshape(-1, gs) * sc[:, None]).astype(F32).reshape(codes.shape)


# ---------------------------------------------------------------- inputs

def make_input(dt, rng):
    """(ROWS, COLS) float32, representable in dt. Segment k (128 columns, 4 groups of 32) is:
     0 zeros                          8 normal with one outlier (x50) per 32
     1 normal(0, 1)                   9 constant groups (0.3, -0.7, 1.5, 0.001)
     2 ties: +-1 and 1-(2k+1)/2^b     10 FP4 ties: max 6 and 0.25, 0.75, 1.25, ... (both signs)
     3 dominated by a negative value  11 FP8 ties at 2^-6 scale, (464, 480) and >= 480 after scaling
     4 all negative                   12 nvfp4 scale ties and underflow, scale 0x7F
     5 all positive                   13 uniform times 2^k, k = -20, -5, 0, 10
     6 tiny magnitudes                14 normal(0, 0.02), like real weights
     7 huge magnitudes                15 multiples of 1/8 in [-1, 7/8]"""
    tiny = [1e-9, 1e-9, 1e-30, 1e-30] if dt != "F16" else [1e-6, 1e-6, 1e-7, 3e-5]
    huge = [1e30, 1e30, 1e4, 3e38] if dt != "F16" else [1e4, 1e4, 3e3, 6e4]
    segs = []
    for k in range(ROWS * COLS // SEG):
        s = np.zeros(SEG, dtype=np.float64)
        for j in range(4):  # four groups of 32
            v = np.zeros(32)
            if k == 1:
                v = rng.normal(0, 1, 32)
            elif k == 2:
                ties = [1 - (2 * i + 1) / 2 ** b for b in range(2, 9) for i in range(2 ** (b - 1))]
                v = np.array([1.0, -1.0] + list(rng.choice(ties, 30, replace=False)))
            elif k == 3:
                v = rng.uniform(-0.3, 0.5, 32)
                v[rng.integers(32)] = -1.0 - j
            elif k == 4:
                v = rng.uniform(-3, -1, 32)
            elif k == 5:
                v = rng.uniform(0.5, 2, 32)
            elif k == 6:
                v = rng.normal(0, 1, 32) * tiny[j]
            elif k == 7:
                v = rng.normal(0, 1, 32) * huge[j] if j != 3 else rng.choice([-1.0, 1.0], 32) * huge[j]
            elif k == 8:
                v = rng.normal(0, 1, 32)
                v[rng.integers(32)] *= 50
            elif k == 9:
                v = np.full(32, [0.3, -0.7, 1.5, 0.001][j])
            elif k == 10:
                t = [0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0, 0.2, 0.3, 1.2, 4.9, 5.1]
                v = rng.choice(t + [-x for x in t], 32)
                v[0] = v[16] = 6.0 if j % 2 == 0 else -6.0
            elif k == 11:
                if j < 2:  # amax 7: s = 7/448 = 2^-6 exactly, e = -6, wq = 64 w; midpoints of the E4M3 grid
                    c = rng.integers(0, 110, 32)
                    v = (GRID[c] + GRID[c + 1]) / 2 / 64 * rng.choice([-1, 1], 32)
                    v[0] = 7.0
                else:  # wq = 470 (in (464, 480) -> 0x7F) and 486.4 (>= 480 -> 0x7E) after scaling by 64
                    v = rng.uniform(-7, 7, 32)
                    v[0] = 470 / 64 if j == 2 else 7.6
            elif k == 12:  # per 16 (nvfp4 groups): amax/6 on E4M3 ties, subnormal ties, underflow, 0x7F
                amax = [6 * 1.0625, 6 * 1.5 * 2 ** -9, 6 * 2 ** -10, 2800.0, 6 * 2.5 * 2 ** -9, 6 * 1.1875,
                        6 * 0.5 * 2 ** -9, 6 * 3.0][2 * j:2 * j + 2]
                v = np.concatenate([rng.uniform(-1, 1, 16) * a for a in amax])
                v[0], v[16] = amax[0], -amax[1]
            elif k == 13:
                v = rng.uniform(-1, 1, 32) * 2.0 ** [-20, -5, 0, 10][j]
            elif k == 14:
                v = rng.normal(0, 0.02, 32)
            elif k == 15:
                v = rng.integers(-8, 8, 32) / 8.0
            s[32 * j:32 * j + 32] = v
        segs.append(s)
    w = np.concatenate(segs).reshape(ROWS, COLS).astype(F32)
    w = round_to(w, dt)
    assert np.isfinite(w).all()
    return w


# ---------------------------------------------------------------- the file

def codec_cases(rng):
    """E4M3 encoder inputs: the whole grid, midpoints, the saturation edges, specials, random values."""
    g = GRID.astype(F32)
    mids = ((GRID[:-1] + GRID[1:]) / 2).astype(F32)
    edge = np.array([448, 460, 464, 464.5, 470, 479.9, 480, 481, 1e6, np.inf, np.nan, 0.0, -0.0,
                     2 ** -10, 2 ** -11, 1.4 * 2 ** -10, 2 ** -6 - 2 ** -11, 2 ** -6 - 2 ** -12, 1e-30, 2 ** -149],
                    dtype=F32)
    rnd = (rng.normal(0, 1, 400) * 2.0 ** rng.integers(-12, 10, 400)).astype(F32)
    x = np.concatenate([g, mids, mids * F32(1.0000001), mids * F32(0.9999999), edge, rnd]).astype(F32)
    return np.concatenate([x, -x]).astype(F32)


def main():
    rng = np.random.default_rng(20260822)
    tensors = {}  # name -> (dtype, shape, bytes)

    def put(name, dt, shape, data):
        tensors[name] = (dt, list(shape), data)

    for dt in DTYPES:
        w = make_input(dt, rng)
        put(f"input.{dt}", dt, w.shape, dtype_bytes(w, dt))
        for bits in AFFINE_BITS:
            for gs in GROUP_SIZES:
                codes, sc, bi = affine_quantize(w, bits, gs, dt)
                pre = f"affine.b{bits}.g{gs}.{dt}"
                put(pre + ".weight", "U32", (ROWS, COLS * bits // 32), pack_bits(codes, bits).tobytes())
                put(pre + ".scales", dt, (ROWS, COLS // gs), dtype_bytes(sc, dt))
                put(pre + ".biases", dt, (ROWS, COLS // gs), dtype_bytes(bi, dt))
                put(pre + ".dequant", "F32", (ROWS, COLS),
                    affine_dequantize(codes, sc, bi, gs).astype("<f4").tobytes())
        for mode in ["mxfp4", "nvfp4", "mxfp8"]:
            gs, bits = (16 if mode == "nvfp4" else 32), (8 if mode == "mxfp8" else 4)
            codes, sb = fp_quantize(w, mode, dt)
            pre = f"{mode}.{dt}"
            put(pre + ".weight", "U32", (ROWS, COLS * bits // 32), pack_bits(codes, bits).tobytes())
            put(pre + ".scales", "U8", (ROWS, COLS // gs), sb.tobytes())
            put(pre + ".dequant", "F32", (ROWS, COLS), fp_dequantize(codes, sb, mode).astype("<f4").tobytes())

    x = codec_cases(rng)
    put("codec.e4m3.input", "F32", x.shape, x.astype("<f4").tobytes())
    put("codec.e4m3.encoded", "U8", x.shape, e4m3_encode(x).tobytes())

    header, blob = {"__metadata__": {"generator": "tests/gen/make_quant_cases.py"}}, b""
    for name in sorted(tensors):
        dt, shape, data = tensors[name]
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + blob)
    print(f"{OUT}: {len(tensors)} tensors, {8 + len(text) + len(blob)} bytes")


if __name__ == "__main__":
    main()

/* Internal to quant/: the element and scale codecs of the MLX formats, the packed layout, and the
 * rounding helpers the quantizers share (mlx-lm-facts.md §3.1–3.3).
 *
 * Packed layout (all modes). Row r of a (rows, cols) matrix is one little-endian bit stream of
 * cols*bits bits: element k occupies bits [k*bits, (k+1)*bits), least significant bit first, and the
 * stream is stored as bytes in order (MLX types it uint32; the bytes are the same on any host):
 *   bits 2, 4, 8   32/bits codes per uint32 word, code k%(32/bits) of word k/(32/bits) at bit offset
 *                  (k%(32/bits))*bits; never straddles a byte for 2/4/8.
 *                  4 bits: byte j = element 2j in the low nibble, element 2j+1 in the high nibble.
 *   bits 3         8 codes in 3 bytes (code i at bits 3i..3i+2 of the 24-bit LE chunk); codes 2 and 5
 *                  straddle bytes.
 *   bits 5         8 codes in 5 bytes (code i at bits 5i..5i+4 of the 40-bit LE chunk).
 *   bits 6         4 codes in 3 bytes (code i at bits 6i..6i+5 of the 24-bit LE chunk).
 * A row is cols*bits/8 bytes: cols is a multiple of the group size (>= 16) so rows and groups start on
 * byte boundaries, and rows on uint32 boundaries since cols*bits is a multiple of 32.
 *
 * Scales: (rows, cols/group_size), row-major; biases likewise (affine only).
 *   affine  scale and bias in the source dtype (F32, F16 or BF16); w = scale*q + bias
 *   mxfp4   E8M0 byte s, scale 2^(s-127) (s == 0 means 2^-127); E2M1 elements, group 32
 *   nvfp4   E4M3 byte, scale its value;                           E2M1 elements, group 16
 *   mxfp8   E8M0 byte as mxfp4;                                   E4M3 elements, group 32
 *   w = element * scale for the fp modes. */
#ifndef MLXC_QFORMAT_H
#define MLXC_QFORMAT_H

#include <stdint.h>
#include <string.h>

#include "core/half.h"
#include "quant/quant.h"

_Static_assert(sizeof(float) == 4 && sizeof(uint32_t) == 4, "f32 and uint32 bit casts need 4 bytes");
/* Every group is a whole number of bytes, so a group's codes start on a byte boundary. */
_Static_assert((16 * 4) % 8 == 0 && (32 * 3) % 8 == 0 && (32 * 5) % 8 == 0 && (32 * 6) % 8 == 0,
               "a group of the smallest size holds a whole number of bytes at every width");
/* ... and a whole row of a multiple of 32 columns is whole uint32 words at every width. */
_Static_assert((32 * 3) % 32 == 0 && (32 * 5) % 32 == 0 && (32 * 6) % 32 == 0, "rows are whole words");

static inline uint32_t mlxc_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float mlxc_bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ---- E2M1 (FP4): bit 3 sign, bits 2..1 exponent (bias 1), bit 0 mantissa ---- */

/* Values of the 16 codes, in MLX's table order (FP4_LUT): +0, 0.5, 1, 1.5, 2, 3, 4, 6, -0, ..., -6. */
extern const float mlxc_fp4_values[16];

/* ---- E4M3 (FN): bit 7 sign, bits 6..3 exponent (bias 7), bits 2..0 mantissa; max 448 = 0x7E ---- */

/* MLX's ToFP8 (mlx/backend/cpu/unary_ops.h, from PyTorch's fp8e4m3fn conversion): round to nearest
 * even; |f| >= 480, inf and NaN give 0x7E (448) with f's sign. Values in (464, 480) round up to 0x7F,
 * which E4M3FN calls NaN: MLX does this and so do we (bit-exact), see mlxc_e4m3_value. */
uint8_t mlxc_e4m3_encode(float f);

/* The value of an E4M3 byte. 0x7F/0xFF give +-480: MLX's Metal kernels (fp8.h) decode it so, and MLX's
 * own encoder writes 0x7F for inputs in (464, 480), so files made on a Mac carry it meaning 480. (MLX's
 * CPU FromFP8 gives NaN instead, which would poison a whole forward pass.) Exact in f32. */
static inline float mlxc_e4m3_value(uint8_t b)
{
    uint32_t sign = (uint32_t)(b & 0x80u) << 24, exp = (b >> 3) & 15u, man = b & 7u;
    if (exp == 0) /* subnormal: man * 2^-9 */
        return mlxc_bits_f32(sign | mlxc_f32_bits((float)man * 0x1p-9f));
    return mlxc_bits_f32(sign | ((exp + 120u) << 23) | (man << 20)); /* (1 + man/8) * 2^(exp-7) */
}

/* ---- E8M0: an unsigned biased exponent, value 2^(s-127); MLX maps s == 0 to 2^-127, 255 is inf ---- */

static inline float mlxc_e8m0_value(uint8_t s)
{
    return mlxc_bits_f32(s == 0 ? 0x00400000u : (uint32_t)s << 23);
}

/* ---- the source dtype's rounding (MLX does fp-mode scale arithmetic in the source dtype) ---- */

/* x rounded to the nearest value of dtype t (F32, F16 or BF16; ties to even), back in f32. */
static inline float mlxc_round_to(float x, enum mlxc_dtype t)
{
    if (t == MLXC_BF16)
        return mlxc_bf16_to_f32(mlxc_f32_to_bf16(x));
    if (t == MLXC_F16)
        return mlxc_f16_to_f32(mlxc_f32_to_f16(x));
    return x;
}

/* One scale (or bias) of dtype t (F32, F16, BF16 or U8 for the fp modes' raw byte), element i of p. */
static inline float mlxc_load_scalar(const void *p, int64_t i, enum mlxc_dtype t)
{
    const uint8_t *b = (const uint8_t *)p;
    if (t == MLXC_F32) {
        float f;
        memcpy(&f, b + 4 * i, 4);
        return f;
    }
    uint16_t h;
    memcpy(&h, b + 2 * i, 2);
    return t == MLXC_BF16 ? mlxc_bf16_to_f32(h) : mlxc_f16_to_f32(h);
}

/* ---- bit streams (quant/pack.c) ---- */

/* Writes n codes (each < 2^bits) as an LSB-first bit stream of n*bits bits (n*bits % 8 == 0). */
void mlxc_qpack(const uint8_t *codes, int64_t n, int bits, uint8_t *out);
/* Reads codes [k0, k0+n) of the bit stream at p. Reads no byte past the last code's. */
void mlxc_qunpack(const uint8_t *p, int64_t k0, int64_t n, int bits, uint8_t *codes);

/* Bytes of one packed row. */
static inline int64_t mlxc_qrow_bytes(const struct mlxc_qmatrix *m)
{
    return m->cols * m->q.bits / 8;
}

/* ---- quantizers (quant/affine.c, quant/fp.c); arguments already checked by mlxc_quantize ---- */

void mlxc_affine_quantize(const float *w, int64_t rows, int64_t cols, int bits, int group_size,
                          enum mlxc_dtype out_dtype, uint8_t *packed, void *scales, void *biases);
void mlxc_fp_quantize(const float *w, int64_t rows, int64_t cols, struct mlxc_qparams q, enum mlxc_dtype src,
                      uint8_t *packed, uint8_t *scales);

#endif

/* What the AMX files share (matmul_amx.c, att_amx.c): the tile configuration, floats to bf16 pairs, and a
 * 16 x 16 transpose of 32-bit words. Only for files built with the AMX library's flags. */
#ifndef MLXC_AMX_TILES_H
#define MLXC_AMX_TILES_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

/* The tile configuration, palette 1 (Intel SDM, LDTILECFG): eight tiles of 16 rows x 64 bytes. */
struct tile_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
};

static inline void tiles_configure(void)
{
    struct tile_config c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int i = 0; i < 8; i++) {
        c.rows[i] = 16;
        c.colsb[i] = 64;
    }
    _tile_loadconfig(&c);
}

/* 32 floats at p (n of them valid, the rest taken as 0) as 16 bf16 pairs: (p[2i], p[2i+1]) in word i. */
static inline __m512i pairs32(const float *p, int64_t n)
{
    n = n < 0 ? 0 : n;
    const __mmask16 m0 = n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1);
    const __mmask16 m1 = n >= 32 ? 0xFFFF : n <= 16 ? 0 : (__mmask16)((1u << (n - 16)) - 1);
    const __m512 lo = _mm512_maskz_loadu_ps(m0, p), hi = _mm512_maskz_loadu_ps(m1, p + 16);
    return (__m512i)_mm512_cvtne2ps_pbh(hi, lo); /* round to nearest even; the second operand is the low half */
}

/* r[j] (16 words each) becomes column j: word i of the result j is word j of r[i]. 32-bit then 64-bit
 * unpacks leave lane L of u[4g + c] holding column 4L + c of rows 4g..4g+3; two rounds of 128-bit lane
 * shuffles gather the four row groups of each column. */
static inline void transpose16(__m512i r[16])
{
    __m512i t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (int g = 0; g < 16; g += 4) {
        u[g] = _mm512_unpacklo_epi64(t[g], t[g + 2]);
        u[g + 1] = _mm512_unpackhi_epi64(t[g], t[g + 2]);
        u[g + 2] = _mm512_unpacklo_epi64(t[g + 1], t[g + 3]);
        u[g + 3] = _mm512_unpackhi_epi64(t[g + 1], t[g + 3]);
    }
    for (int c = 0; c < 4; c++) {
        const __m512i p = _mm512_shuffle_i32x4(u[c], u[4 + c], 0x88), q = _mm512_shuffle_i32x4(u[c], u[4 + c], 0xDD);
        const __m512i p2 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0x88);
        const __m512i q2 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0xDD);
        r[c] = _mm512_shuffle_i32x4(p, p2, 0x88);      /* column c: lane 0 of each group */
        r[8 + c] = _mm512_shuffle_i32x4(p, p2, 0xDD);  /* lane 2 */
        r[4 + c] = _mm512_shuffle_i32x4(q, q2, 0x88);  /* lane 1 */
        r[12 + c] = _mm512_shuffle_i32x4(q, q2, 0xDD); /* lane 3 */
    }
}

#endif

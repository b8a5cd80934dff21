/* AMX bf16 products (see core/matmul_amx.h), compiled with -mamx-tile -mamx-bf16 -mavx512f -mavx512bf16
 * in a library of their own: nothing here runs unless mlxc_amx_usable() said yes.
 *
 * Tiles: A = 16 weight rows x 32 k (bf16), B = 32 k x 16 tokens (bf16 pairs), C = 16 rows x 16 tokens
 * (f32). Each block of 32 rows x 32 tokens holds four C tiles over all of k, which goes up in steps of 32
 * whatever T is: an output depends only on its row and its token, so a token's outputs are the same alone
 * or with any others (grouped prefill relies on it). */
#include "core/matmul_amx.h"

#include <immintrin.h>
#include <string.h>

/* The tile configuration, palette 1 (Intel SDM, LDTILECFG): eight tiles of 16 rows x 64 bytes. */
struct tile_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
};

static void tiles_configure(void)
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
static __m512i pairs32(const float *p, int64_t n)
{
    n = n < 0 ? 0 : n;
    const __mmask16 m0 = n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1);
    const __mmask16 m1 = n >= 32 ? 0xFFFF : n <= 16 ? 0 : (__mmask16)((1u << (n - 16)) - 1);
    const __m512 lo = _mm512_maskz_loadu_ps(m0, p), hi = _mm512_maskz_loadu_ps(m1, p + 16);
    return (__m512i)_mm512_cvtne2ps_pbh(hi, lo); /* round to nearest even; the second operand is the low half */
}

void mlxc_amx_pack_x(const float *x, int64_t T, int64_t cols, int64_t b0, int64_t b1, uint32_t *xp)
{
    const int64_t np = mlxc_amx_kp(cols) / 2;
    for (int64_t b = b0; b < b1; b++) {
        uint32_t *o = xp + b * np * 16;
        for (int tt = 0; tt < 16; tt++) {
            const int64_t t = b * 16 + tt;
            for (int64_t i = 0; i < np; i += 16) {
                uint32_t w[16];
                if (t < T)
                    _mm512_storeu_si512(w, pairs32(x + t * cols + 2 * i, cols - 2 * i));
                else
                    memset(w, 0, sizeof w);
                for (int j = 0; j < 16; j++)
                    o[(i + j) * 16 + tt] = w[j];
            }
        }
    }
}

void mlxc_amx_pack_w_f32(const float *w, int64_t n, int64_t cols, uint16_t *panel)
{
    const int64_t kp = mlxc_amx_kp(cols), np = (n + 31) / 32 * 32;
    for (int64_t r = 0; r < n; r++)
        for (int64_t k = 0; k < kp; k += 32)
            _mm512_storeu_si512(panel + r * kp + k, pairs32(w + r * cols + k, cols - k));
    memset(panel + n * kp, 0, (size_t)((np - n) * kp) * sizeof *panel);
}

void mlxc_amx_pack_w_bf16(const uint16_t *w, int64_t n, int64_t cols, uint16_t *panel)
{
    const int64_t kp = mlxc_amx_kp(cols), np = (n + 31) / 32 * 32;
    for (int64_t r = 0; r < n; r++) {
        memcpy(panel + r * kp, w + r * cols, (size_t)cols * sizeof *w);
        memset(panel + r * kp + cols, 0, (size_t)(kp - cols) * sizeof *w);
    }
    memset(panel + n * kp, 0, (size_t)((np - n) * kp) * sizeof *panel);
}

/* C tile (16 rows x 16 tokens, rows r0.., tokens t0..) into y (T, ldy), the parts inside n rows and T. */
static void store_c(const float c[16][16], int64_t r0, int64_t t0, int64_t n, int64_t T, float *y, int64_t ldy)
{
    const int nr = n - r0 < 16 ? (int)(n - r0) : 16, nt = T - t0 < 16 ? (int)(T - t0) : 16;
    for (int j = 0; j < nt; j++)
        for (int i = 0; i < nr; i++)
            y[(t0 + j) * ldy + r0 + i] = c[i][j];
}

void mlxc_amx_rows(const uint32_t *xp, int64_t T, int64_t cols, const uint16_t *panel, int64_t n, float *y,
                   int64_t ldy)
{
    const int64_t kp = mlxc_amx_kp(cols), np = kp / 2, tp = mlxc_amx_tp(T);
    tiles_configure();
    for (int64_t t = 0; t < tp; t += 32) {
        const uint32_t *b0 = xp + t / 16 * np * 16, *b1 = b0 + np * 16;
        for (int64_t r = 0; r < n; r += 32) {
            const uint16_t *a0 = panel + r * kp, *a1 = a0 + 16 * kp;
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            for (int64_t k = 0; k < kp; k += 32) {
                _tile_loadd(4, a0 + k, kp * 2);
                _tile_loadd(5, a1 + k, kp * 2);
                _tile_loadd(6, b0 + k / 2 * 16, 64);
                _tile_loadd(7, b1 + k / 2 * 16, 64);
                _tile_dpbf16ps(0, 4, 6);
                _tile_dpbf16ps(1, 4, 7);
                _tile_dpbf16ps(2, 5, 6);
                _tile_dpbf16ps(3, 5, 7);
            }
            float c[4][16][16];
            _tile_stored(0, c[0], 64);
            _tile_stored(1, c[1], 64);
            _tile_stored(2, c[2], 64);
            _tile_stored(3, c[3], 64);
            store_c(c[0], r, t, n, T, y, ldy);
            store_c(c[1], r, t + 16, n, T, y, ldy);
            store_c(c[2], r + 16, t, n, T, y, ldy);
            store_c(c[3], r + 16, t + 16, n, T, y, ldy);
        }
    }
    _tile_release();
}

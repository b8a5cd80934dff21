/* AMX bf16 products (see core/matmul_amx.h), compiled with -mamx-tile -mamx-bf16 -mavx512f -mavx512bf16
 * (and -ffp-contract=off: a dequantized weight is scale * q, then + bias, two roundings as elsewhere)
 * in a library of their own: nothing here runs unless mlxc_amx_usable() said yes.
 *
 * Tiles: A = 16 weight rows x 32 k (bf16), B = 32 k x 16 tokens (bf16 pairs), C = 16 rows x 16 tokens
 * (f32). Each block of 32 rows x 32 tokens holds four C tiles over all of k, which goes up in steps of 32
 * whatever T is: an output depends only on its row and its token, so a token's outputs are the same alone
 * or with any others (grouped prefill relies on it). */
#include "core/matmul_amx.h"

#include <immintrin.h>
#include <string.h>

#include "core/amx_tiles.h"

#include "quant/qformat.h"

/* Per block of 16 tokens and 32 k: each token's 16 pairs, transposed to 16 rows of 16 tokens. */
void mlxc_amx_pack_x(const float *x, int64_t T, int64_t cols, int64_t b0, int64_t b1, uint32_t *xp)
{
    const int64_t np = mlxc_amx_kp(cols) / 2;
    for (int64_t b = b0; b < b1; b++) {
        uint32_t *o = xp + b * np * 16;
        for (int64_t i = 0; i < np; i += 16) {
            __m512i r[16];
            for (int tt = 0; tt < 16; tt++) {
                const int64_t t = b * 16 + tt;
                r[tt] = t < T ? pairs32(x + t * cols + 2 * i, cols - 2 * i) : _mm512_setzero_si512();
            }
            transpose16(r);
            for (int j = 0; j < 16; j++)
                _mm512_storeu_si512(o + (i + j) * 16, r[j]);
        }
    }
}

/* The panel in tiles: 16 rows x 32 k each, 1 KB, row blocks of 16 one after the other, each its kp / 32
 * tiles in k order. The A tile (rb, ks) is at panel + (rb * kp / 32 + ks) * 512, rows 64 bytes apart. */
static uint16_t *panel_at(uint16_t *panel, int64_t kp, int64_t r, int64_t k)
{
    return panel + ((r / 16) * (kp / 32) + k / 32) * 512 + (r % 16) * 32;
}

void mlxc_amx_pad_rows(uint16_t *panel, int64_t n, int64_t cols)
{
    const int64_t kp = mlxc_amx_kp(cols), np = (n + 31) / 32 * 32;
    for (int64_t r = n; r < np; r++)
        for (int64_t k = 0; k < kp; k += 32)
            memset(panel_at(panel, kp, r, k), 0, 64);
}

void mlxc_amx_pack_w_f32(const float *w, int64_t r0, int64_t n, int64_t cols, uint16_t *panel)
{
    const int64_t kp = mlxc_amx_kp(cols);
    for (int64_t r = 0; r < n; r++)
        for (int64_t k = 0; k < kp; k += 32)
            _mm512_storeu_si512(panel_at(panel, kp, r0 + r, k), pairs32(w + r * cols + k, cols - k));
}

void mlxc_amx_pack_w_bf16(const uint16_t *w, int64_t r0, int64_t n, int64_t cols, uint16_t *panel)
{
    const int64_t kp = mlxc_amx_kp(cols);
    for (int64_t r = 0; r < n; r++)
        for (int64_t k = 0; k < kp; k += 32) {
            const int64_t m = cols - k < 32 ? cols - k : 32;
            const __mmask32 mask = m == 32 ? ~0u : (1u << m) - 1;
            _mm512_storeu_si512(panel_at(panel, kp, r0 + r, k), _mm512_maskz_loadu_epi16(mask, w + r * cols + k));
        }
}

int mlxc_amx_pack_w_affine(const struct mlxc_qmatrix *m, int64_t row0, int64_t n, uint16_t *panel)
{
    const int bits = m->q.bits, gs = m->q.group_size;
    if (m->q.mode != MLXC_Q_AFFINE || (bits != 4 && bits != 8) || gs % 32 != 0)
        return 0;
    const int64_t cols = m->cols, kp = mlxc_amx_kp(cols), groups = cols / gs, row_bytes = mlxc_qrow_bytes(m);
    const __m128i m4 = _mm_set1_epi8(0x0F);
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *w = (const uint8_t *)m->packed + (row0 + i) * row_bytes;
        for (int64_t c = 0; c < cols; c += 32) {
            const int64_t g = (row0 + i) * groups + c / gs;
            const __m512 s = _mm512_set1_ps(mlxc_load_scalar(m->scales, g, m->scale_dtype));
            const __m512 b = _mm512_set1_ps(mlxc_load_scalar(m->biases, g, m->scale_dtype));
            __m128i q0, q1; /* the 32 codes as bytes, in element order */
            if (bits == 4) { /* byte j holds elements 2j (low nibble) and 2j + 1 */
                const __m128i x = _mm_loadu_si128((const __m128i *)(w + c / 2));
                const __m128i lo = _mm_and_si128(x, m4), hi = _mm_and_si128(_mm_srli_epi16(x, 4), m4);
                q0 = _mm_unpacklo_epi8(lo, hi);
                q1 = _mm_unpackhi_epi8(lo, hi);
            } else {
                q0 = _mm_loadu_si128((const __m128i *)(w + c));
                q1 = _mm_loadu_si128((const __m128i *)(w + c + 16));
            }
            /* scale * q, then + bias: the two roundings of mlxc_dequantize_rows */
            const __m512 v0 = _mm512_add_ps(_mm512_mul_ps(s, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(q0))), b);
            const __m512 v1 = _mm512_add_ps(_mm512_mul_ps(s, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(q1))), b);
            _mm512_storeu_si512(panel_at(panel, kp, i, c), (__m512i)_mm512_cvtne2ps_pbh(v1, v0));
        }
    }
    return 1;
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
            const uint16_t *a0 = panel + r / 16 * (kp / 32) * 512, *a1 = a0 + kp / 32 * 512;
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            for (int64_t k = 0; k < kp; k += 32) {
                _tile_loadd(4, a0 + k * 16, 64);
                _tile_loadd(5, a1 + k * 16, 64);
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

/* ---- attention ---- */

static int64_t up16(int64_t n) { return (n + 15) / 16 * 16; }
static int64_t up32(int64_t n) { return (n + 31) / 32 * 32; }

size_t mlxc_amx_att_scratch(int64_t n, int nq, int hd)
{
    /* queries or weights in bf16 (up16(nq) rows of up32(n) or hd), and the keys or values re-laid */
    const int64_t a = up16(nq) * (up32(n) > hd ? up32(n) : hd), b = up32(n) * hd;
    return (size_t)(a + b) * sizeof(uint16_t) + 64;
}

/* nr rows of n floats (stride ld) into bf16 rows of np (a multiple of 32) with zeros past n and past
 * nr, up to up16(nr) rows. */
static void rows_to_bf16(const float *x, int64_t ld, int64_t nr, int64_t n, int64_t np, uint16_t *out)
{
    for (int64_t i = 0; i < up16(nr); i++)
        for (int64_t c = 0; c < np; c += 32)
            _mm512_storeu_si512(out + i * np + c, i < nr ? pairs32(x + i * ld + c, n - c) : _mm512_setzero_si512());
}

void mlxc_amx_att_scores(const uint16_t *k, int64_t ld, int64_t n, const float *q, int nq, int hd, float scale,
                         float *s, int64_t lds, void *scratch)
{
    const int ks = hd / 32; /* k-steps of 32 dims */
    uint16_t *qb = scratch;
    uint32_t *kt = (uint32_t *)(qb + up16(nq) * hd); /* per 16 keys and k-step: 16 rows (dim pairs) x 16 keys */
    rows_to_bf16(q, hd, nq, hd, hd, qb);
    for (int64_t b = 0; b < up16(n) / 16; b++)
        for (int st = 0; st < ks; st++) {
            __m512i r[16];
            for (int j = 0; j < 16; j++) {
                const int64_t p = b * 16 + j;
                r[j] = p < n ? _mm512_loadu_si512(k + p * ld + st * 32) : _mm512_setzero_si512();
            }
            transpose16(r);
            for (int i = 0; i < 16; i++)
                _mm512_storeu_si512(kt + ((b * ks + st) * 16 + i) * 16, r[i]);
        }
    tiles_configure();
    float c[16][16];
    for (int64_t b = 0; b < up16(n) / 16; b++)
        for (int64_t i0 = 0; i0 < nq; i0 += 16) {
            _tile_zero(0);
            for (int st = 0; st < ks; st++) {
                _tile_loadd(4, qb + i0 * hd + st * 32, hd * 2);
                _tile_loadd(5, kt + (b * ks + st) * 256, 64);
                _tile_dpbf16ps(0, 4, 5);
            }
            _tile_stored(0, c, 64);
            const int mi = nq - i0 < 16 ? (int)(nq - i0) : 16, mp = n - b * 16 < 16 ? (int)(n - b * 16) : 16;
            for (int i = 0; i < mi; i++)
                for (int j = 0; j < mp; j++)
                    s[(i0 + i) * lds + b * 16 + j] = scale * c[i][j];
        }
    _tile_release();
}

void mlxc_amx_att_values(const uint16_t *v, int64_t ld, int64_t n, const float *w, int nq, int64_t lds, int hd,
                         float *out, void *scratch)
{
    const int64_t np = up32(n);
    const int db = hd / 16; /* output tiles of 16 dims */
    uint16_t *wb = scratch;
    uint32_t *vp = (uint32_t *)(wb + up16(nq) * np); /* per 32 keys and 16 dims: 16 rows (key pairs) x 16 dims */
    rows_to_bf16(w, lds, nq, n, np, wb);
    /* row i of a tile: (v_2i[d], v_2i+1[d]) for its 16 dims d: the two keys' 16 values interleaved */
    const __m512i mix = _mm512_set_epi16(47, 15, 46, 14, 45, 13, 44, 12, 43, 11, 42, 10, 41, 9, 40, 8, 39, 7, 38, 6,
                                         37, 5, 36, 4, 35, 3, 34, 2, 33, 1, 32, 0);
    for (int64_t p0 = 0; p0 < np; p0 += 32)
        for (int d = 0; d < db; d++)
            for (int i = 0; i < 16; i++) {
                const int64_t p = p0 + 2 * i;
                const __m512i a = p < n ? _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(v + p * ld + d * 16)))
                                        : _mm512_setzero_si512();
                const __m512i b = p + 1 < n ? _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(v + (p + 1) * ld + d * 16)))
                                            : _mm512_setzero_si512();
                _mm512_storeu_si512(vp + ((p0 / 32 * db + d) * 16 + i) * 16, _mm512_permutex2var_epi16(a, mix, b));
            }
    tiles_configure();
    float c[16][16];
    for (int64_t i0 = 0; i0 < nq; i0 += 16)
        for (int d = 0; d < db; d++) {
            _tile_zero(0);
            for (int64_t p0 = 0; p0 < np; p0 += 32) {
                _tile_loadd(4, wb + i0 * np + p0, np * 2);
                _tile_loadd(5, vp + (p0 / 32 * db + d) * 256, 64);
                _tile_dpbf16ps(0, 4, 5);
            }
            _tile_stored(0, c, 64);
            const int mi = nq - i0 < 16 ? (int)(nq - i0) : 16;
            for (int i = 0; i < mi; i++)
                memcpy(out + (i0 + i) * hd + d * 16, c[i], 16 * sizeof(float));
        }
    _tile_release();
}

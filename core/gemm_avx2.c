/* f32 products on weight panels with AVX2 + FMA (contracts and layout in core/gemm.h; built with -mavx2
 * -mfma -mf16c). The kernel keeps a tile of 6 tokens x 16 rows in 12 registers; per column it loads the
 * sliver's 16 weights (two vectors) and broadcasts each token's x: 12 FMAs for 8 loads, which leaves the
 * two FMA ports as the limit. Per block of MLXC_GEMM_KC columns, each tile of tokens (6 KB of x) stays in L1
 * while the panel's slivers stream from L2; between blocks the sums wait in y. Slivers in L1 and tokens
 * streaming instead ran at 80-85% of the FMA rate against 95-100% this way (one core of the session VM). */
#include <immintrin.h>
#include <string.h>

#include "core/gemm.h"

enum { MR = 6, NR = 16 }; /* NR: a sliver, as mlxc_gemm_npad counts */

/* Sums of MR tokens (x rows at xt[i], the same pointer repeated past the last token) x one sliver of kb
 * columns into c (ldc), starting from c's values when `load`, else from 0. */
static void tile_6x16(const float *const xt[MR], const float *w, int64_t kb, float *c, int64_t ldc, int load)
{
    __m256 a[MR][2];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
        a[i][0] = load ? _mm256_loadu_ps(c + i * ldc) : _mm256_setzero_ps();
        a[i][1] = load ? _mm256_loadu_ps(c + i * ldc + 8) : _mm256_setzero_ps();
    }
    const float *x0 = xt[0], *x1 = xt[1], *x2 = xt[2], *x3 = xt[3], *x4 = xt[4], *x5 = xt[5];
#pragma GCC unroll 4
    for (int64_t k = 0; k < kb; k++, w += NR) {
        /* the sliver's column 16 ahead (one line per column): the L2 streamer alone left the loads waiting */
        _mm_prefetch((const char *)(w + 16 * NR), _MM_HINT_T0);
        const __m256 w0 = _mm256_load_ps(w), w1 = _mm256_load_ps(w + 8);
        __m256 b;
#define STEP(i, xi)                                                                                                  \
    b = _mm256_broadcast_ss(xi + k);                                                                                 \
    a[i][0] = _mm256_fmadd_ps(b, w0, a[i][0]);                                                                       \
    a[i][1] = _mm256_fmadd_ps(b, w1, a[i][1]);
        STEP(0, x0) STEP(1, x1) STEP(2, x2) STEP(3, x3) STEP(4, x4) STEP(5, x5)
#undef STEP
    }
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
        _mm256_storeu_ps(c + i * ldc, a[i][0]);
        _mm256_storeu_ps(c + i * ldc + 8, a[i][1]);
    }
}

void mlxc_gemm_rows(const float *x, int64_t T, int64_t cols, const float *panel, int64_t n, float *y, int64_t ldy)
{
    const int64_t npad = mlxc_gemm_npad(n);
    for (int64_t k0 = 0; k0 < cols; k0 += MLXC_GEMM_KC) {
        const int64_t kb = cols - k0 < MLXC_GEMM_KC ? cols - k0 : MLXC_GEMM_KC;
        const float *block = panel + k0 * npad;
        for (int64_t t0 = 0; t0 < T; t0 += MR) { /* the tokens' x in L1 while the slivers pass */
            const int nt = T - t0 < MR ? (int)(T - t0) : MR;
            const float *xt[MR];
            for (int i = 0; i < MR; i++)
                xt[i] = x + (t0 + (i < nt ? i : nt - 1)) * cols + k0;
            for (int64_t s = 0; s < npad; s += NR) {
                const int nr = n - s < NR ? (int)(n - s) : NR;
                float *ys = y + t0 * ldy + s;
                if (nt == MR && nr == NR) {
                    tile_6x16(xt, block + s * kb, kb, ys, ldy, k0 > 0);
                    continue;
                }
                /* a partial tile: through a full one on the stack */
                float c[MR * NR] __attribute__((aligned(32))) = {0};
                for (int i = 0; i < nt && k0 > 0; i++)
                    memcpy(c + i * NR, ys + i * ldy, sizeof(float) * (size_t)nr);
                tile_6x16(xt, block + s * kb, kb, c, NR, k0 > 0);
                for (int i = 0; i < nt; i++)
                    memcpy(ys + i * ldy, c + i * NR, sizeof(float) * (size_t)nr);
            }
        }
    }
}

/* Transposes 8 rows of 8 floats: out[j] = (r[0][j], ..., r[7][j]). */
static inline void transpose8(__m256 r[8])
{
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

/* The packers share one body: LOAD8(row, k) gives 8 floats of a row from column k, SCALAR(row, k) one. */
static inline __m256 load8_f32(const void *row, int64_t k) { return _mm256_loadu_ps((const float *)row + k); }
static inline __m256 load8_bf16(const void *row, int64_t k)
{
    const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + k)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}
static inline __m256 load8_f16(const void *row, int64_t k)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + k)));
}
static inline float scalar_f32(const void *row, int64_t k) { return ((const float *)row)[k]; }
static inline float scalar_bf16(const void *row, int64_t k)
{
    const uint32_t u = (uint32_t)((const uint16_t *)row)[k] << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static inline float scalar_f16(const void *row, int64_t k) { return _cvtsh_ss(((const uint16_t *)row)[k]); }

/* Sliver rows r0 .. r0 + 15 of every column block from n source rows (rows at src + i * row_bytes). */
#define DEFINE_PACK(NAME, T, LOAD8, SCALAR)                                                                          \
    void NAME(const T *w, int64_t ldw, int64_t n, int64_t cols, int64_t r0, int64_t npad, float *panel)              \
    {                                                                                                                \
        for (int64_t k0 = 0; k0 < cols; k0 += MLXC_GEMM_KC) {                                                        \
            const int64_t kb = cols - k0 < MLXC_GEMM_KC ? cols - k0 : MLXC_GEMM_KC;                                  \
            float *dst = panel + k0 * npad + r0 * kb; /* the sliver: kb rows of 16 */                                \
            for (int h = 0; h < 2; h++) {             /* sliver rows 8h .. 8h + 7 */                                 \
                const T *rows[8];                                                                                    \
                int live[8];                                                                                         \
                for (int i = 0; i < 8; i++) {                                                                        \
                    live[i] = 8 * h + i < n;                                                                         \
                    rows[i] = live[i] ? w + (8 * h + i) * ldw : w;                                                   \
                }                                                                                                    \
                int64_t k = 0;                                                                                       \
                for (; k + 8 <= kb; k += 8) {                                                                        \
                    __m256 r[8];                                                                                     \
                    for (int i = 0; i < 8; i++)                                                                      \
                        r[i] = live[i] ? LOAD8(rows[i], k0 + k) : _mm256_setzero_ps();                               \
                    transpose8(r);                                                                                   \
                    for (int j = 0; j < 8; j++)                                                                      \
                        _mm256_store_ps(dst + (k + j) * NR + 8 * h, r[j]);                                           \
                }                                                                                                    \
                for (; k < kb; k++)                                                                                  \
                    for (int i = 0; i < 8; i++)                                                                      \
                        dst[k * NR + 8 * h + i] = live[i] ? SCALAR(rows[i], k0 + k) : 0.0f;                          \
            }                                                                                                        \
        }                                                                                                            \
    }

DEFINE_PACK(mlxc_gemm_pack_f32, float, load8_f32, scalar_f32)
DEFINE_PACK(mlxc_gemm_pack_bf16, uint16_t, load8_bf16, scalar_bf16)
DEFINE_PACK(mlxc_gemm_pack_f16, uint16_t, load8_f16, scalar_f16)

/* Decode attention on a bf16 cache (core/att_amx.h), built with the AMX library's flags.
 *
 * Decode reads every cached key and value once per token and does 2 * group flops per element it reads:
 * with 4 query heads per kv head, f32 FMAs on 256-bit vectors keep a core busy at about the rate its
 * share of memory delivers, so attention at long context ran at the cores' speed, not the memory's.
 *
 * Scores on tiles. A = 16 cached rows x 32 dims, loaded from the cache where it lies (the cache's row
 * stride); B = 32 dims x 16 columns, column 3i + j holding part j of query i of a run of up to RUN
 * queries of one kv head; C = 16 rows x 16 columns of f32 sums. Each query is split into three bf16
 * parts, hi = bf16(q), mid = bf16(q - hi), lo = bf16(q - hi - mid), whose sum is q to f32 precision
 * (8 + 8 + 8 bits of mantissa), and bf16 x bf16 products are exact in f32: the score is the f32 sum of
 * q . k, not of a rounded q. C is transposed in registers (columns become 16-row vectors) and each
 * query's three columns added: (hi + mid) + lo.
 *
 * Values by AVX-512 FMAs: a kv head's block of rows, converted from bf16 by a shift (even elements)
 * and a mask (odd ones), times four queries' weights broadcast, into 4 queries x 64 dims of f32 sums
 * held in 16 registers across the block. The sums are kept in that even/odd order and put back in
 * order at the end.
 *
 * Between the two, each score row's max and exp sum on 16 lanes (the AVX2 kernels' exp on 8). */
#include "core/att_amx.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "core/amx_tiles.h"
#include "core/exp_poly.h"

enum {
    RUN = 5,     /* queries per B tile: three columns each */
    VBLOCK = 64, /* values: rows per block, the next prefetched (32: 1-4 points less of decode 4096/128) */
    AHEAD = 1,   /* scores: blocks of 16 rows prefetched ahead */
};

#define INLINE static inline __attribute__((always_inline))

static int64_t runs_of(int nq, int group) { return (int64_t)(nq / group) * ((group + RUN - 1) / RUN); }

size_t mlxc_amx_decode_scratch(int nq, int group, int hd)
{
    const size_t tiles = (size_t)runs_of(nq, group) * (size_t)(hd / 32) * 1024;
    return tiles + 16 * (size_t)(nq / group) * (size_t)hd * sizeof(uint16_t) + 64;
}

/* 16 bf16 (a 256-bit half of a pair vector) back to f32. */
INLINE __m512 bf16_to_f32(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }

/* The three bf16 parts of 32 floats at x, each as 16 pairs (dims 2t, 2t + 1 in word t). */
INLINE void split3(const float *x, __m512i part[3])
{
    __m512 lo = _mm512_loadu_ps(x), hi = _mm512_loadu_ps(x + 16);
    for (int j = 0; j < 3; j++) {
        part[j] = (__m512i)_mm512_cvtne2ps_pbh(hi, lo); /* round to nearest even; x[0..15] in the low half */
        lo = _mm512_sub_ps(lo, bf16_to_f32(_mm512_castsi512_si256(part[j])));
        hi = _mm512_sub_ps(hi, bf16_to_f32(_mm512_extracti64x4_epi64(part[j], 1)));
    }
}

/* The B tiles of every run of queries (kv head after kv head, RUN queries at a time) and dims step st:
 * tile (run, st) at bt + (run * steps + st) * 256 words, row t = dims st * 32 + 2t, +1 of its 16 columns. */
static void pack_queries(const float *q, int nq, int group, int hd, uint32_t *bt)
{
    const int steps = hd / 32;
    int64_t run = 0;
    for (int h = 0; h < nq / group; h++)
        for (int i0 = 0; i0 < group; i0 += RUN, run++) {
            const int m = group - i0 < RUN ? group - i0 : RUN;
            for (int st = 0; st < steps; st++) {
                __m512i col[16];
                for (int c = 0; c < 16; c++)
                    col[c] = _mm512_setzero_si512();
                for (int i = 0; i < m; i++)
                    split3(q + (int64_t)(h * group + i0 + i) * hd + st * 32, col + 3 * i);
                transpose16(col);
                for (int t = 0; t < 16; t++)
                    _mm512_storeu_si512(bt + ((run * steps + st) * 16 + t) * 16, col[t]);
            }
        }
}

/* C (16 rows x 16 columns at c) to the run's scores of rows p0..p0 + np - 1. */
INLINE void store_scores(const float c[16][16], int m, float scale, float *s, int64_t lds, int np)
{
    __m512i r[16];
    for (int t = 0; t < 16; t++)
        r[t] = _mm512_loadu_si512(c[t]);
    transpose16(r); /* r[col]: the column over the 16 rows */
    const __mmask16 keep = np >= 16 ? 0xFFFF : (__mmask16)((1u << np) - 1);
    const __m512 sv = _mm512_set1_ps(scale);
    for (int i = 0; i < m; i++) {
        const __m512 sum = _mm512_add_ps(_mm512_add_ps(_mm512_castsi512_ps(r[3 * i]), _mm512_castsi512_ps(r[3 * i + 1])),
                                         _mm512_castsi512_ps(r[3 * i + 2]));
        _mm512_mask_storeu_ps(s + i * lds, keep, _mm512_mul_ps(sum, sv));
    }
}

void mlxc_amx_decode_scores(const uint16_t *k, int64_t ld, int64_t n, const float *q, int nq, int group, int hd,
                            float scale, float *s, int64_t lds, void *scratch)
{
    const int steps = hd / 32, heads = nq / group;
    uint32_t *bt = scratch;
    uint16_t *tail = (uint16_t *)(bt + runs_of(nq, group) * steps * 256); /* the last rows, zero-padded to 16 */
    const int64_t span = (int64_t)heads * hd;
    pack_queries(q, nq, group, hd, bt);
    tiles_configure();
    float c[16][16] __attribute__((aligned(64)));
    for (int64_t p0 = 0; p0 < n; p0 += 16) {
        const int np = n - p0 < 16 ? (int)(n - p0) : 16;
        const uint16_t *rows = k + p0 * ld;
        int64_t stride = ld;
        if (np < 16) { /* a tile load reads 16 rows: never past the cache's last */
            memset(tail, 0, 16 * (size_t)span * sizeof *tail);
            for (int r = 0; r < np; r++)
                memcpy(tail + r * span, rows + r * ld, (size_t)span * sizeof *tail);
            rows = tail;
            stride = span;
        }
        /* the next block's lines, a kv head's share at a time (AHEAD blocks on) */
        const unsigned char *next = (const unsigned char *)(k + (p0 + 16 * AHEAD) * ld);
        const int64_t ahead = n - p0 - 16 * AHEAD < 16 ? n - p0 - 16 * AHEAD : 16, line_bytes = span * 2;
        int64_t run = 0;
        for (int h = 0; h < heads; h++) {
            for (int64_t r = 0; r < ahead; r++)
                for (int64_t b = (int64_t)h * line_bytes / heads; b < (int64_t)(h + 1) * line_bytes / heads; b += 64)
                    _mm_prefetch((const char *)next + r * ld * 2 + b, _MM_HINT_T0);
            for (int i0 = 0; i0 < group; i0 += RUN, run++) {
                _tile_zero(0);
                for (int st = 0; st < steps; st++) {
                    _tile_loadd(1, rows + h * hd + st * 32, stride * 2);
                    _tile_loadd(2, bt + (run * steps + st) * 256, 64);
                    _tile_dpbf16ps(0, 1, 2);
                }
                _tile_stored(0, c, 64);
                store_scores(c, group - i0 < RUN ? group - i0 : RUN, scale, s + (h * group + i0) * lds + p0, lds, np);
            }
        }
    }
    _tile_release();
}

/* o[i][0..W) += sum_p wq[i * VBLOCK + p] * row_p[0..W) for the nb rows at v (ld apart), W = 64 (wide) or 32
 * dims, o in even/odd order per 32 dims; prefetches the same dims of the next block's first nnext rows. */
INLINE void values_slice(const uint16_t *v, int64_t ld, int nb, int nnext, const float *wq, float *const o[4], int wide)
{
    const __m512i odd = _mm512_set1_epi32((int)0xFFFF0000u);
    const int nv = wide ? 4 : 2;
    __m512 acc[4][4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < nv; j++)
            acc[i][j] = _mm512_loadu_ps(o[i] + 16 * j);
    for (int p = 0; p < nb; p++) {
        if (p < nnext) /* the same dims of the next block's row p */
            for (int j = 0; j < nv; j += 2)
                _mm_prefetch((const char *)(v + (p + VBLOCK) * ld + 16 * j), _MM_HINT_T0);
        __m512 x[4];
        for (int j = 0; j < nv; j += 2) {
            const __m512i a = _mm512_loadu_si512(v + p * ld + 16 * j);
            x[j] = _mm512_castsi512_ps(_mm512_slli_epi32(a, 16)); /* dims 0, 2, .., 30 of these 32 */
            x[j + 1] = _mm512_castsi512_ps(_mm512_and_si512(a, odd)); /* dims 1, 3, .., 31 */
        }
        for (int i = 0; i < 4; i++) {
            const __m512 wb = _mm512_set1_ps(wq[i * VBLOCK + p]);
            for (int j = 0; j < nv; j++)
                acc[i][j] = _mm512_fmadd_ps(wb, x[j], acc[i][j]);
        }
    }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < nv; j++)
            _mm512_storeu_ps(o[i] + 16 * j, acc[i][j]);
}

/* Each 32 dims of an output row from even/odd order back to natural order. */
static void natural_order(float *o, int hd)
{
    const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __m512i hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
    for (int d = 0; d < hd; d += 32) {
        const __m512 even = _mm512_loadu_ps(o + d), odd = _mm512_loadu_ps(o + d + 16);
        _mm512_storeu_ps(o + d, _mm512_permutex2var_ps(even, lo, odd));
        _mm512_storeu_ps(o + d + 16, _mm512_permutex2var_ps(even, hi, odd));
    }
}

void mlxc_amx_decode_values(const uint16_t *v, int64_t ld, int64_t n, const float *w, int nq, int group,
                            int64_t lds, int hd, float *out)
{
    float wq[4 * VBLOCK] __attribute__((aligned(64))); /* a quad's weights for the block: [query][row] */
    float spare[64] __attribute__((aligned(64)));      /* sums of the queries past a quad's end */
    memset(out, 0, (size_t)nq * (size_t)hd * sizeof *out);
    memset(spare, 0, sizeof spare);
    for (int64_t p0 = 0; p0 < n; p0 += VBLOCK) {
        const int nb = n - p0 < VBLOCK ? (int)(n - p0) : VBLOCK;
        const int nnext = n - p0 - nb < VBLOCK ? (int)(n - p0 - nb) : VBLOCK;
        for (int h = 0; h < nq / group; h++)
            for (int i0 = 0; i0 < group; i0 += 4) {
                const int m = group - i0 < 4 ? group - i0 : 4;
                float *o[4];
                for (int i = 0; i < 4; i++) {
                    const int64_t row = h * group + i0 + i;
                    if (i < m)
                        memcpy(wq + i * VBLOCK, w + row * lds + p0, (size_t)nb * sizeof *wq);
                    else
                        memset(wq + i * VBLOCK, 0, sizeof *wq * VBLOCK);
                    o[i] = i < m ? out + row * hd : spare;
                }
                const uint16_t *rows = v + p0 * ld + h * hd;
                for (int d = 0; d < hd; d += 64) {
                    float *od[4];
                    for (int i = 0; i < 4; i++)
                        od[i] = o[i] == spare ? spare : o[i] + d;
                    if (hd - d >= 64)
                        values_slice(rows + d, ld, nb, nnext, wq, od, 1);
                    else
                        values_slice(rows + d, ld, nb, nnext, wq, od, 0);
                }
            }
    }
    for (int i = 0; i < nq; i++)
        natural_order(out + (int64_t)i * hd, hd);
}

/* e^x for x <= 0 on 16 lanes: the AVX2 kernels' exp_neg, the same constants (core/exp_poly.h). */
INLINE __m512 exp_neg16(__m512 x)
{
    const __m512 lo = _mm512_set1_ps(EXP_MIN);
    const __mmask16 keep = _mm512_cmp_ps_mask(x, lo, _CMP_GE_OQ);
    x = _mm512_max_ps(x, lo);
    const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(EXP_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(EXP_LN2_HI), x);
    r = _mm512_fnmadd_ps(k, _mm512_set1_ps(EXP_LN2_LO), r);
    __m512 p = _mm512_set1_ps(EXP_P[0]);
    for (int i = 1; i < 6; i++)
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_P[i]));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    const __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(k), _mm512_set1_epi32(127)), 23);
    return _mm512_maskz_mul_ps(keep, p, _mm512_castsi512_ps(e));
}

float mlxc_amx_decode_exp(float *s, int64_t n, float *m)
{
    const __mmask16 tail = (__mmask16)((1u << (n % 16)) - 1);
    const int64_t whole = n - n % 16;
    __m512 mx = _mm512_set1_ps(-INFINITY);
    for (int64_t i = 0; i < whole; i += 16)
        mx = _mm512_max_ps(mx, _mm512_loadu_ps(s + i));
    mx = _mm512_mask_max_ps(mx, tail, mx, _mm512_maskz_loadu_ps(tail, s + whole));
    *m = _mm512_reduce_max_ps(mx);
    const __m512 mv = _mm512_set1_ps(*m);
    __m512 sum = _mm512_setzero_ps();
    for (int64_t i = 0; i < whole; i += 16) {
        const __m512 e = exp_neg16(_mm512_sub_ps(_mm512_loadu_ps(s + i), mv));
        _mm512_storeu_ps(s + i, e);
        sum = _mm512_add_ps(sum, e);
    }
    const __m512 e = _mm512_maskz_mov_ps(tail, exp_neg16(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, s + whole), mv)));
    _mm512_mask_storeu_ps(s + whole, tail, e);
    return _mm512_reduce_add_ps(_mm512_add_ps(sum, e));
}

/* What the AVX2 attention kernels share (kernels_att_avx2.c: float caches, kernels_attq_avx2.c: quantized
 * ones): register pinning, row loads, the prefetch cursor, the query quads and the values kernel. Only for files built with -mavx2 -mfma. */
#ifndef MLXC_ATT_AVX2_H
#define MLXC_ATT_AVX2_H

#include <immintrin.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/avx2_util.h"
#include "core/dtype.h"
#include "core/ops.h"

enum {
    MAX_HD = 1024,       /* head_dim cap of core/config.c */
    PREFETCH_ROWS = 8,   /* scores: how far ahead rows are prefetched */
    VALUE_BLOCK = 16384, /* values: bytes of the rows of a block (4 to MAX_BLOCK_ROWS), the next block prefetched */
    MAX_BLOCK_ROWS = 32,
    DECODE_QUERIES = 64, /* decode in one pass: most queries (their block of scores on the stack) */
};

#define INLINE static inline __attribute__((always_inline))

/* Makes the compiler hold v in a register here: gcc folds a vector load into every FMA that uses it,
 * which doubles the loads where a vector feeds two FMAs. */
#define in_register(v) __asm__("" : "+x"(v))

/* Prefetches into L1 the rows ahead, a few cache lines at a time between pieces of arithmetic: a core
 * holds few misses in flight (on Intel 16 L1 fill buffers), and a burst of a block's lines stalls it
 * until they arrive. The cursor walks `span` bytes of each row, rows rb bytes apart. */
struct prefetcher {
    const unsigned char *row;
    size_t rb, span, off;
    int64_t rows; /* rows left */
};

INLINE struct prefetcher prefetcher_at(const unsigned char *row, size_t rb, size_t span, int64_t rows)
{
    return (struct prefetcher){row, rb, span, 0, rows > 0 ? rows : 0};
}

/* Cache lines the cursor issues for one row. */
INLINE int64_t row_lines(size_t span) { return (int64_t)((span + 63) / 64); }

INLINE void prefetch_lines(struct prefetcher *pf, int64_t lines)
{
    for (; lines > 0 && pf->rows > 0; lines--) {
        _mm_prefetch((const char *)pf->row + pf->off, _MM_HINT_T0);
        pf->off += 64;
        if (pf->off >= pf->span) {
            pf->off = 0;
            pf->row += pf->rb;
            pf->rows--;
        }
    }
}

/* `lines` shared evenly by `pieces`: piece j takes each + (j < extra), which add up to exactly `lines`
 * (worked out once per call: a division per piece cost more than the piece's prefetches). */
struct shares {
    int64_t each, extra;
};

INLINE struct shares shares_of(int64_t lines, int64_t pieces) { return (struct shares){lines / pieces, lines % pieces}; }
INLINE int64_t share(struct shares s, int64_t j) { return s.each + (j < s.extra); }

/* Row i of a quad of m <= 4 queries: the first repeated past m. */
INLINE int64_t quad_row(int i, int m) { return i < m ? i : 0; }

/* Decode's quads: 4 queries that lie together, G to a kv head. G = 4 where a head has 3 or more query
 * heads, or heads do not fill whole quads (each head's queries padded to a multiple of 4); else the group
 * itself, 1 or 2 (MHA models, or 2 query heads per kv head), a quad spanning 4 / G heads. */
INLINE int quad_group(int nq, int group)
{
    const int heads = nq / group;
    return (group == 1 && heads % 4 == 0) || (group == 2 && heads % 2 == 0) ? group : 4;
}

/* Decode's query rows per kv head: G = 1 or 2, the group itself; G = 4, the group padded to whole quads. */
INLINE int quad_rows(int group, int G) { return G < 4 ? G : (group + 3) / 4 * 4; }

INLINE __m256 load8(const unsigned char *row, int64_t k, enum mlxc_dtype dt)
{
    return dt == MLXC_F32 ? load8_f32(row, k) : dt == MLXC_F16 ? load8_f16(row, k) : load8_bf16(row, k);
}

/* Elements k..k+15 of a row as f32 in two vectors. f32, f16 and u8 (codes): natural order, a = k..k+7, b = k+8..k+15.
 * bf16 (the top half of an f32) interleaved with zeros, per 128-bit lane: "paired" order,
 * a = k..k+3, k+8..k+11 and b = k+4..k+7, k+12..k+15. */
INLINE void load16(const unsigned char *row, int64_t k, enum mlxc_dtype dt, __m256 *a, __m256 *b)
{
    if (dt == MLXC_U8) { /* quantized codes, one per byte */
        *a = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(row + k))));
        *b = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(row + k + 8))));
    } else if (dt == MLXC_BF16) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(row + 2 * k));
        in_register(x);
        const __m256i z = _mm256_setzero_si256();
        *a = _mm256_castsi256_ps(_mm256_unpacklo_epi16(z, x));
        *b = _mm256_castsi256_ps(_mm256_unpackhi_epi16(z, x));
    } else {
        *a = load8(row, k, dt);
        *b = load8(row, k + 8, dt);
    }
}

/* out[i][d] += sum_p w(g, i, p) * row_p[d] over the nb rows at v (rb bytes apart, v at the quad's kv head)
 * for the quad's outputs o[0..3], g = d / gs: the quad's weights per group of gs dimensions (float
 * caches: gs = hd, one group), w(g, i, p) = wq[(g * 4 + i) * MAX_BLOCK_ROWS + p] (a row of weights per
 * query). pf issues the quad's share of the next block's lines meanwhile, a share per 16 dimensions. Rows
 * in load16's order (bf16: out paired too). */
INLINE void values_quad(const unsigned char *v, size_t rb, int nb, const float *wq, int hd, int gs, float *const o[4],
                        struct prefetcher *pf, struct shares slice, enum mlxc_dtype dt)
{
    for (int d = 0; d < hd; d += 16) {
        prefetch_lines(pf, share(slice, d / 16));
        __m256 a0 = _mm256_loadu_ps(o[0] + d), b0 = _mm256_loadu_ps(o[0] + d + 8);
        __m256 a1 = _mm256_loadu_ps(o[1] + d), b1 = _mm256_loadu_ps(o[1] + d + 8);
        __m256 a2 = _mm256_loadu_ps(o[2] + d), b2 = _mm256_loadu_ps(o[2] + d + 8);
        __m256 a3 = _mm256_loadu_ps(o[3] + d), b3 = _mm256_loadu_ps(o[3] + d + 8);
        const unsigned char *r = v;
        const float *w = wq + (d / gs) * 4 * MAX_BLOCK_ROWS;
        for (int p = 0; p < nb; p++, r += rb, w++) {
            __m256 v0, v1;
            load16(r, d, dt, &v0, &v1);
            __m256 x = _mm256_broadcast_ss(w);
            a0 = _mm256_fmadd_ps(x, v0, a0);
            b0 = _mm256_fmadd_ps(x, v1, b0);
            x = _mm256_broadcast_ss(w + MAX_BLOCK_ROWS);
            a1 = _mm256_fmadd_ps(x, v0, a1);
            b1 = _mm256_fmadd_ps(x, v1, b1);
            x = _mm256_broadcast_ss(w + 2 * MAX_BLOCK_ROWS);
            a2 = _mm256_fmadd_ps(x, v0, a2);
            b2 = _mm256_fmadd_ps(x, v1, b2);
            x = _mm256_broadcast_ss(w + 3 * MAX_BLOCK_ROWS);
            a3 = _mm256_fmadd_ps(x, v0, a3);
            b3 = _mm256_fmadd_ps(x, v1, b3);
        }
        /* padded queries alias o[0] and hold the same sums: o[0] last */
        _mm256_storeu_ps(o[3] + d, a3);
        _mm256_storeu_ps(o[3] + d + 8, b3);
        _mm256_storeu_ps(o[2] + d, a2);
        _mm256_storeu_ps(o[2] + d + 8, b2);
        _mm256_storeu_ps(o[1] + d, a1);
        _mm256_storeu_ps(o[1] + d + 8, b1);
        _mm256_storeu_ps(o[0] + d, a0);
        _mm256_storeu_ps(o[0] + d + 8, b0);
    }
}

/* A one-pass decode's running softmax over blocks of rows (flash-decoding within a chunk): the block's
 * scores sb (score of query i, row p at sb[p * ld + i]; ld the queries padded to whole vectors, the
 * padding lanes 0), each query's max m and sum l so far, and the block's alpha = e^(m_old - m_new), by
 * which the outputs so far are rescaled. */
struct online_softmax {
    float sb[MAX_BLOCK_ROWS * DECODE_QUERIES] __attribute__((aligned(32)));
    float m[DECODE_QUERIES] __attribute__((aligned(32))), l[DECODE_QUERIES] __attribute__((aligned(32)));
    float alpha[DECODE_QUERIES] __attribute__((aligned(32)));
    int64_t ld;
};

/* Starts it for nq <= DECODE_QUERIES queries and blocks of up to `rows` rows. */
INLINE void online_start(struct online_softmax *os, int nq, int64_t rows)
{
    os->ld = (nq + 7) / 8 * 8;
    for (int64_t i = 0; i < os->ld; i++) {
        os->m[i] = -INFINITY;
        os->l[i] = 0.0f;
    }
    memset(os->sb, 0, (size_t)(rows * os->ld) * sizeof *os->sb); /* the padding lanes stay 0 */
}

/* Folds a block's scores (nb rows of sb) in, 8 queries per vector: per query m_new = max(m, max_p s_p),
 * alpha = e^(m - m_new), s_p = e^(s_p - m_new) in place, l = alpha l + sum_p s_p, m = m_new (the softcap
 * first, where the model has one). */
INLINE void online_block(struct online_softmax *os, int nb, float softcap)
{
    const int64_t ld = os->ld;
    float *sb = os->sb;
    if (softcap != 0.0f) /* the padding lanes are 0 and stay 0 */
        mlxc_softcap(sb, nb * ld, softcap);
    for (int64_t i = 0; i < ld; i += 8) {
        const __m256 m0 = _mm256_load_ps(os->m + i);
        __m256 mx = m0, sum = _mm256_setzero_ps();
        for (int p = 0; p < nb; p++)
            mx = _mm256_max_ps(mx, _mm256_load_ps(sb + p * ld + i));
        for (int p = 0; p < nb; p++) {
            const __m256 e = exp_neg(_mm256_sub_ps(_mm256_load_ps(sb + p * ld + i), mx));
            _mm256_store_ps(sb + p * ld + i, e);
            sum = _mm256_add_ps(sum, e);
        }
        const __m256 a = exp_neg(_mm256_sub_ps(m0, mx));
        _mm256_store_ps(os->alpha + i, a);
        _mm256_store_ps(os->l + i, _mm256_fmadd_ps(a, _mm256_load_ps(os->l + i), sum));
        _mm256_store_ps(os->m + i, mx);
    }
}

/* A decode's queries with each of the heads' group rows padded to gp (whole quads) by copies of its first:
 * row h * gp + i of qp = query h * group + (i < group ? i : 0). */
INLINE void pad_queries(const float *q, int heads, int group, int gp, int hd, float *qp)
{
    for (int h = 0; h < heads; h++)
        for (int i = 0; i < gp; i++)
            memcpy(qp + (int64_t)(h * gp + i) * hd, q + (int64_t)(h * group + (i < group ? i : 0)) * hd,
                   (size_t)hd * sizeof *qp);
}

/* Each real query's max and sum into m and l, and its output row of op into out where op is padded
 * (op != out): query h * group + i is row h * gp + i of the padded ones, the padding rows dropped. */
INLINE void online_end(const struct online_softmax *os, int heads, int group, int gp, int hd, const float *op,
                       float *m, float *l, float *out)
{
    for (int h = 0; h < heads; h++)
        for (int i = 0; i < group; i++) {
            m[h * group + i] = os->m[h * gp + i];
            l[h * group + i] = os->l[h * gp + i];
            if (op != out)
                memcpy(out + (int64_t)(h * group + i) * hd, op + (int64_t)(h * gp + i) * hd, (size_t)hd * sizeof *out);
        }
}

/* Rows per block of the values kernels: VALUE_BLOCK bytes of rows of `span` bytes, 4 to MAX_BLOCK_ROWS. */
INLINE int64_t block_rows(size_t span)
{
    const int64_t fit = (int64_t)(VALUE_BLOCK / span);
    return fit < 4 ? 4 : fit > MAX_BLOCK_ROWS ? MAX_BLOCK_ROWS : fit;
}

#endif

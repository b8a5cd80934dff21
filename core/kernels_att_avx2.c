/* AVX2 attention kernels (contracts in core/kernels.h): scores q.k and weighted sums of values over n
 * cached rows, for nq queries in groups that share a kv head (decode: every kv head of a row at once;
 * prefill: the tokens x query heads of one kv head). Decode at long context reads every cached row once
 * per token and does 2 * group flops per element it reads, so these loops are written to keep the two
 * FMA ports busy with few loads (a core loads two 256-bit vectors per cycle, not more):
 *   - rows stream front to back, each row's every head used before the next row (the cache is
 *     slot-major: one sequential read); the rows ahead (scores: PREFETCH_ROWS on, values: the next
 *     block) are prefetched a few lines per quad, never in bursts (struct prefetcher);
 *   - rows are converted to f32 in registers, 16 elements at a time, never through a buffer; bf16 by
 *     interleaving with zeros (a shuffle), which leaves the 16 in "paired" order (load16), so the
 *     queries are permuted to match (in a buffer, once per call) and the outputs back;
 *   - queries go four at a time (a quad, within one kv head): scores keep 4 queries x 2 rows of
 *     accumulators and load each query vector once for both rows (one hsum8x8 gives the 8 results);
 *     values keep 4 queries x 16 dimensions of output in registers across a block of rows (VALUE_BLOCK
 *     bytes), which stays in L1 while every quad and dimension uses it;
 *   - decode (att_decode) goes through the rows once, block by block: a block's scores (in L1), its
 *     softmax folded into running maxima and sums (flash-decoding within the chunk), its values; this
 *     skips the scores' trip through L2 and the separate max and exp passes of scores-then-values
 *     (about 5-10% less time than the two passes on the lent Xeon, bench/results/llama1b_session17.txt);
 *     its loops (quad_scores, quad_values) are the plainest: whole quads (a quad spans 4 or 2 kv heads
 *     where a head has 1 or 2 queries, else each head's queries are padded to a multiple of 4 once per
 *     call), no prefetch cursor; at head size 64 about 195 instructions per row and kv head with 4
 *     queries per head (256 before), 102 with 1 (357 padded) (bench/results/llama1b_session19.txt).
 * Query and key vectors are pinned in registers (in_register, core/att_avx2.h). Query rows past the end
 * of a quad repeat its first row and are never stored. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "core/att_avx2.h"
#include "core/avx2_util.h"
#include "core/kernels.h"
#include "core/ops.h"

enum {
    QUERY_FLOATS = 8192, /* bf16: the permuted queries of one pass over the rows; decode: its padded queries
                            and their outputs (32 KB of stack each) */
};

/* Natural <-> paired order (load16) of n floats, n a multiple of 16: the swap of the middle 128-bit
 * quarters of each 16 is its own inverse. src and dst may be the same. */
INLINE void pair_order(const float *src, float *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i += 16) {
        const __m256 x = _mm256_loadu_ps(src + i), y = _mm256_loadu_ps(src + i + 8);
        _mm256_storeu_ps(dst + i, _mm256_permute2f128_ps(x, y, 0x20));
        _mm256_storeu_ps(dst + i + 8, _mm256_permute2f128_ps(x, y, 0x31));
    }
}


/* Scores of the two rows r0, r1 against the quad q[0..3] (hd elements each, in load16 order): lane
 * 2i + j = q[i] . row j. */
INLINE __m256 scores_quad(const unsigned char *r0, const unsigned char *r1, const float *const q[4], int hd,
                          enum mlxc_dtype dt)
{
    __m256 a[8];
    for (int j = 0; j < 8; j++)
        a[j] = _mm256_setzero_ps();
    for (int d = 0; d < hd; d += 16) {
        __m256 k0a, k0b, k1a, k1b;
        load16(r0, d, dt, &k0a, &k0b);
        load16(r1, d, dt, &k1a, &k1b);
        for (int i = 0; i < 4; i++) {
            __m256 xa = _mm256_loadu_ps(q[i] + d), xb = _mm256_loadu_ps(q[i] + d + 8);
            in_register(xa);
            in_register(xb);
            a[2 * i] = _mm256_fmadd_ps(xb, k0b, _mm256_fmadd_ps(xa, k0a, a[2 * i]));
            a[2 * i + 1] = _mm256_fmadd_ps(xb, k1b, _mm256_fmadd_ps(xa, k1a, a[2 * i + 1]));
        }
    }
    return hsum8x8(a);
}

/* Quads of the queries [ia, ib) of kv heads [h0, h1) (scores_rows), for the prefetch shares. */
INLINE int64_t quads_of(int h0, int h1, int ia, int ib) { return (int64_t)(h1 - h0) * ((ib - ia + 3) / 4); }

/* s for the queries [ia, ib) of each kv head [h0, h1) (group queries a head; their rows at qp, in load16
 * order, head after head) over all n rows: query i's score of row p at s[i * lds + p]. Each pair of rows,
 * pf issues 2 rows' lines (pair: shared by the quads). */
INLINE void scores_rows(const unsigned char *k, size_t rb, int64_t n, const float *qp, int h0, int h1, int ia,
                        int ib, int group, int hd, __m256 sv, float *s, int64_t lds, enum mlxc_dtype dt,
                        struct prefetcher *pf, struct shares pair)
{
    const size_t head_bytes = (size_t)hd * mlxc_dtype_size(dt);
    const unsigned char *k0 = k + (size_t)h0 * head_bytes;
    for (int64_t p = 0; p < n; p += 2) {
        const unsigned char *r0 = k0 + (size_t)p * rb, *r1 = p + 1 < n ? r0 + rb : r0;
        const float *qh = qp;
        int64_t j = 0; /* quads done for this pair of rows: each issues its share of pf's 2 rows of lines */
        for (int h = h0; h < h1; h++) {
            const size_t off = (size_t)(h - h0) * head_bytes;
            for (int i0 = ia, m; i0 < ib; i0 += m, qh += m * hd) {
                m = ib - i0 < 4 ? ib - i0 : 4;
                prefetch_lines(pf, share(pair, j++));
                const float *q[4];
                for (int i = 0; i < 4; i++)
                    q[i] = qh + quad_row(i, m) * hd;
                float r[8]; /* (query i, row p + j) at lane 2i + j */
                _mm256_storeu_ps(r, _mm256_mul_ps(scores_quad(r0 + off, r1 + off, q, hd, dt), sv));
                float *si = s + (int64_t)(h * group + i0) * lds + p;
                for (int i = 0; i < m; i++) {
                    si[i * lds] = r[2 * i];
                    if (p + 1 < n)
                        si[i * lds + 1] = r[2 * i + 1];
                }
            }
        }
    }
}

/* scores_rows over n rows with the keys PREFETCH_ROWS ahead prefetched. */
INLINE void scores_pass(const unsigned char *k, size_t rb, int64_t n, const float *qp, int h0, int h1, int ia,
                        int ib, int group, int hd, __m256 sv, float *s, int64_t lds, enum mlxc_dtype dt)
{
    const size_t head_bytes = (size_t)hd * mlxc_dtype_size(dt), span = (size_t)(h1 - h0) * head_bytes;
    struct prefetcher pf = prefetcher_at(k + (size_t)h0 * head_bytes + PREFETCH_ROWS * rb, rb, span, n - PREFETCH_ROWS);
    scores_rows(k, rb, n, qp, h0, h1, ia, ib, group, hd, sv, s, lds, dt, &pf,
                shares_of(2 * row_lines(span), quads_of(h0, h1, ia, ib)));
}

/* bf16: the queries in passes that fit QUERY_FLOATS, permuted to paired order (whole kv heads where a
 * head's queries fit, else runs of them within one head); f32 and f16: one pass over q as it is. */
INLINE void scores_all(const unsigned char *k, size_t rb, int64_t n, const float *q, int nq, int group, int hd,
                       float scale, float *s, int64_t lds, enum mlxc_dtype dt)
{
    const __m256 sv = _mm256_set1_ps(scale);
    const int heads = nq / group;
    if (dt != MLXC_BF16) {
        scores_pass(k, rb, n, q, 0, heads, 0, group, group, hd, sv, s, lds, dt);
        return;
    }
    float qp[QUERY_FLOATS] __attribute__((aligned(32)));
    const int fit = QUERY_FLOATS / hd; /* queries: >= 8 */
    if (group <= fit) {
        for (int h0 = 0, per = fit / group; h0 < heads; h0 += per) {
            const int h1 = h0 + per < heads ? h0 + per : heads;
            pair_order(q + (int64_t)h0 * group * hd, qp, (int64_t)(h1 - h0) * group * hd);
            scores_pass(k, rb, n, qp, h0, h1, 0, group, group, hd, sv, s, lds, dt);
        }
        return;
    }
    for (int h = 0; h < heads; h++)
        for (int ia = 0; ia < group; ia += fit) {
            const int ib = ia + fit < group ? ia + fit : group;
            pair_order(q + (int64_t)(h * group + ia) * hd, qp, (int64_t)(ib - ia) * hd);
            scores_pass(k, rb, n, qp, h, h + 1, ia, ib, group, hd, sv, s, lds, dt);
        }
}

/* Blocks of rows, each used by every quad while in L1 (VALUE_BLOCK bytes of them), the next block
 * prefetched meanwhile. A quad's weights for a block are first copied together (wq[i * MAX_BLOCK_ROWS + p]
 * = query i's weight of row p), so that the inner loop reads them through one pointer instead of four. */
INLINE void values_all(const unsigned char *v, size_t rb, int64_t n, const float *w, int nq, int group,
                       int64_t lds, int hd, float *out, enum mlxc_dtype dt)
{
    const size_t head_bytes = (size_t)hd * mlxc_dtype_size(dt), span = (size_t)(nq / group) * head_bytes;
    const int64_t rows = block_rows(span);
    const int64_t quads = (nq / group) * ((group + 3) / 4);
    const struct shares block = shares_of(rows * row_lines(span), quads);
    struct prefetcher pf = prefetcher_at(v + rows * rb, rb, span, n - rows);
    float wq[4 * MAX_BLOCK_ROWS] __attribute__((aligned(32))); /* [query][row] */
    memset(out, 0, (size_t)nq * (size_t)hd * sizeof *out);
    for (int64_t p0 = 0; p0 < n; p0 += rows) {
        const int nb = (int)(n - p0 < rows ? n - p0 : rows);
        int64_t j = 0; /* quads done in this block: each prefetches its share of the next block's lines */
        for (int h = 0; h < nq / group; h++)
            for (int i = 0; i < group; i += 4) {
                const int i0 = h * group + i, m = group - i < 4 ? group - i : 4;
                float *o[4];
                for (int r = 0; r < 4; r++) {
                    memcpy(wq + r * MAX_BLOCK_ROWS, w + (int64_t)(i0 + quad_row(r, m)) * lds + p0, (size_t)nb * sizeof *wq);
                    o[r] = out + (int64_t)(i0 + quad_row(r, m)) * hd;
                }
                values_quad(v + (size_t)p0 * rb + (size_t)h * head_bytes, rb, nb, wq, hd, hd, o, &pf,
                            shares_of(share(block, j++), hd / 16), dt);
            }
    }
    if (dt == MLXC_BF16)
        pair_order(out, out, (int64_t)nq * hd);
}

/* Decode's quads: 4 queries that lie together (hd apart, load16 order), G to a kv head, so 4 / G heads
 * (hb bytes apart in a row): G = 4, the queries of one head (each row converted once for all four);
 * G = 2 or 1, those of 2 or 4 heads (models with 2 queries per kv head, or none shared). */

/* The scores of a quad against the rows r0 and r1 (at its first head), lane 4j + i = q[i] . row j:
 * scores_quad's arithmetic, written so that gcc neither copies registers nor folds a query's load into
 * both rows' FMAs (llvm-mca, Skylake, G = 4: 36 cycles per pair of rows, 32 of them the 64 FMAs; 60 with
 * the loads folded, which fill the two load ports). */
INLINE __m256 quad_scores(const unsigned char *r0, const unsigned char *r1, const float *q, int hd, enum mlxc_dtype dt,
                          int G, size_t hb)
{
    __m256 a[8] = {0}; /* a[i]: query i against row 0; a[4 + i]: against row 1 (set at d = 0) */
    for (int d = 0; d < hd; d += 16) {
        __m256 k0a, k0b, k1a, k1b;
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) { /* one loop of 4 (unrolled, the arrays in registers), a head every G */
            if (i % G == 0) {
                load16(r0 + i / G * hb, d, dt, &k0a, &k0b);
                load16(r1 + i / G * hb, d, dt, &k1a, &k1b);
            }
            __m256 xa = _mm256_loadu_ps(q + i * hd + d), xb = _mm256_loadu_ps(q + i * hd + d + 8);
            in_register(xa);
            in_register(xb);
            /* the first 16 as products, not FMAs onto zeros: gcc copies a zero register for each */
            a[i] = d ? _mm256_fmadd_ps(xa, k0a, a[i]) : _mm256_mul_ps(xa, k0a);
            a[4 + i] = d ? _mm256_fmadd_ps(xa, k1a, a[4 + i]) : _mm256_mul_ps(xa, k1a);
            a[i] = _mm256_fmadd_ps(xb, k0b, a[i]);
            a[4 + i] = _mm256_fmadd_ps(xb, k1b, a[4 + i]);
        }
    }
    return hsum8x8(a);
}

/* o[i][d] = alpha[i] o[i][d] + sum_p w[p * wp + i] row_p[d] for a quad's 4 outputs at o (hd apart) over
 * the nb rows at v (rb bytes apart, at the quad's first head), in load16 order. The first `lines`
 * passes over 16 dimensions also prefetch a line per row and head at pf bytes from it (the next block's
 * keys): pass j line j of each of the quad's heads. */
INLINE void quad_values(const unsigned char *v, size_t rb, int nb, const float *w, int64_t wp, const float *alpha,
                        float *o, int hd, enum mlxc_dtype dt, ptrdiff_t pf, int lines, int G, size_t hb)
{
    for (int d = 0; d < hd; d += 16) {
        __m256 a[4], b[4];
        for (int i = 0; i < 4; i++) {
            const __m256 x = _mm256_broadcast_ss(alpha + i);
            a[i] = _mm256_mul_ps(_mm256_loadu_ps(o + i * hd + d), x);
            b[i] = _mm256_mul_ps(_mm256_loadu_ps(o + i * hd + d + 8), x);
        }
        const unsigned char *r = v;
        const float *wr = w;
        const ptrdiff_t line = pf + d / 16 * 64;
#pragma GCC unroll 2
        for (int p = 0; p < nb; p++, r += rb, wr += wp) {
            __asm__("" : "+r"(r)); /* else gcc walks the prefetch address instead and works r out of it */
            __m256 v0, v1;
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++) { /* as in quad_scores: a head every G */
                if (i % G == 0) {
                    if (d / 16 < lines)
                        _mm_prefetch((const char *)r + i / G * hb + line, _MM_HINT_T0);
                    load16(r + i / G * hb, d, dt, &v0, &v1);
                }
                const __m256 x = _mm256_broadcast_ss(wr + i);
                a[i] = _mm256_fmadd_ps(x, v0, a[i]);
                b[i] = _mm256_fmadd_ps(x, v1, b[i]);
            }
        }
        for (int i = 0; i < 4; i++) {
            _mm256_storeu_ps(o + i * hd + d, a[i]);
            _mm256_storeu_ps(o + i * hd + d + 8, b[i]);
        }
    }
}

/* att_decode in one pass over the rows, in blocks of block_rows rows: the block's scores of every query
 * (sb, a row of queries per key row, in L1), folded into the running softmax (struct online_softmax in
 * core/att_avx2.h), then the block's values added to the outputs rescaled by alpha. Each stream is
 * prefetched a phase ahead: the block's values while its scores run (the lines of a quad's heads in the
 * two rows, before it), the next block's keys while its values run (quad_values). Quads of G queries
 * to a head (above): G = 1 or 2 needs group = G and whole quads (heads a multiple of 4 / G); G = 4 takes
 * any group, each head's queries padded to gp, a multiple of 4, in qp (a head's padding rows copies of
 * its first query; sb, the maxima and sums, and the outputs (op: out itself where gp = group) have a
 * place per row of qp; the padding rows' results are dropped). Needs np <= DECODE_QUERIES and
 * np * hd <= QUERY_FLOATS for the np = heads * gp query rows. */
INLINE void decode_all(const unsigned char *k, const unsigned char *v, size_t rb, int64_t n, const float *q, int nq,
                       int group, int hd, float scale, float softcap, float *m, float *l, float *out,
                       enum mlxc_dtype dt, int G)
{
    const int heads = nq / group, gp = quad_rows(group, G), np = heads * gp;
    const int quad_heads = G < 4 ? 4 / G : 1; /* heads a quad spans */
    const size_t head_bytes = (size_t)hd * mlxc_dtype_size(dt), span = (size_t)heads * head_bytes;
    const int lines = (int)((head_bytes + 63) / 64); /* of a head's row */
    const int64_t rows = block_rows(span);
    const __m256 sv = _mm256_set1_ps(scale);
    float qp[QUERY_FLOATS] __attribute__((aligned(32))), pad[QUERY_FLOATS] __attribute__((aligned(32)));
    struct online_softmax os;
    const float *qq = q;
    float *op = out;
    if (gp != group) { /* whole quads: each head's rows padded with its first */
        pad_queries(q, heads, group, gp, hd, qp);
        qq = qp;
        op = pad;
    }
    if (dt == MLXC_BF16) {
        pair_order(qq, qp, (int64_t)np * hd);
        qq = qp;
    }
    online_start(&os, np, rows);
    const int64_t ld = os.ld;
    float *sb = os.sb; /* the block's scores: a row of queries per key row (row nb: a sink for an odd last row) */
    memset(op, 0, (size_t)np * (size_t)hd * sizeof *op);
    for (int64_t p0 = 0; p0 < n; p0 += rows) {
        const int nb = (int)(n - p0 < rows ? n - p0 : rows);
        const unsigned char *kb = k + (size_t)p0 * rb, *vb = v + (size_t)p0 * rb;
        const ptrdiff_t kv = v - k;
        for (int p = 0; p < nb; p += 2) {
            const unsigned char *r0 = kb + (size_t)p * rb, *r1 = p + 1 < nb ? r0 + rb : r0;
            const float *qh = qq;
            float *si = sb + p * ld;
            for (int h = 0; h < heads; h += quad_heads, r0 += quad_heads * head_bytes, r1 += quad_heads * head_bytes) {
                for (int i = 0; i < quad_heads * lines; i++) {
                    _mm_prefetch((const char *)r0 + kv + 64 * i, _MM_HINT_T0);
                    _mm_prefetch((const char *)r1 + kv + 64 * i, _MM_HINT_T0);
                }
                for (int i = 0; i < quad_heads * gp; i += 4, qh += 4 * hd, si += 4) {
                    /* gcc would convert the rows once per head, before this loop, and spill them */
                    __asm__("" : "+r"(r0), "+r"(r1));
                    const __m256 x = _mm256_mul_ps(quad_scores(r0, r1, qh, hd, dt, G, head_bytes), sv);
                    _mm_storeu_ps(si, _mm256_castps256_ps128(x));
                    _mm_storeu_ps(si + ld, _mm256_extractf128_ps(x, 1));
                }
            }
        }
        online_block(&os, nb, softcap);
        /* during the values, the next block's keys (the last block: its own, already read) */
        const ptrdiff_t pf = (p0 + rows < n ? kb + rows * rb : kb) - vb;
        for (int h = 0; h < heads; h += quad_heads)
            for (int i = h * gp; i < (h + quad_heads) * gp; i += 4)
                quad_values(vb + (size_t)h * head_bytes, rb, nb, sb + i, ld, os.alpha + i, op + (int64_t)i * hd, hd,
                            dt, pf, lines, G, head_bytes);
    }
    if (dt == MLXC_BF16)
        pair_order(op, op, (int64_t)np * hd);
    online_end(&os, heads, group, gp, hd, op, m, l, out);
}

/* One body per cache dtype and common head size (64, 128; 0: any other), so that load16, the row sizes
 * and the loops over a head's dimensions are constants the compiler unrolls. */
#define DEFINE_DECODE(SUFFIX, DT, HD, G)                                                                    \
    static void decode_##SUFFIX(const void *k, const void *v, size_t rb, int64_t n, const float *q, int nq,  \
                                int group, int hd, float scale, float softcap, float *m, float *l,          \
                                float *out)                                                                 \
    {                                                                                                       \
        decode_all(k, v, rb, n, q, nq, group, HD ? HD : hd, scale, softcap, m, l, out, DT, G);             \
    }
#define DEFINE_ATT(SUFFIX, DT, HD)                                                                          \
    static void scores_##SUFFIX(const void *k, size_t rb, int64_t n, const float *q, int nq, int group,      \
                                int hd, float scale, float *s, int64_t lds)                                 \
    {                                                                                                       \
        scores_all(k, rb, n, q, nq, group, HD ? HD : hd, scale, s, lds, DT);                               \
    }                                                                                                       \
    static void values_##SUFFIX(const void *v, size_t rb, int64_t n, const float *w, int nq, int group,      \
                                int64_t lds, int hd, float *out)                                            \
    {                                                                                                       \
        values_all(v, rb, n, w, nq, group, lds, HD ? HD : hd, out, DT);                                    \
    }                                                                                                       \
    DEFINE_DECODE(SUFFIX##_g1, DT, HD, 1)                                                                   \
    DEFINE_DECODE(SUFFIX##_g2, DT, HD, 2)                                                                   \
    DEFINE_DECODE(SUFFIX##_g4, DT, HD, 4)
#define DEFINE_ATT_DTYPE(SUFFIX, DT)                                                                        \
    DEFINE_ATT(SUFFIX##_64, DT, 64)                                                                         \
    DEFINE_ATT(SUFFIX##_128, DT, 128)                                                                       \
    DEFINE_ATT(SUFFIX##_any, DT, 0)
DEFINE_ATT_DTYPE(f32, MLXC_F32)
DEFINE_ATT_DTYPE(f16, MLXC_F16)
DEFINE_ATT_DTYPE(bf16, MLXC_BF16)

typedef void (*scores_fn)(const void *, size_t, int64_t, const float *, int, int, int, float, float *, int64_t);
typedef void (*values_fn)(const void *, size_t, int64_t, const float *, int, int, int64_t, int, float *);
typedef void (*decode_fn)(const void *, const void *, size_t, int64_t, const float *, int, int, int, float, float,
                          float *, float *, float *);

/* [dtype: f32, f16, bf16][head size: 64, 128, other] */
static const scores_fn scores_fns[3][3] = {
    {scores_f32_64, scores_f32_128, scores_f32_any},
    {scores_f16_64, scores_f16_128, scores_f16_any},
    {scores_bf16_64, scores_bf16_128, scores_bf16_any},
};
static const values_fn values_fns[3][3] = {
    {values_f32_64, values_f32_128, values_f32_any},
    {values_f16_64, values_f16_128, values_f16_any},
    {values_bf16_64, values_bf16_128, values_bf16_any},
};

/* [dtype][head size][queries to a head in a quad: 1, 2, 4] */
#define DECODE_GS(SUFFIX) {decode_##SUFFIX##_g1, decode_##SUFFIX##_g2, decode_##SUFFIX##_g4}
static const decode_fn decode_fns[3][3][3] = {
    {DECODE_GS(f32_64), DECODE_GS(f32_128), DECODE_GS(f32_any)},
    {DECODE_GS(f16_64), DECODE_GS(f16_128), DECODE_GS(f16_any)},
    {DECODE_GS(bf16_64), DECODE_GS(bf16_128), DECODE_GS(bf16_any)},
};

static int dtype_index(enum mlxc_dtype dt) { return dt == MLXC_F32 ? 0 : dt == MLXC_F16 ? 1 : 2; }
static int hd_index(int hd) { return hd == 64 ? 0 : hd == 128 ? 1 : 2; }

void mlxc_att_scores_avx2(const void *k, enum mlxc_dtype dt, int64_t ld, int64_t n, const float *q, int nq,
                          int group, int hd, float scale, float *s, int64_t lds)
{
    if (hd % 16 || hd > MAX_HD)
        mlxc_kernels_ref.att_scores(k, dt, ld, n, q, nq, group, hd, scale, s, lds);
    else
        scores_fns[dtype_index(dt)][hd_index(hd)](k, (size_t)ld * mlxc_dtype_size(dt), n, q, nq, group, hd, scale,
                                                  s, lds);
}

void mlxc_att_values_avx2(const void *v, enum mlxc_dtype dt, int64_t ld, int64_t n, const float *w, int nq,
                          int group, int64_t lds, int hd, float *out)
{
    if (hd % 16)
        mlxc_kernels_ref.att_values(v, dt, ld, n, w, nq, group, lds, hd, out);
    else
        values_fns[dtype_index(dt)][hd_index(hd)](v, (size_t)ld * mlxc_dtype_size(dt), n, w, nq, group, lds, hd,
                                                  out);
}

void mlxc_att_decode_avx2(const void *k, const void *v, enum mlxc_dtype dt, int64_t ld, int64_t n, const float *q,
                          int nq, int group, int hd, float scale, float softcap, float *scratch, float *m, float *l,
                          float *out)
{
    /* decode_all's quads (G queries to a head) and limits: kv heads in runs of at most `per`, a multiple
     * of the heads a quad spans (their rows' stretches, one pass each) */
    const int heads = nq / group, G = quad_group(nq, group), gp = quad_rows(group, G), quad_heads = G < 4 ? 4 / G : 1;
    int per = hd % 16 || hd > MAX_HD ? 0 : DECODE_QUERIES / gp < QUERY_FLOATS / (gp * hd) ? DECODE_QUERIES / gp
                                                                                          : QUERY_FLOATS / (gp * hd);
    per -= per % quad_heads;
    if (per == 0) {
        mlxc_att_decode_two_pass(&mlxc_kernels_avx2, k, v, dt, ld, n, q, nq, group, hd, scale, softcap, scratch, m, l,
                                 out);
        return;
    }
    const size_t head_bytes = (size_t)hd * mlxc_dtype_size(dt);
    const decode_fn f = decode_fns[dtype_index(dt)][hd_index(hd)][G == 4 ? 2 : G - 1];
    for (int h0 = 0; h0 < heads; h0 += per) {
        const int nh = heads - h0 < per ? heads - h0 : per, i0 = h0 * group;
        f((const unsigned char *)k + h0 * head_bytes, (const unsigned char *)v + h0 * head_bytes,
          (size_t)ld * mlxc_dtype_size(dt), n, q + (int64_t)i0 * hd, nh * group, group, hd, scale, softcap, m + i0,
          l + i0, out + (int64_t)i0 * hd);
    }
}

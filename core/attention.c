/* Causal grouped-query attention over a layer's KV cache (mlx fast.scaled_dot_product_attention):
 *   query t of head h (kv head h / (H/KV)) sees the cache slots j of its view (cache/kv.h):
 *   j <= base + t, and j > base + t - window when the cache has a window (rotating prefill);
 *   out[t,h] = sum_j softmax_j(cap(q[t,h] . k[j] * scale)) v[j]
 *   scale = the config's attn_scale (1/sqrt(hd) unless the family says otherwise), cap(s) = tanh(s/c)*c
 *   with gemma2's attention softcap c, else the identity; with sinks (gpt_oss) the softmax has one more
 *   logit sink[h] in its denominator: exp(s_j - m) / (sum_j exp(s_j - m) + exp(sink[h] - m)),
 *   m = max(max_j s_j, sink[h])
 * The work is cut into units of (kv head, share of its query heads, block of up to TBLOCK tokens), taken
 * by whichever thread is free, the last token blocks first (later token blocks see more keys). A unit's
 * queries, (tokens x heads) rows, go together through the attention kernels (core/kernels.h), which
 * convert each cached key and value row once for all of them: scores over the keys any of its tokens
 * sees, then per row the mask, softcap and softmax, then the weighted values.
 * Prefill dequantizes a quantized cache's rows into the thread's scratch. Where the CPU has AMX
 * (core/matmul_amx.h) and the cache is bf16, the two products run on tiles instead, with the queries and
 * the softmax weights rounded to bf16, and a unit takes TBLOCK_AMX tokens (its keys and values are re-laid
 * for the tiles once per unit).
 *
 * Decode (one token) splits the visible keys instead, into chunks of CHUNK slots (flash-decoding): a unit
 * is (chunk, kv head), the units go chunk-major to whichever thread is free (slot-major: a chunk of every
 * kv head is one stretch of memory, which its unit reads front to back). A unit
 * leaves, per query head, its chunk's max score m, sum l = sum_j exp(s_j - m) and unnormalized output
 * o = sum_j exp(s_j - m) v_j; the merge rescales them to the largest m (one exponential per chunk), adds
 * them chunk by chunk in order (the same sums for any thread count), and divides by the total sum (plus
 * exp(sink) with sinks); once all units are done, each thread merges a share of the heads.
 * On a bf16 cache where the CPU has AMX, a decode unit's scores run on tiles and its values and softmax
 * partials on AVX-512 (core/att_amx.h), to f32 precision (the queries are split exactly, not rounded). */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/att_amx.h"
#include "core/forward.h"
#include "core/kernels.h"
#include "core/matmul_amx.h"
#include "core/ops.h"
#include "core/pool.h"
#include "core/sys.h"

#define TBLOCK 8  /* tokens per unit */
#define TBLOCK_AMX 64 /* with AMX: every unit re-lays its keys and values for the tiles, so more queries each */
#define CHUNK 256 /* decode: keys per unit */

struct att_job {
    const struct mlxc_config *c;
    struct mlxc_state *s;
    const struct mlxc_kv_cache *cache;
    int layer;
    struct mlxc_kv_view view;
    const float *sinks; /* (n_heads) or NULL */
    const float *q;
    int64_t T;
    float *out;
    int shares;       /* query-head shares per kv head */
    int64_t nblocks;  /* token blocks (decode: chunks of keys) */
    _Atomic int64_t next; /* units handed out so far */
    _Atomic int arrived;  /* decode: threads done with their units (mlxc_pool_barrier) */
};

/* Prefill on a bf16 cache through AMX tiles (core/matmul_amx.h): where the CPU has them and the head size
 * is a multiple of 32. The token blocks are then TBLOCK_AMX long whatever the cache's dtype. */
static int amx_attention(const struct mlxc_config *c) { return c->head_dim % 32 == 0 && mlxc_amx_usable(); }

static int64_t tblock(const struct mlxc_config *c) { return amx_attention(c) ? TBLOCK_AMX : TBLOCK; }

/* Visible slots [*lo, *hi) for query t. */
static void visible(const struct mlxc_kv_view *v, int64_t t, int64_t *lo, int64_t *hi)
{
    int64_t last = v->base + t;
    *hi = last + 1 < v->n ? last + 1 : v->n;
    *lo = v->window > 0 && last - v->window + 1 > 0 ? last - v->window + 1 : 0;
}

/* Decode: floats of a thread's working rows for one chunk of n visible keys (decode_unit's layout: queries,
 * outputs, scores, maxima, sums). */
static int64_t decode_work(const struct mlxc_config *c, int64_t n)
{
    const int64_t hd = c->head_dim, keys = n < CHUNK ? n : CHUNK;
    return c->n_heads * (keys + 2 * hd + 2);
}

int64_t mlxc_attention_scratch(const struct mlxc_config *c, int64_t T, int64_t n, int quantized)
{
    const int64_t hd = c->head_dim, rows = (T < tblock(c) ? T : tblock(c)) * (c->n_heads / c->n_kv_heads);
    if (T == 1) /* a chunk's work, then (thread 0) the partials of every chunk */
        return decode_work(c, n) + (n + CHUNK - 1) / CHUNK * c->n_heads * (hd + 2);
    return rows * (n + 2 * hd) + (quantized ? 2 * n * hd : 0);
}

/* Copies the query rows (token-major, then head) of heads [h0, h0 + nh), tokens [t0, t0 + nt) into qb. */
static void gather_queries(const struct att_job *j, int h0, int nh, int64_t t0, int nq, float *qb)
{
    const int hd = (int)j->c->head_dim, H = (int)j->c->n_heads;
    for (int i = 0; i < nq; i++)
        memcpy(qb + (int64_t)i * hd, j->q + ((t0 + i / nh) * H + h0 + i % nh) * hd, (size_t)hd * sizeof(float));
}

/* Keys (want_v 0) or values of slots [lo, lo + n) for kv heads [kv0, kv0 + nkv) as kernel rows (core/kernels.h):
 * the cache's own rows, or for quantized storage rows dequantized into buf (n * nkv * hd floats, slot-major). */
static const void *kv_rows(const struct att_job *j, int want_v, int64_t lo, int64_t n, int kv0, int nkv, float *buf,
                           enum mlxc_dtype *dt, int64_t *ld)
{
    const int64_t hd = j->c->head_dim;
    const void *rows = want_v ? mlxc_kv_v_row(j->cache, j->layer, lo, kv0) : mlxc_kv_k_row(j->cache, j->layer, lo, kv0);
    if (rows) {
        *dt = j->cache->dtype;
        *ld = j->c->n_kv_heads * hd;
        return rows;
    }
    for (int64_t p = 0; p < n; p++)
        for (int h = 0; h < nkv; h++) {
            float *out = buf + (p * nkv + h) * hd;
            if (want_v)
                mlxc_kv_read_v(j->cache, j->layer, lo + p, kv0 + h, out);
            else
                mlxc_kv_read_k(j->cache, j->layer, lo + p, kv0 + h, out);
        }
    *dt = MLXC_F32;
    *ld = nkv * hd;
    return buf;
}

/* Query heads [h0, h0 + nh) of kv head kvh for tokens [t0, t0 + nt), in the thread's scratch. */
static void attend_unit(const struct att_job *j, int tid, int kvh, int h0, int nh, int64_t t0, int64_t nt)
{
    const struct mlxc_kernels *k = mlxc_kernels();
    const int hd = (int)j->c->head_dim, H = (int)j->c->n_heads;
    const int nq = (int)nt * nh;
    int64_t lo, hi, lo_last, hi_last;
    visible(&j->view, t0, &lo, &hi);
    visible(&j->view, t0 + nt - 1, &lo_last, &hi_last);
    const int64_t n = hi_last - lo; /* keys any of the tokens sees, from the first token's first */
    float *qb = j->s->scores + (int64_t)tid * j->s->scores_cap, *ob = qb + (int64_t)nq * hd, *sc = ob + (int64_t)nq * hd;
    gather_queries(j, h0, nh, t0, nq, qb);
    enum mlxc_dtype dt;
    int64_t ld;
    const void *K = kv_rows(j, 0, lo, n, kvh, 1, sc + (int64_t)nq * n, &dt, &ld);
    const void *V = kv_rows(j, 1, lo, n, kvh, 1, sc + (int64_t)nq * n + n * hd, &dt, &ld);
    void *amx = NULL;
    if (dt == MLXC_BF16 && amx_attention(j->c))
        amx = mlxc_thread_scratch(MLXC_SCRATCH_ATTENTION, mlxc_amx_att_scratch(n, nq, hd));
    if (amx)
        mlxc_amx_att_scores(K, ld, n, qb, nq, hd, j->c->attn_scale, sc, n, amx);
    else
        k->att_scores(K, dt, ld, n, qb, nq, nq, hd, j->c->attn_scale, sc, n);
    for (int i = 0; i < nq; i++) {
        float *row = sc + (int64_t)i * n;
        int64_t a, b; /* this token's keys, relative to lo */
        visible(&j->view, t0 + i / nh, &a, &b);
        a -= lo;
        b -= lo;
        if (j->c->attn_softcap != 0.0f)
            mlxc_softcap(row + a, b - a, j->c->attn_softcap);
        if (j->sinks)
            mlxc_softmax_sink(row + a, b - a, j->sinks[h0 + i % nh]);
        else
            mlxc_softmax(row + a, b - a);
        memset(row, 0, (size_t)a * sizeof *row);
        memset(row + b, 0, (size_t)(n - b) * sizeof *row);
    }
    if (amx)
        mlxc_amx_att_values(V, ld, n, sc, nq, n, hd, ob, amx);
    else
        k->att_values(V, dt, ld, n, sc, nq, nq, n, hd, ob);
    for (int i = 0; i < nq; i++)
        memcpy(j->out + ((t0 + i / nh) * H + h0 + i % nh) * hd, ob + (int64_t)i * hd, (size_t)hd * sizeof(float));
}

/* Units go to whichever thread is free, the last token blocks (the most keys) first, so that no thread is
 * left with the long ones at the end (a unit's result does not depend on the thread). */
static void attention_task(void *ctx, int tid, int nth)
{
    (void)nth;
    struct att_job *j = ctx;
    const int group = (int)(j->c->n_heads / j->c->n_kv_heads);
    const int64_t per_block = j->c->n_kv_heads * j->shares, units = per_block * j->nblocks, tb = tblock(j->c);
    for (int64_t u; (u = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed)) < units;) {
        const int64_t blk = j->nblocks - 1 - u / per_block, rest = u % per_block;
        const int kvh = (int)(rest / j->shares), share = (int)(rest % j->shares);
        int64_t a, b, t0 = blk * tb;
        mlxc_split_range(group, share, j->shares, 1, &a, &b);
        if (b > a)
            attend_unit(j, tid, kvh, kvh * group + (int)a, (int)(b - a), t0, j->T - t0 < tb ? j->T - t0 : tb);
    }
}

/* Decode: the partials (m, l, o[hd]) of (chunk, head) at (chunk * n_heads + head) * (hd + 2) in one array
 * after thread 0's working rows (every thread's part of the scratch is as long). */
static float *decode_partials(const struct att_job *j)
{
    return j->s->scores + decode_work(j->c, j->view.n);
}

/* Decode on bf16 rows where the CPU has AMX: the thread's scratch for core/att_amx.h's kernels, or NULL
 * for the kernel table's. */
static void *amx_decode_scratch(const struct att_job *j, enum mlxc_dtype dt, int nq, int group)
{
    if (dt == MLXC_BF16 && amx_attention(j->c))
        return mlxc_thread_scratch(MLXC_SCRATCH_ATTENTION, mlxc_amx_decode_scratch(nq, group, (int)j->c->head_dim));
    return NULL;
}

/* AMX decode's second step: the nq rows of n scores at sc become softmax weights in place, each row's max
 * into m and sum of weights into l (the softcap first where the model has one). */
static void amx_decode_weights(const struct att_job *j, float *sc, int64_t n, int nq, float *m, float *l)
{
    for (int i = 0; i < nq; i++) {
        float *row = sc + (int64_t)i * n;
        if (j->c->attn_softcap != 0.0f)
            mlxc_softcap(row, n, j->c->attn_softcap);
        l[i] = mlxc_amx_decode_exp(row, n, &m[i]);
    }
}

/* Chunk `chunk` of the token's visible keys for the query heads of kv heads [kv0, kv1): partials out. The
 * kernels take every kv head of the unit at once, so the thread reads its stretch of the slot-major cache
 * front to back: float rows, or a quantized cache's codes, scales and biases as they are stored, in one
 * pass (att_decode, att_decode_q); on AMX tiles the keys once and then the values once. */
static void decode_unit(const struct att_job *j, int tid, int64_t chunk, int kv0, int kv1)
{
    const struct mlxc_kernels *k = mlxc_kernels();
    const int hd = (int)j->c->head_dim, group = (int)(j->c->n_heads / j->c->n_kv_heads), nkv = kv1 - kv0;
    const int nq = nkv * group; /* query rows: kv head, then its query heads */
    const float scale = j->c->attn_scale;
    int64_t lo, hi;
    visible(&j->view, 0, &lo, &hi);
    lo += chunk * CHUNK;
    const int64_t n = hi - lo < CHUNK ? hi - lo : CHUNK;
    float *qb = j->s->scores + (int64_t)tid * j->s->scores_cap, *ob = qb + (int64_t)nq * hd, *sc = ob + (int64_t)nq * hd;
    float *m = sc + (int64_t)nq * n, *l = m + nq; /* each query's max and sum */
    gather_queries(j, kv0 * group, nq, 0, nq, qb);
    struct mlxc_qkv_rows qk, qv; /* a quantized cache's rows, read by the kernels in place */
    if (mlxc_kv_qrows(j->cache, j->layer, 0, lo, kv0, &qk)) {
        mlxc_kv_qrows(j->cache, j->layer, 1, lo, kv0, &qv);
        k->att_decode_q(&qk, &qv, n, qb, nq, group, hd, scale, j->c->attn_softcap, sc, m, l, ob);
    } else { /* float rows: kv_rows needs no buffer for them */
        enum mlxc_dtype dt;
        int64_t ld;
        const void *K = kv_rows(j, 0, lo, n, kv0, nkv, NULL, &dt, &ld), *V = kv_rows(j, 1, lo, n, kv0, nkv, NULL, &dt, &ld);
        void *amx = amx_decode_scratch(j, dt, nq, group); /* bf16 rows where the CPU has AMX: core/att_amx.h */
        if (amx) {
            mlxc_amx_decode_scores(K, ld, n, qb, nq, group, hd, scale, sc, n, amx);
            amx_decode_weights(j, sc, n, nq, m, l);
            mlxc_amx_decode_values(V, ld, n, sc, nq, group, n, hd, ob);
        } else {
            k->att_decode(K, V, dt, ld, n, qb, nq, group, hd, scale, j->c->attn_softcap, sc, m, l, ob);
        }
    }
    float *part = decode_partials(j) + chunk * j->c->n_heads * (hd + 2);
    for (int i = 0; i < nq; i++) {
        float *pi = part + (int64_t)(kv0 * group + i) * (hd + 2);
        pi[0] = m[i];
        pi[1] = l[i];
        memcpy(pi + 2, ob + (int64_t)i * hd, (size_t)hd * sizeof(float));
    }
}

/* out[h] = the chunks' partials (m_c, l_c, o_c) of head h merged (see the top of the file): with M the
 * largest m_c (and sink[h]) and w_c = exp(m_c - M), out = sum_c w_c o_c / (sum_c w_c l_c [+ exp(sink - M)]).
 * The chunks are added in order (the same sums for any thread count); their weights go through the
 * kernels' exp_sum, MERGE_BATCH at a time, and each o_c through axpy. */
static void decode_merge(const struct att_job *j, int64_t h0, int64_t h1)
{
    enum { MERGE_BATCH = 64 };
    const struct mlxc_kernels *k = mlxc_kernels();
    const int64_t H = j->c->n_heads, hd = j->c->head_dim, stride = H * (hd + 2);
    for (int64_t h = h0; h < h1; h++) {
        const float *p = decode_partials(j) + h * (hd + 2); /* chunk c's (m, l, o[hd]) at p + c * stride */
        float *o = j->out + h * hd, M = j->sinks ? j->sinks[h] : -INFINITY, L = 0.0f;
        for (int64_t c = 0; c < j->nblocks; c++)
            M = p[c * stride] > M ? p[c * stride] : M;
        memset(o, 0, (size_t)hd * sizeof *o);
        for (int64_t c0 = 0; c0 < j->nblocks; c0 += MERGE_BATCH) {
            const int64_t nb = j->nblocks - c0 < MERGE_BATCH ? j->nblocks - c0 : MERGE_BATCH;
            float w[MERGE_BATCH];
            for (int64_t i = 0; i < nb; i++)
                w[i] = p[(c0 + i) * stride];
            k->exp_sum(w, w, nb, M);
            for (int64_t i = 0; i < nb; i++) {
                const float *pc = p + (c0 + i) * stride;
                L += w[i] * pc[1];
                k->axpy(w[i], pc + 2, o, hd);
            }
        }
        if (j->sinks)
            L += expf(j->sinks[h] - M);
        const float inv = 1.0f / L;
        for (int64_t d = 0; d < hd; d++)
            o[d] *= inv;
    }
}

/* Units u = chunk * shares + share (a share: a range of kv heads) go to whichever thread is free, in
 * order, so that a thread the machine slows down leaves no other waiting (each unit still reads its
 * stretch of the cache front to back). Once every unit is done, the threads merge the heads in shares. */
static void decode_task(void *ctx, int tid, int nth)
{
    struct att_job *j = ctx;
    const int64_t units = j->nblocks * j->shares;
    for (int64_t u; (u = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed)) < units;) {
        int64_t kv0, kv1;
        mlxc_split_range(j->c->n_kv_heads, (int)(u % j->shares), j->shares, 1, &kv0, &kv1);
        decode_unit(j, tid, u / j->shares, (int)kv0, (int)kv1);
    }
    mlxc_pool_barrier(&j->arrived, nth);
    int64_t h0, h1;
    mlxc_split_range(j->c->n_heads, tid, nth, 1, &h0, &h1);
    decode_merge(j, h0, h1);
}

void mlxc_attention(const struct mlxc_config *c, struct mlxc_state *s, const struct mlxc_kv_cache *cache,
                    int layer, const struct mlxc_kv_view *view, const float *sinks, const float *q, int64_t T,
                    float *out)
{
    struct att_job j = {c, s, cache, layer, *view, sinks, q, T, out, 1, (T + tblock(c) - 1) / tblock(c), 0, 0};
    if (T == 1) {
        int64_t lo, hi;
        visible(view, 0, &lo, &hi);
        j.nblocks = (hi - lo + CHUNK - 1) / CHUNK; /* chunks of keys */
        /* fewer chunks than threads: the kv heads of a chunk in shares too (the same numbers) */
        const int64_t nth = mlxc_pool_size(s->pool);
        j.shares = (int)(j.nblocks >= nth ? 1 : (nth + j.nblocks - 1) / j.nblocks);
        j.shares = j.shares < c->n_kv_heads ? j.shares : (int)c->n_kv_heads;
        mlxc_pool_run(s->pool, decode_task, &j);
        return;
    }
    /* few units (decode with fewer kv heads than threads): share a kv head's query heads out */
    const int nth = mlxc_pool_size(s->pool), group = (int)(c->n_heads / c->n_kv_heads);
    if (c->n_kv_heads * j.nblocks < nth) {
        j.shares = (int)((nth + c->n_kv_heads * j.nblocks - 1) / (c->n_kv_heads * j.nblocks));
        j.shares = j.shares < group ? j.shares : group;
    }
    mlxc_pool_run(s->pool, attention_task, &j);
}

/* Causal grouped-query attention over a layer's KV cache (mlx fast.scaled_dot_product_attention):
 *   query t of head h (kv head h / (H/KV)) sees the cache slots j of its view (cache/kv.h):
 *   j <= base + t, and j > base + t - window when the cache has a window (rotating prefill);
 *   out[t,h] = sum_j softmax_j(cap(q[t,h] . k[j] * scale)) v[j]
 *   scale = the config's attn_scale (1/sqrt(hd) unless the family says otherwise), cap(s) = tanh(s/c)*c
 *   with gemma2's attention softcap c, else the identity; with sinks (gpt_oss) the softmax has one more
 *   logit sink[h] in its denominator: exp(s_j - m) / (sum_j exp(s_j - m) + exp(sink[h] - m)),
 *   m = max(max_j s_j, sink[h])
 * The work is cut into units of (kv head, share of its query heads, block of up to TBLOCK tokens), dealt
 * round-robin to the threads (later token blocks see more keys). A unit's queries, (tokens x heads) rows,
 * go together through the attention kernels (core/kernels.h), which convert each cached key and value
 * row once for all of them: scores over the keys any of its tokens sees, then per row the mask, softcap
 * and softmax, then the weighted values. Decode is one token: a unit is a kv head with its query heads.
 * Quantized caches are dequantized row by row into the thread's scratch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/forward.h"
#include "core/kernels.h"
#include "core/ops.h"
#include "core/pool.h"

#define TBLOCK 8 /* tokens per unit */

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
    int64_t nblocks;  /* token blocks */
};

/* Visible slots [*lo, *hi) for query t. */
static void visible(const struct mlxc_kv_view *v, int64_t t, int64_t *lo, int64_t *hi)
{
    int64_t last = v->base + t;
    *hi = last + 1 < v->n ? last + 1 : v->n;
    *lo = v->window > 0 && last - v->window + 1 > 0 ? last - v->window + 1 : 0;
}

int64_t mlxc_attention_scratch(const struct mlxc_config *c, int64_t T, int64_t n, int quantized)
{
    const int64_t hd = c->head_dim, rows = (T < TBLOCK ? T : TBLOCK) * (c->n_heads / c->n_kv_heads);
    return rows * (n + 2 * hd) + (quantized ? 2 * n * hd : 0);
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
    for (int i = 0; i < nq; i++) /* rows: token-major, then head */
        memcpy(qb + (int64_t)i * hd, j->q + ((t0 + i / nh) * H + h0 + i % nh) * hd, (size_t)hd * sizeof(float));
    const void *K = mlxc_kv_k_row(j->cache, j->layer, lo, kvh), *V = mlxc_kv_v_row(j->cache, j->layer, lo, kvh);
    enum mlxc_dtype dt = j->cache->dtype;
    int64_t ld = j->c->n_kv_heads * hd;
    if (!K) { /* quantized storage: dequantize the rows */
        float *kb = sc + (int64_t)nq * n, *vb = kb + n * hd;
        for (int64_t p = 0; p < n; p++) {
            mlxc_kv_read_k(j->cache, j->layer, lo + p, kvh, kb + p * hd);
            mlxc_kv_read_v(j->cache, j->layer, lo + p, kvh, vb + p * hd);
        }
        K = kb;
        V = vb;
        dt = MLXC_F32;
        ld = hd;
    }
    k->att_scores(K, dt, ld, n, qb, nq, hd, j->c->attn_scale, sc, n);
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
    k->att_values(V, dt, ld, n, sc, nq, n, hd, ob);
    for (int i = 0; i < nq; i++)
        memcpy(j->out + ((t0 + i / nh) * H + h0 + i % nh) * hd, ob + (int64_t)i * hd, (size_t)hd * sizeof(float));
}

static void attention_task(void *ctx, int tid, int nth)
{
    const struct att_job *j = ctx;
    const int group = (int)(j->c->n_heads / j->c->n_kv_heads);
    const int64_t units = j->c->n_kv_heads * j->shares * j->nblocks;
    for (int64_t u = tid; u < units; u += nth) {
        const int64_t blk = u % j->nblocks, rest = u / j->nblocks;
        const int kvh = (int)(rest / j->shares), share = (int)(rest % j->shares);
        int64_t a, b, t0 = blk * TBLOCK;
        mlxc_split_range(group, share, j->shares, 1, &a, &b);
        if (b > a)
            attend_unit(j, tid, kvh, kvh * group + (int)a, (int)(b - a), t0, j->T - t0 < TBLOCK ? j->T - t0 : TBLOCK);
    }
}

void mlxc_attention(const struct mlxc_config *c, struct mlxc_state *s, const struct mlxc_kv_cache *cache,
                    int layer, const struct mlxc_kv_view *view, const float *sinks, const float *q, int64_t T,
                    float *out)
{
    struct att_job j = {c, s, cache, layer, *view, sinks, q, T, out, 1, (T + TBLOCK - 1) / TBLOCK};
    /* few units (decode with fewer kv heads than threads): share a kv head's query heads out */
    const int nth = mlxc_pool_size(s->pool), group = (int)(c->n_heads / c->n_kv_heads);
    if (c->n_kv_heads * j.nblocks < nth) {
        j.shares = (int)((nth + c->n_kv_heads * j.nblocks - 1) / (c->n_kv_heads * j.nblocks));
        j.shares = j.shares < group ? j.shares : group;
    }
    mlxc_pool_run(s->pool, attention_task, &j);
}

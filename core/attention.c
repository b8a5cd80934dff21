/* Causal grouped-query attention over a layer's KV cache (mlx fast.scaled_dot_product_attention):
 *   query t of head h (kv head h / (H/KV)) sees the cache slots j of its view (cache/kv.h):
 *   j <= base + t, and j > base + t - window when the cache has a window (rotating prefill);
 *   out[t,h] = sum_j softmax_j(cap(q[t,h] . k[j] * scale)) v[j]
 *   scale = the config's attn_scale (1/sqrt(hd) unless the family says otherwise), cap(s) = tanh(s/c)*c
 *   with gemma2's attention softcap c, else the identity
 * Few queries (decode): the query heads of one kv head go together through the attention kernels
 * (core/kernels.h), which read each cached key and value once for all of them, in the cache's dtype;
 * units of (kv head, share of its query heads) are split across threads. Many queries (prefill): heads
 * are split across threads, keys and values converted to f32 once per kv head, and blocks of queries go
 * against the keys with OpenBLAS (only up to the block's last visible key), then the mask and softmax
 * per row. Quantized caches are dequantized row by row. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/forward.h"
#include "core/kernels.h"
#include "core/ops.h"
#include "core/sys.h"

#define QBLOCK 64 /* queries per OpenBLAS block */

struct att_job {
    const struct mlxc_config *c;
    struct mlxc_state *s;
    const struct mlxc_kv_cache *cache;
    int layer;
    struct mlxc_kv_view view;
    const float *q;
    int64_t T;
    float *out;
};

/* Visible slots [*lo, *hi) for query t. */
static void visible(const struct mlxc_kv_view *v, int64_t t, int64_t *lo, int64_t *hi)
{
    int64_t last = v->base + t;
    *hi = last + 1 < v->n ? last + 1 : v->n;
    *lo = v->window > 0 && last - v->window + 1 > 0 ? last - v->window + 1 : 0;
}

/* Per-thread scratch (s->scores_cap floats each): scores of the heads in hand, then (quantized caches)
 * their keys and values dequantized. */
static float *scratch(const struct att_job *j, int tid)
{
    return j->s->scores + (int64_t)tid * j->s->scores_cap;
}

/* Query heads [h0, h0 + nh) of kv head kvh (consecutive, so their queries are one (nh, hd) block) for
 * query t: each key and value row is read once for all of them. */
static void attend_heads(const struct att_job *j, int tid, int kvh, int h0, int nh, int64_t t)
{
    const struct mlxc_kernels *k = mlxc_kernels();
    const int hd = (int)j->c->head_dim, H = (int)j->c->n_heads;
    int64_t lo, hi;
    visible(&j->view, t, &lo, &hi);
    const int64_t n = hi - lo;
    float *scores = scratch(j, tid);
    const void *K = mlxc_kv_k_row(j->cache, j->layer, lo, kvh), *V = mlxc_kv_v_row(j->cache, j->layer, lo, kvh);
    enum mlxc_dtype dt = j->cache->dtype;
    int64_t ld = j->c->n_kv_heads * hd;
    if (!K) { /* quantized storage: dequantize the visible rows */
        float *kb = scores + (int64_t)nh * n, *vb = kb + n * hd;
        for (int64_t p = 0; p < n; p++) {
            mlxc_kv_read_k(j->cache, j->layer, lo + p, kvh, kb + p * hd);
            mlxc_kv_read_v(j->cache, j->layer, lo + p, kvh, vb + p * hd);
        }
        K = kb;
        V = vb;
        dt = MLXC_F32;
        ld = hd;
    }
    const float *q = j->q + (t * H + h0) * hd;
    k->att_scores(K, dt, ld, n, q, nh, hd, j->c->attn_scale, scores, n);
    for (int i = 0; i < nh; i++) {
        if (j->c->attn_softcap != 0.0f)
            mlxc_softcap(scores + i * n, n, j->c->attn_softcap);
        mlxc_softmax(scores + i * n, n);
    }
    k->att_values(V, dt, ld, n, scores, nh, n, hd, j->out + (t * H + h0) * hd);
}

/* Keys or values of kv head kvh as an f32 matrix (n, hd) with row stride *ld: the cache itself when it
 * stores f32, else converted into buf. */
static const float *head_matrix(const struct att_job *j, int which, int kvh, float *buf, int *ld)
{
    const int hd = (int)j->c->head_dim;
    const float *direct = j->cache->dtype != MLXC_F32 ? NULL
                          : which ? mlxc_kv_v_row(j->cache, j->layer, 0, kvh)
                                  : mlxc_kv_k_row(j->cache, j->layer, 0, kvh);
    if (direct) {
        *ld = (int)(j->c->n_kv_heads * hd);
        return direct;
    }
    for (int64_t p = 0; p < j->view.n; p++)
        (which ? mlxc_kv_read_v : mlxc_kv_read_k)(j->cache, j->layer, p, kvh, buf + p * hd);
    *ld = hd;
    return buf;
}

/* Queries [t0, t0+nb) of head h against all visible keys, through OpenBLAS. */
static void attend_block(const struct att_job *j, int h, const float *K, int ldk, const float *V, int ldv,
                         int64_t t0, int64_t nb, float *scores)
{
    const int hd = (int)j->c->head_dim, H = (int)j->c->n_heads;
    const int64_t qstride = (int64_t)H * hd;
    int64_t lo_last, S; /* keys past the last query's are masked for every query of the block */
    visible(&j->view, t0 + nb - 1, &lo_last, &S);
    const float scale = j->c->attn_scale;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)S, hd, scale, j->q + t0 * qstride + (int64_t)h * hd,
                (int)qstride, K, ldk, 0.0f, scores, (int)S);
    for (int64_t i = 0; i < nb; i++) {
        float *row = scores + i * S;
        int64_t lo, hi;
        visible(&j->view, t0 + i, &lo, &hi);
        if (j->c->attn_softcap != 0.0f)
            mlxc_softcap(row + lo, hi - lo, j->c->attn_softcap);
        mlxc_softmax(row + lo, hi - lo);
        for (int64_t p = 0; p < lo; p++)
            row[p] = 0.0f;
        for (int64_t p = hi; p < S; p++)
            row[p] = 0.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, hd, (int)S, 1.0f, scores, (int)S, V, ldv, 0.0f,
                j->out + t0 * qstride + (int64_t)h * hd, (int)qstride);
}

/* Few queries: units of (kv head, a share of its query heads), as many shares per kv head as it takes
 * to give every thread work. */
static void attention_few(const struct att_job *j, int tid, int nth)
{
    const int KV = (int)j->c->n_kv_heads, group = (int)j->c->n_heads / KV;
    int shares = KV >= nth ? 1 : (nth + KV - 1) / KV;
    shares = shares < group ? shares : group;
    int64_t u0, u1;
    mlxc_split_range((int64_t)KV * shares, tid, nth, 1, &u0, &u1);
    for (int64_t u = u0; u < u1; u++) {
        int kvh = (int)(u / shares);
        int64_t a, b;
        mlxc_split_range(group, (int)(u % shares), shares, 1, &a, &b);
        for (int64_t t = 0; t < j->T; t++)
            if (b > a)
                attend_heads(j, tid, kvh, kvh * group + (int)a, (int)(b - a), t);
    }
}

static void attention_task(void *ctx, int tid, int nth)
{
    const struct att_job *j = ctx;
    const int H = (int)j->c->n_heads, hd = (int)j->c->head_dim;
    const int group = H / (int)j->c->n_kv_heads;
    if (j->T < QBLOCK / 4) {
        attention_few(j, tid, nth);
        return;
    }
    int64_t h0, h1;
    mlxc_split_range(H, tid, nth, 1, &h0, &h1);
    const int64_t S = j->view.n;
    float *scores = mlxc_alloc_aligned((size_t)QBLOCK * (size_t)S * sizeof(float));
    float *kbuf = mlxc_alloc_aligned((size_t)S * (size_t)hd * sizeof(float));
    float *vbuf = mlxc_alloc_aligned((size_t)S * (size_t)hd * sizeof(float));
    int last_kvh = -1, ldk = 0, ldv = 0;
    const float *K = NULL, *V = NULL;
    for (int64_t h = h0; h < h1; h++) {
        int kvh = (int)h / group;
        if (!scores || !kbuf || !vbuf) { /* no memory for blocks: the per-query path */
            for (int64_t t = 0; t < j->T; t++)
                attend_heads(j, tid, kvh, (int)h, 1, t);
            continue;
        }
        if (kvh != last_kvh) {
            K = head_matrix(j, 0, kvh, kbuf, &ldk);
            V = head_matrix(j, 1, kvh, vbuf, &ldv);
            last_kvh = kvh;
        }
        for (int64_t t0 = 0; t0 < j->T; t0 += QBLOCK)
            attend_block(j, (int)h, K, ldk, V, ldv, t0, j->T - t0 < QBLOCK ? j->T - t0 : QBLOCK, scores);
    }
    mlxc_free_aligned(scores);
    mlxc_free_aligned(kbuf);
    mlxc_free_aligned(vbuf);
}

void mlxc_attention(const struct mlxc_config *c, struct mlxc_state *s, const struct mlxc_kv_cache *cache,
                    int layer, const struct mlxc_kv_view *view, const float *q, int64_t T, float *out)
{
    struct att_job j = {c, s, cache, layer, *view, q, T, out};
    mlxc_pool_run(s->pool, attention_task, &j);
}

/* Causal grouped-query attention over the KV cache (mlx fast.scaled_dot_product_attention, "causal"):
 *   for query t at absolute position p = offset + t and head h (kv head h / (H/KV)):
 *   out[t,h] = sum_{j<=p} softmax_j(q[t,h] . k[j] * scale) v[j],   scale = 1/sqrt(hd)
 * Heads are split across threads. Few queries: a dot product per key. Many queries (prefill): blocks of
 * queries against all keys with OpenBLAS, then the causal mask and softmax per row. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>

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
    const float *q;
    int64_t T, pos0;
    float *out;
};

/* One query row against keys 0..S-1 of kv head kvh. */
static void attend_one(const struct att_job *j, const float *q, int kvh, int64_t S, float *scores, float *out)
{
    const struct mlxc_kernels *k = mlxc_kernels();
    const int hd = (int)j->c->head_dim;
    const int64_t kvstride = j->c->n_kv_heads * hd;
    const float scale = 1.0f / sqrtf((float)hd);
    const float *K = j->cache->k[j->layer] + (int64_t)kvh * hd;
    const float *V = j->cache->v[j->layer] + (int64_t)kvh * hd;
    for (int64_t p = 0; p < S; p++)
        scores[p] = k->dot(q, K + p * kvstride, hd) * scale;
    mlxc_softmax(scores, S);
    for (int d = 0; d < hd; d++)
        out[d] = 0.0f;
    for (int64_t p = 0; p < S; p++)
        k->axpy(scores[p], V + p * kvstride, out, hd);
}

/* A block of nb queries starting at t0 for head h, through OpenBLAS. */
static void attend_block(const struct att_job *j, int h, int kvh, int64_t t0, int64_t nb, float *scores)
{
    const int hd = (int)j->c->head_dim, H = (int)j->c->n_heads;
    const int64_t kvstride = j->c->n_kv_heads * hd, qstride = (int64_t)H * hd;
    const int64_t S = j->pos0 + t0 + nb; /* keys the last query of the block sees */
    const float scale = 1.0f / sqrtf((float)hd);
    const float *Q = j->q + t0 * qstride + (int64_t)h * hd;
    const float *K = j->cache->k[j->layer] + (int64_t)kvh * hd;
    const float *V = j->cache->v[j->layer] + (int64_t)kvh * hd;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)S, hd, scale, Q, (int)qstride, K,
                (int)kvstride, 0.0f, scores, (int)S);
    for (int64_t i = 0; i < nb; i++) {
        float *row = scores + i * S;
        int64_t visible = j->pos0 + t0 + i + 1;
        mlxc_softmax(row, visible);
        for (int64_t p = visible; p < S; p++)
            row[p] = 0.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, hd, (int)S, 1.0f, scores, (int)S, V,
                (int)kvstride, 0.0f, j->out + t0 * qstride + (int64_t)h * hd, (int)qstride);
}

static void attention_task(void *ctx, int tid, int nth)
{
    const struct att_job *j = ctx;
    const int H = (int)j->c->n_heads, hd = (int)j->c->head_dim;
    const int group = H / (int)j->c->n_kv_heads;
    int64_t h0, h1;
    mlxc_split_range(H, tid, nth, 1, &h0, &h1);
    if (j->T < QBLOCK / 4) {
        float *scores = j->s->scores + (int64_t)tid * j->s->scores_cap;
        for (int64_t h = h0; h < h1; h++)
            for (int64_t t = 0; t < j->T; t++)
                attend_one(j, j->q + (t * H + h) * hd, (int)h / group, j->pos0 + t + 1, scores,
                           j->out + (t * H + h) * hd);
        return;
    }
    float *scores = mlxc_alloc_aligned((size_t)QBLOCK * (size_t)(j->pos0 + j->T) * sizeof(float));
    for (int64_t h = h0; h < h1; h++) {
        for (int64_t t0 = 0; t0 < j->T; t0 += QBLOCK) {
            int64_t nb = j->T - t0 < QBLOCK ? j->T - t0 : QBLOCK;
            if (scores) {
                attend_block(j, (int)h, (int)h / group, t0, nb, scores);
                continue;
            }
            /* no memory for a block: the per-query path with the preallocated row */
            float *row = j->s->scores + (int64_t)tid * j->s->scores_cap;
            for (int64_t t = t0; t < t0 + nb; t++)
                attend_one(j, j->q + (t * H + h) * hd, (int)h / group, j->pos0 + t + 1, row,
                           j->out + (t * H + h) * hd);
        }
    }
    mlxc_free_aligned(scores);
}

void mlxc_attention(const struct mlxc_config *c, struct mlxc_state *s, const struct mlxc_kv_cache *cache,
                    int layer, const float *q, int64_t T, float *out)
{
    struct att_job j = {c, s, cache, layer, q, T, cache->offset, out};
    mlxc_pool_run(s->pool, attention_task, &j);
}

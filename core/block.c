/* The one decoder block every family shares (mlx_lm llama.py TransformerBlock and its variants):
 *   h   = x + o_proj(Attention(RMSNorm(x)))
 *   out = h + down_proj(silu(gate_proj(RMSNorm(h))) * up_proj(RMSNorm(h)))
 * Attention: q/k/v projections (optional biases), optional per-head q/k RMSNorm (qwen3), RoPE on q and k
 * at the cache offset, keys/values appended to the cache, GQA softmax(q k^T / sqrt(hd)) v.
 * Family differences are flags in the config, never a copy of this file. */
#include <math.h>
#include <string.h>

#include "core/forward.h"
#include "core/ops.h"
#include "core/rope.h"

/* Per-head RMSNorm (qwen3 q_norm/k_norm): x is (T, n_heads, hd). */
static void head_norm(float *x, int64_t T, int n_heads, int hd, const float *w, float eps)
{
    for (int64_t i = 0; i < T * n_heads; i++)
        mlxc_rmsnorm(x + i * hd, x + i * hd, w, hd, eps);
}

/* The state's choice of product: rowwise in batched decode (see mlxc_linear_forward_rowwise). */
static void lin(const struct mlxc_state *s, const struct mlxc_linear *l, const float *x, int64_t T, float *y)
{
    (s->rowwise ? mlxc_linear_forward_rowwise : mlxc_linear_forward)(l, x, T, y, s->pool);
}

void mlxc_block_qkv(const struct mlxc_model *m, int layer, struct mlxc_state *s, int64_t N)
{
    const struct mlxc_config *c = &m->cfg;
    const struct mlxc_layer *L = &m->layers[layer];
    const int64_t D = c->hidden_size;
    for (int64_t t = 0; t < N; t++)
        mlxc_rmsnorm(s->xn + t * D, s->x + t * D, L->attn_norm, D, c->norm_eps);
    lin(s, &L->wq, s->xn, N, s->q);
    lin(s, &L->wk, s->xn, N, s->k);
    lin(s, &L->wv, s->xn, N, s->v);
}

int mlxc_block_attend(const struct mlxc_model *m, int layer, struct mlxc_state *s, struct mlxc_kv_cache *cache,
                      int64_t r0, int64_t T, struct mlxc_err *e)
{
    const struct mlxc_config *c = &m->cfg;
    const struct mlxc_layer *L = &m->layers[layer];
    const int hd = (int)c->head_dim, H = (int)c->n_heads, KV = (int)c->n_kv_heads;
    const int64_t kvdim = (int64_t)KV * hd, pos0 = cache->offset; /* absolute positions, also after wrap */
    float *q = s->q + r0 * H * hd, *k = s->k + r0 * kvdim, *v = s->v + r0 * kvdim;
    if (c->qk_norm) {
        head_norm(q, T, H, hd, L->q_norm, c->norm_eps);
        head_norm(k, T, KV, hd, L->k_norm, c->norm_eps);
    }
    for (int64_t t = 0; t < T; t++) {
        mlxc_rope_apply(q + t * H * hd, H, hd, hd, pos0 + t, s->inv_freq, c->rope.traditional);
        mlxc_rope_apply(k + t * kvdim, KV, hd, hd, pos0 + t, s->inv_freq, c->rope.traditional);
    }
    struct mlxc_kv_view view;
    int rc = mlxc_kv_update(cache, layer, k, v, T, &view, e);
    if (!rc)
        rc = mlxc_state_reserve_scores(s, view.n, (int)c->head_dim, e);
    if (rc)
        return rc;
    mlxc_attention(c, s, cache, layer, &view, q, T, s->att + r0 * H * hd);
    return 0;
}

void mlxc_block_out(const struct mlxc_model *m, int layer, struct mlxc_state *s, int64_t N)
{
    const struct mlxc_config *c = &m->cfg;
    const struct mlxc_layer *L = &m->layers[layer];
    const int64_t D = c->hidden_size, I = c->intermediate_size;
    lin(s, &L->wo, s->att, N, s->proj);
    mlxc_add(s->x, s->proj, N * D);

    /* MLP sub-block */
    for (int64_t t = 0; t < N; t++)
        mlxc_rmsnorm(s->xn + t * D, s->x + t * D, L->mlp_norm, D, c->norm_eps);
    lin(s, &L->gate, s->xn, N, s->gate);
    lin(s, &L->up, s->xn, N, s->up);
    mlxc_swiglu(s->gate, s->up, N * I);
    lin(s, &L->down, s->gate, N, s->proj);
    mlxc_add(s->x, s->proj, N * D);
}

int mlxc_block_forward(const struct mlxc_model *m, int layer, struct mlxc_state *s, struct mlxc_kv_cache *cache,
                       int64_t T, struct mlxc_err *e)
{
    mlxc_block_qkv(m, layer, s, T);
    int rc = mlxc_block_attend(m, layer, s, cache, 0, T, e);
    if (rc)
        return rc;
    mlxc_block_out(m, layer, s, T);
    return 0;
}

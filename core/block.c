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

int mlxc_block_forward(const struct mlxc_model *m, int layer, struct mlxc_state *s, struct mlxc_kv_cache *cache,
                       int64_t T, struct mlxc_err *e)
{
    const struct mlxc_config *c = &m->cfg;
    const struct mlxc_layer *L = &m->layers[layer];
    const int64_t D = c->hidden_size, I = c->intermediate_size;
    const int hd = (int)c->head_dim, H = (int)c->n_heads, KV = (int)c->n_kv_heads;
    const int64_t kvdim = (int64_t)KV * hd, pos0 = cache->offset; /* absolute positions, also after wrap */

    /* attention sub-block */
    for (int64_t t = 0; t < T; t++)
        mlxc_rmsnorm(s->xn + t * D, s->x + t * D, L->attn_norm, D, c->norm_eps);
    mlxc_linear_forward(&L->wq, s->xn, T, s->q, s->pool);
    mlxc_linear_forward(&L->wk, s->xn, T, s->k, s->pool);
    mlxc_linear_forward(&L->wv, s->xn, T, s->v, s->pool);
    if (c->qk_norm) {
        head_norm(s->q, T, H, hd, L->q_norm, c->norm_eps);
        head_norm(s->k, T, KV, hd, L->k_norm, c->norm_eps);
    }
    for (int64_t t = 0; t < T; t++) {
        mlxc_rope_apply(s->q + t * H * hd, H, hd, hd, pos0 + t, s->inv_freq, c->rope.traditional);
        mlxc_rope_apply(s->k + t * kvdim, KV, hd, hd, pos0 + t, s->inv_freq, c->rope.traditional);
    }
    struct mlxc_kv_view view;
    int rc = mlxc_kv_update(cache, layer, s->k, s->v, T, &view, e);
    if (!rc)
        rc = mlxc_state_reserve_scores(s, view.n, (int)c->head_dim, e);
    if (rc)
        return rc;
    mlxc_attention(c, s, cache, layer, &view, s->q, T, s->att);
    mlxc_linear_forward(&L->wo, s->att, T, s->proj, s->pool);
    mlxc_add(s->x, s->proj, T * D);

    /* MLP sub-block */
    for (int64_t t = 0; t < T; t++)
        mlxc_rmsnorm(s->xn + t * D, s->x + t * D, L->mlp_norm, D, c->norm_eps);
    mlxc_linear_forward(&L->gate, s->xn, T, s->gate, s->pool);
    mlxc_linear_forward(&L->up, s->xn, T, s->up, s->pool);
    mlxc_swiglu(s->gate, s->up, T * I);
    mlxc_linear_forward(&L->down, s->gate, T, s->proj, s->pool);
    mlxc_add(s->x, s->proj, T * D);
    return 0;
}

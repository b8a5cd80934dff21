/* The one decoder block every family shares (mlx_lm llama.py TransformerBlock and its variants):
 *   h   = x + PostNorm_a(o_proj(Attention(PreNorm_a(x))))
 *   out = h + PostNorm_m(MLP(PreNorm_m(h)))
 * PreNorm: RMSNorm (llama), RMSNorm with (1 + w) (gemma, folded in at load), LayerNorm with bias
 * (starcoder2); absent for olmo2. PostNorm: only gemma's sandwich and olmo2.
 * Attention: q/k/v projections (optional biases, or one fused qkv_proj split as [q | k | v]: phi3),
 * optional q/k RMSNorm per head (qwen3, gemma3) or over the whole projection (olmo2), RoPE on the first
 * rope_dims features at the cache offset (su: those features first multiplied by mscale; local layers
 * with their own base; none on smollm3's NoPE layers), keys/values appended to the cache, GQA softmax
 * with the family's scale and optional softcap, over the layer's window on sliding layers.
 * MLP: down(act(gate) * up) with act silu / tanh-GELU / erf-GELU (gate_up_proj split [gate | up] for
 * phi3), or non-gated c_proj(gelu(c_fc(x))) (starcoder2), or a mixture of experts (core/moe.h) on MoE
 * layers. Attention sinks (gpt_oss) add a per-head logit to each softmax's denominator.
 * Family differences are flags in the config, never a copy of this file.
 *
 * The block runs in three phases so that a batch of sequences shares the row-wise parts (core/batch.c):
 *   qkv:    rows [0, N) of s->x (any sequences) -> pre-norm -> q, k, v projections
 *   attend: rows [r0, r0+T) of one sequence: q/k norms, RoPE at its cache offset, cache update,
 *           attention -> s->att rows [r0, r0+T)
 *   out:    rows [0, N): o_proj, post-norm, residual; MLP sub-block with its norms and residual */
#include <math.h>
#include <string.h>

#include "core/forward.h"
#include "core/linear_group.h"
#include "core/ops.h"
#include "core/rope.h"

void mlxc_block_norm(const struct mlxc_config *c, float *out, const float *x, const float *w, const float *b,
                     int64_t T, int64_t n)
{
    for (int64_t t = 0; t < T; t++) {
        if (c->norm == MLXC_NORM_LAYER)
            mlxc_layernorm(out + t * n, x + t * n, w, b, n, c->norm_eps);
        else
            mlxc_rmsnorm(out + t * n, x + t * n, w, n, c->norm_eps);
    }
}

/* Columns [col, col + n) of the (T, width) matrix src into the (T, n) matrix dst. */
static void split_cols(float *dst, const float *src, int64_t T, int64_t width, int64_t col, int64_t n)
{
    for (int64_t t = 0; t < T; t++)
        memcpy(dst + t * n, src + t * width + col, (size_t)n * sizeof *dst);
}

/* q/k norms: per head (x is (T, heads, hd)) or over each token's whole projection (olmo2). */
static void qk_norm(const struct mlxc_config *c, float *x, int64_t T, int heads, const float *w)
{
    const int hd = (int)c->head_dim;
    if (c->qk_norm == MLXC_QK_FULL_WIDTH)
        mlxc_rmsnorm_rows(x, T, (int64_t)heads * hd, w, c->norm_eps);
    else
        mlxc_rmsnorm_rows(x, T * heads, hd, w, c->norm_eps);
}

static void rope(const struct mlxc_config *c, const struct mlxc_state *s, int layer, float *x, int64_t T, int heads,
                 int64_t pos0)
{
    if (c->layer_rope && !c->layer_rope[layer])
        return; /* NoPE layer */
    const int hd = (int)c->head_dim, dims = (int)c->rope_dims;
    const int local = c->has_rope_local && c->layer_sliding && c->layer_sliding[layer];
    const struct mlxc_rope_cfg *r = local ? &c->rope_local : &c->rope;
    if (r->mscale != 0.0f && r->mscale != 1.0f)
        for (int64_t i = 0; i < T * heads; i++)
            for (int d = 0; d < dims; d++)
                x[i * hd + d] *= r->mscale;
    for (int64_t t = 0; t < T; t++)
        mlxc_rope_apply(x + t * heads * hd, heads, hd, dims, pos0 + t, local ? s->inv_freq_local : s->inv_freq,
                        r->traditional);
}

/* The state's choice of product: rowwise in batched decode (see mlxc_linear_forward_rowwise), per
 * segment in grouped prefill (mlxc_linear_forward_group). */
static void lin(const struct mlxc_state *s, const struct mlxc_linear *l, const float *x, int64_t T, float *y)
{
    if (s->n_seg > 0)
        mlxc_linear_forward_group(l, x, s->seg_T, s->n_seg, y, s->seg_scratch, s->pool);
    else
        (s->rowwise ? mlxc_linear_forward_rowwise : mlxc_linear_forward)(l, x, T, y, s->pool);
}

void mlxc_block_qkv(const struct mlxc_model *m, int layer, struct mlxc_state *s, int64_t N)
{
    const struct mlxc_config *c = &m->cfg;
    const struct mlxc_layer *L = &m->layers[layer];
    const int64_t D = c->hidden_size, qdim = c->n_heads * c->head_dim, kvdim = c->n_kv_heads * c->head_dim;
    if (c->pre_norms)
        mlxc_block_norm(c, s->xn, s->x, L->attn_norm, L->attn_norm_b, N, D);
    const float *in = c->pre_norms ? s->xn : s->x;
    if (c->fused_qkv) {
        lin(s, &L->wq, in, N, s->fused);
        split_cols(s->q, s->fused, N, qdim + 2 * kvdim, 0, qdim);
        split_cols(s->k, s->fused, N, qdim + 2 * kvdim, qdim, kvdim);
        split_cols(s->v, s->fused, N, qdim + 2 * kvdim, qdim + kvdim, kvdim);
    } else {
        lin(s, &L->wq, in, N, s->q);
        lin(s, &L->wk, in, N, s->k);
        lin(s, &L->wv, in, N, s->v);
    }
}

int mlxc_block_attend(const struct mlxc_model *m, int layer, struct mlxc_state *s, struct mlxc_kv_cache *cache,
                      int64_t r0, int64_t T, struct mlxc_err *e)
{
    const struct mlxc_config *c = &m->cfg;
    const struct mlxc_layer *L = &m->layers[layer];
    const int hd = (int)c->head_dim, H = (int)c->n_heads, KV = (int)c->n_kv_heads;
    const int64_t qdim = (int64_t)H * hd, kvdim = (int64_t)KV * hd;
    const int64_t pos0 = cache->offset; /* absolute positions, also after wrap */
    float *q = s->q + r0 * qdim, *k = s->k + r0 * kvdim, *v = s->v + r0 * kvdim;
    if (c->qk_norm) {
        qk_norm(c, q, T, H, L->q_norm);
        qk_norm(c, k, T, KV, L->k_norm);
    }
    rope(c, s, layer, q, T, H, pos0);
    rope(c, s, layer, k, T, KV, pos0);
    struct mlxc_kv_view view;
    int rc = mlxc_kv_update(cache, layer, k, v, T, &view, e);
    if (!rc)
        rc = mlxc_state_reserve_scores(s, mlxc_attention_scratch(c, T, view.n, cache->layers[layer].bits > 0), e);
    if (rc)
        return rc;
    /* a sliding layer over a plain cache (slot = position) still sees only its window; a rotating cache
     * of the window's size already limits it (mlx_lm's semantics for gemma3/gpt-oss make_cache) */
    if (c->layer_sliding && c->layer_sliding[layer] && view.window == 0 &&
        cache->layers[layer].policy == MLXC_KV_PLAIN)
        view.window = c->sliding_window;
    mlxc_attention(c, s, cache, layer, &view, L->sinks, q, T, s->att + r0 * qdim);
    return 0;
}

static void mlp_block(const struct mlxc_model *m, int layer, struct mlxc_state *s, int64_t T, const float *in)
{
    const struct mlxc_config *c = &m->cfg;
    const struct mlxc_layer *L = &m->layers[layer];
    const int64_t I = c->intermediate_size;
    if (L->moe) {
        mlxc_moe_forward(c, L->moe, s, T, in, s->proj);
        return;
    }
    if (!c->mlp_gated) {
        lin(s, &L->up, in, T, s->gate);
        mlxc_activate(s->gate, T * I, c->act);
    } else {
        if (c->fused_gate_up) {
            lin(s, &L->gate, in, T, s->fused);
            split_cols(s->gate, s->fused, T, 2 * I, 0, I);
            split_cols(s->up, s->fused, T, 2 * I, I, I);
        } else {
            lin(s, &L->gate, in, T, s->gate);
            lin(s, &L->up, in, T, s->up);
        }
        mlxc_gated_act_pool(s->gate, s->up, T * I, c->act, s->pool);
    }
    lin(s, &L->down, s->gate, T, s->proj);
}

void mlxc_block_out(const struct mlxc_model *m, int layer, struct mlxc_state *s, int64_t N)
{
    const struct mlxc_config *c = &m->cfg;
    const struct mlxc_layer *L = &m->layers[layer];
    const int64_t D = c->hidden_size;
    lin(s, &L->wo, s->att, N, s->proj);
    if (c->post_norms)
        mlxc_block_norm(c, s->proj, s->proj, L->attn_post_norm, NULL, N, D);
    mlxc_add(s->x, s->proj, N * D);

    /* MLP sub-block */
    if (c->pre_norms)
        mlxc_block_norm(c, s->xn, s->x, L->mlp_norm, L->mlp_norm_b, N, D);
    mlp_block(m, layer, s, N, c->pre_norms ? s->xn : s->x);
    if (c->post_norms)
        mlxc_block_norm(c, s->proj, s->proj, L->mlp_post_norm, NULL, N, D);
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

/* phi3 (mlx_lm/models/phi3.py). Differs from llama: one fused self_attn.qkv_proj whose output splits
 * into q (n_heads*hd), k and v (n_kv*hd each), one fused mlp.gate_up_proj split into halves [gate | up];
 * head_dim = hidden/heads; RoPE on the first head_dim * partial_rotary_factor features; rope_scaling
 * "longrope"/"su" is SuScaledRoPE (always the long factor, q and k scaled by
 * mscale = sqrt(1 + ln f / ln original_max_position_embeddings), f = max_position_embeddings / original,
 * when f > 1), "linear" divides positions by the factor; untied head by default; no biases. */
#include "core/config.h"
#include "core/family.h"
#include "core/rope.h"

static int parse_phi3(struct mlxc_config *c, struct mlxc_err *e)
{
    float partial = 1.0f;
    int rc = mlxc_cfg_float(c->args, "partial_rotary_factor", 1.0, &partial, e);
    if (!rc) rc = mlxc_cfg_bool(c->root, "tie_word_embeddings", 0, &c->tie_word_embeddings, e);
    if (!rc) rc = mlxc_cfg_int(c->args, "max_position_embeddings", 131072, &c->max_position_embeddings, e);
    if (!rc) rc = mlxc_rope_parse(c->args, 10000.0f, &c->rope, e);
    if (!rc && c->rope.type != MLXC_ROPE_SU && c->rope.type != MLXC_ROPE_LINEAR)
        c->rope.type = MLXC_ROPE_DEFAULT; /* mlx_lm warns and runs without scaling */
    if (rc)
        return rc;
    c->head_dim = c->hidden_size / c->n_heads;
    c->rope_dims = (int64_t)((float)c->head_dim * partial);
    c->fused_qkv = c->fused_gate_up = 1;
    return 0;
}

const struct mlxc_family mlxc_family_phi3 = {
    .name = "phi3",
    .parse_config = parse_phi3,
};

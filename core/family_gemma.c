/* gemma2 (mlx_lm/models/gemma2.py) and gemma3_text (gemma3_text.py). Differ from llama:
 *   - every RMSNorm multiplies by (1 + w); four norms per block (sandwich): input_layernorm before and
 *     post_attention_layernorm after attention, pre_/post_feedforward_layernorm around the MLP;
 *   - the embedding output is scaled by sqrt(hidden) (gemma3: that constant rounded to bf16 first);
 *   - MLP down(gelu_approx(gate) * up) with the tanh GELU; query scale query_pre_attn_scalar^-0.5;
 *   - the head is the embedding (gemma2 always; gemma3 when the weights have no lm_head).
 * gemma2 adds tanh softcapping of attention scores (attn_logit_softcapping, 50) and of the logits
 * (final_logit_softcapping, 30); its alternating sliding window is not implemented by mlx_lm, so every
 * layer is global here too.
 * gemma3_text adds (1 + w) q/k norms per head before RoPE and local layers: layer i is global iff
 * i % sliding_window_pattern == pattern - 1 (default 6); local layers see a window of sliding_window
 * (default 512) keys, keep a RotatingKVCache of that size (mlx_lm make_cache) and use RoPE base
 * rope_local_base_freq (10000) without scaling; global layers use rope_theta (1e6) and rope_scaling. */
#include <math.h>

#include "core/config.h"
#include "core/family.h"
#include "core/half.h"
#include "core/rope.h"

static int parse_gemma_common(struct mlxc_config *c, float scalar_default, struct mlxc_err *e)
{
    int rc = mlxc_cfg_int_req(c->args, "head_dim", &c->head_dim, e);
    float scalar = 0;
    if (!rc) rc = mlxc_cfg_float(c->args, "query_pre_attn_scalar", scalar_default, &scalar, e);
    if (!rc && !(scalar > 0))
        rc = mlxc_errf(e, MLXC_EFORMAT, "'query_pre_attn_scalar' must be positive");
    c->attn_scale = (float)(1.0 / sqrt((double)scalar));
    c->norm = MLXC_NORM_RMS_PLUS_ONE;
    c->act = MLXC_ACT_GELU_TANH;
    c->post_norms = 1;
    c->tie_word_embeddings = 1;
    c->embed_scale = (float)sqrt((double)c->hidden_size);
    return rc;
}

static int parse_gemma2(struct mlxc_config *c, struct mlxc_err *e)
{
    int rc = parse_gemma_common(c, 144.0f, e);
    if (!rc) rc = mlxc_rope_parse(c->args, 10000.0f, &c->rope, e);
    c->rope.type = MLXC_ROPE_DEFAULT; /* nn.RoPE: rope_scaling is not read */
    if (!rc) rc = mlxc_cfg_float(c->args, "attn_logit_softcapping", 50.0, &c->attn_softcap, e);
    if (!rc) rc = mlxc_cfg_float(c->args, "final_logit_softcapping", 30.0, &c->final_softcap, e);
    return rc;
}

static int parse_gemma3_text(struct mlxc_config *c, struct mlxc_err *e)
{
    int64_t pattern = 0;
    float local_base = 0;
    int rc = parse_gemma_common(c, 256.0f, e);
    /* mlx: mx.array(sqrt(hidden), mx.bfloat16) */
    c->embed_scale = mlxc_bf16_to_f32(mlxc_f32_to_bf16(c->embed_scale));
    c->qk_norm = MLXC_QK_PER_HEAD;
    c->tie_from_weights = 1;
    if (!rc) rc = mlxc_rope_parse(c->args, 1000000.0f, &c->rope, e);
    if (!rc) rc = mlxc_cfg_float(c->args, "rope_local_base_freq", 10000.0, &local_base, e);
    if (!rc) rc = mlxc_cfg_int(c->args, "sliding_window", 512, &c->sliding_window, e);
    if (!rc) rc = mlxc_cfg_int(c->args, "sliding_window_pattern", 6, &pattern, e);
    if (!rc && pattern < 1)
        rc = mlxc_errf(e, MLXC_EFORMAT, "'sliding_window_pattern' is %lld", (long long)pattern);
    if (!rc) rc = mlxc_config_layer_arrays(c, e);
    if (rc)
        return rc;
    for (int64_t i = 0; i < c->n_layers; i++)
        c->layer_sliding[i] = i % pattern != pattern - 1;
    c->has_rope_local = 1;
    c->rope_local = (struct mlxc_rope_cfg){.type = MLXC_ROPE_DEFAULT, .theta = local_base,
                                           .traditional = c->rope.traditional};
    c->has_make_cache = 1;
    return 0;
}

const struct mlxc_family mlxc_family_gemma2 = {
    .name = "gemma2",
    .parse_config = parse_gemma2,
};

const struct mlxc_family mlxc_family_gemma3_text = {
    .name = "gemma3_text",
    .parse_config = parse_gemma3_text,
};

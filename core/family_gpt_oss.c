/* gpt_oss (mlx_lm/models/gpt_oss.py). Differs from llama:
 *   - attention with biases on q/k/v/o and sinks: a learned logit per head (self_attn.sinks) joins each
 *     query's softmax as one more column and is dropped afterwards, so it only adds to the denominator;
 *   - layer_types alternates "sliding_attention" / "full_attention" (default: sliding first); sliding
 *     layers see `sliding_window` (128) keys and keep a RotatingKVCache of that size (make_cache);
 *   - RoPE as initialize_rope builds it (yarn in the released configs), rope_theta 150000 (or
 *     rope_parameters' rope_theta);
 *   - every MLP is an MoE: router `mlp.router` with bias, the top num_experts_per_tok (4) logits
 *     softmaxed among themselves; experts with biases stacked as mlp.experts.{gate,up,down}_proj and the
 *     clipped activation g = min(g, 7), u = clip(u, -7, 7), out = g sigmoid(1.702 g) (u + 1)
 *     (Hugging Face: gate_up_proj interleaved [gate0, up0, gate1, ...], or MXFP4 blocks: core/experts.c);
 *   - untied head, rms_norm_eps 1e-5. */
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/family.h"
#include "core/rope.h"

static int parse_gpt_oss(struct mlxc_config *c, struct mlxc_err *e)
{
    float theta = 150000.0f;
    const cJSON *rp = cJSON_GetObjectItemCaseSensitive(c->args, "rope_parameters");
    int rc = cJSON_IsObject(rp) ? mlxc_cfg_float(rp, "rope_theta", 150000.0, &theta, e) : 0;
    if (!rc) rc = mlxc_rope_parse(c->args, theta, &c->rope, e);
    if (!rc && cJSON_IsObject(rp))
        c->rope.theta = theta; /* mlx_lm: rope_parameters' rope_theta wins */
    if (!rc) rc = mlxc_cfg_float(c->args, "rms_norm_eps", 1e-5, &c->norm_eps, e);
    if (!rc) rc = mlxc_cfg_int(c->args, "head_dim", 64, &c->head_dim, e);
    if (!rc) rc = mlxc_cfg_int(c->args, "sliding_window", 128, &c->sliding_window, e);
    if (!rc) rc = mlxc_cfg_int(c->args, "num_local_experts", 128, &c->n_experts, e);
    if (!rc) rc = mlxc_cfg_int(c->args, "num_experts_per_tok", 4, &c->top_k, e);
    if (!rc) rc = mlxc_config_layer_arrays(c, e);
    if (!rc && !(c->layer_moe = malloc((size_t)c->n_layers)))
        rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    if (rc)
        return rc;
    const cJSON *types = cJSON_GetObjectItemCaseSensitive(c->args, "layer_types");
    if (types && !cJSON_IsNull(types) && (!cJSON_IsArray(types) || cJSON_GetArraySize(types) != c->n_layers))
        return mlxc_errf(e, MLXC_EFORMAT, "'layer_types' is not a list of %lld names", (long long)c->n_layers);
    for (int64_t i = 0; i < c->n_layers; i++) {
        const cJSON *t = types && cJSON_IsArray(types) ? cJSON_GetArrayItem(types, (int)i) : NULL;
        if (t && (!cJSON_IsString(t) || (strcmp(t->valuestring, "sliding_attention") != 0 &&
                                         strcmp(t->valuestring, "full_attention") != 0)))
            return mlxc_errf(e, MLXC_EFORMAT, "'layer_types' entry %lld is not sliding_attention or full_attention",
                             (long long)i);
        c->layer_sliding[i] = t ? strcmp(t->valuestring, "sliding_attention") == 0 : i % 2 == 0;
        c->layer_moe[i] = 1;
    }
    c->has_make_cache = 1;
    c->tie_word_embeddings = 0;
    c->q_bias = c->k_bias = c->v_bias = c->o_bias = 1;
    c->attn_sinks = 1;
    c->act = MLXC_ACT_SWIGLU_OAI;
    c->moe_intermediate = c->intermediate_size;
    c->moe_bias = 1;
    c->router = MLXC_ROUTER_TOPK_SOFTMAX;
    c->moe_block = "mlp";
    c->moe_router = "router";
    c->moe_experts = "experts";
    c->moe_hf = MLXC_MOE_HF_GPT_OSS;
    return 0;
}

/* the routers ("....router") are quantized at 8 bits, group 64, affine (also in an mxfp4 model) */
static int gpt_oss_quant(const char *path, struct mlxc_qparams *q)
{
    size_t n = strlen(path);
    if (n < 6 || strcmp(path + n - 6, "router") != 0)
        return 0;
    *q = (struct mlxc_qparams){MLXC_Q_AFFINE, 8, 64};
    return 1;
}

const struct mlxc_family mlxc_family_gpt_oss = {.name = "gpt_oss", .parse_config = parse_gpt_oss,
                                                .quant_predicate = gpt_oss_quant};

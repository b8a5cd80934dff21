/* The mixture-of-experts llamas (their MoE MLP is core/moe.c over the shared block):
 *   mixtral (mlx_lm/models/mixtral.py): llama attention with head_dim = hidden/heads and plain RoPE
 *     (rope_scaling is not read); every layer's MLP is block_sparse_moe: router `gate` (E, hidden), the
 *     top num_experts_per_tok (2) raw logits softmaxed among themselves, experts SwiGLU of width
 *     intermediate_size stacked as block_sparse_moe.switch_mlp.{gate,up,down}_proj (Hugging Face:
 *     experts.{e}.w1 / w3 / w2); untied head, rms_norm_eps 1e-5, rope_theta 1e6 by default.
 *   qwen3_moe (qwen3_moe.py): qwen3 attention (per-head q/k norms, plain RoPE); layer i is MoE iff
 *     i is not in mlp_only_layers and (i + 1) % decoder_sparse_step == 0, else a dense MLP of width
 *     intermediate_size; the router `mlp.gate` is softmaxed over all experts, the top k kept and, with
 *     norm_topk_prob, renormalised to sum 1; experts of width moe_intermediate_size stacked as
 *     mlp.switch_mlp.* (Hugging Face: mlp.experts.{e}.{gate,up,down}_proj). */
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/family.h"
#include "core/rope.h"

/* c->layer_moe, every layer MoE. */
static int moe_layers(struct mlxc_config *c, struct mlxc_err *e)
{
    if (c->n_layers < 1 || c->n_layers > 1024)
        return mlxc_errf(e, MLXC_EFORMAT, "'num_hidden_layers' is %lld, outside 1..1024", (long long)c->n_layers);
    if (!(c->layer_moe = malloc((size_t)c->n_layers)))
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    for (int64_t i = 0; i < c->n_layers; i++)
        c->layer_moe[i] = 1;
    return 0;
}

static int parse_mixtral(struct mlxc_config *c, struct mlxc_err *e)
{
    int rc = mlxc_cfg_float(c->args, "rms_norm_eps", 1e-5, &c->norm_eps, e);
    if (!rc) rc = mlxc_cfg_bool(c->root, "tie_word_embeddings", 0, &c->tie_word_embeddings, e);
    if (!rc) rc = mlxc_rope_parse(c->args, 1000000.0f, &c->rope, e);
    if (!rc) rc = mlxc_cfg_int(c->args, "num_local_experts", 8, &c->n_experts, e);
    if (!rc) rc = mlxc_cfg_int(c->args, "num_experts_per_tok", 2, &c->top_k, e);
    if (!rc) rc = moe_layers(c, e);
    c->rope.type = MLXC_ROPE_DEFAULT; /* nn.RoPE(head_dim, traditional=rope_traditional, base) */
    c->rope.mscale = 0;
    c->head_dim = c->n_heads > 0 ? c->hidden_size / c->n_heads : 0;
    c->moe_intermediate = c->intermediate_size;
    c->router = MLXC_ROUTER_TOPK_SOFTMAX;
    c->moe_block = "block_sparse_moe";
    c->moe_router = "gate";
    c->moe_experts = "switch_mlp";
    c->moe_hf = MLXC_MOE_HF_PER_EXPERT;
    c->moe_hf_names[0] = "w1";
    c->moe_hf_names[1] = "w3";
    c->moe_hf_names[2] = "w2";
    return rc;
}

static int parse_qwen3_moe(struct mlxc_config *c, struct mlxc_err *e)
{
    int64_t step = 1;
    int rc = mlxc_cfg_int_req(c->args, "head_dim", &c->head_dim, e);
    if (!rc && !cJSON_GetObjectItemCaseSensitive(c->root, "tie_word_embeddings"))
        rc = mlxc_errf(e, MLXC_EFORMAT, "missing 'tie_word_embeddings'");
    if (!rc) rc = mlxc_cfg_bool(c->root, "tie_word_embeddings", 0, &c->tie_word_embeddings, e);
    if (!rc) rc = mlxc_rope_parse(c->args, 1000000.0f, &c->rope, e);
    if (!rc) rc = mlxc_cfg_int_req(c->args, "num_experts", &c->n_experts, e);
    if (!rc) rc = mlxc_cfg_int_req(c->args, "num_experts_per_tok", &c->top_k, e);
    if (!rc) rc = mlxc_cfg_int_req(c->args, "moe_intermediate_size", &c->moe_intermediate, e);
    if (!rc) rc = mlxc_cfg_int(c->args, "decoder_sparse_step", 1, &step, e);
    if (!rc) rc = mlxc_cfg_bool(c->args, "norm_topk_prob", 0, &c->norm_topk_prob, e);
    if (!rc && step < 1)
        rc = mlxc_errf(e, MLXC_EFORMAT, "'decoder_sparse_step' is %lld", (long long)step);
    if (!rc && c->n_experts > 0)
        rc = moe_layers(c, e);
    if (rc)
        return rc;
    c->rope.type = MLXC_ROPE_DEFAULT; /* nn.RoPE: rope_scaling is not read */
    c->rope.mscale = 0;
    c->qk_norm = MLXC_QK_PER_HEAD;
    c->router = MLXC_ROUTER_SOFTMAX_TOPK;
    c->moe_block = "mlp";
    c->moe_router = "gate";
    c->moe_experts = "switch_mlp";
    c->moe_hf = MLXC_MOE_HF_PER_EXPERT;
    c->moe_hf_names[0] = "gate_proj";
    c->moe_hf_names[1] = "up_proj";
    c->moe_hf_names[2] = "down_proj";
    if (!c->layer_moe)
        return 0;
    const cJSON *only = cJSON_GetObjectItemCaseSensitive(c->args, "mlp_only_layers");
    if (only && !cJSON_IsNull(only) && !cJSON_IsArray(only))
        return mlxc_errf(e, MLXC_EFORMAT, "'mlp_only_layers' is not a list");
    for (int64_t i = 0; i < c->n_layers; i++)
        c->layer_moe[i] = (i + 1) % step == 0;
    for (const cJSON *x = only ? only->child : NULL; x; x = x->next) {
        if (!cJSON_IsNumber(x))
            return mlxc_errf(e, MLXC_EFORMAT, "'mlp_only_layers' holds a non-number");
        if (x->valuedouble >= 0 && x->valuedouble < (double)c->n_layers)
            c->layer_moe[(int64_t)x->valuedouble] = 0;
    }
    return 0;
}

/* qwen3_moe's routers ("....mlp.gate") are quantized at 8 bits, group 64 */
static int qwen3_moe_quant(const char *path, struct mlxc_qparams *q)
{
    size_t n = strlen(path);
    if (n < 8 || strcmp(path + n - 8, "mlp.gate") != 0)
        return 0;
    *q = (struct mlxc_qparams){MLXC_Q_AFFINE, 8, 64};
    return 1;
}

const struct mlxc_family mlxc_family_mixtral = {.name = "mixtral", .parse_config = parse_mixtral};
const struct mlxc_family mlxc_family_qwen3_moe = {.name = "qwen3_moe", .parse_config = parse_qwen3_moe,
                                                  .quant_predicate = qwen3_moe_quant};

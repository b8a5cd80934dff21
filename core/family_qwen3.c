/* qwen3 (mlx_lm/models/qwen3.py). Differs from llama: per-head RMSNorm on q and k (q_norm, k_norm over
 * head_dim) after the head reshape and before RoPE; head_dim and tie_word_embeddings are required;
 * no attention or MLP biases. */
#include "core/config.h"
#include "core/family.h"

static int parse_qwen3(struct mlxc_config *c, struct mlxc_err *e)
{
    int64_t head_dim;
    int rc = mlxc_cfg_int_req(c->args, "head_dim", &head_dim, e);
    if (!rc && !cJSON_GetObjectItemCaseSensitive(c->root, "tie_word_embeddings"))
        rc = mlxc_errf(e, MLXC_EFORMAT, "missing 'tie_word_embeddings'");
    if (!rc)
        rc = mlxc_family_parse_llama_like(c, 1, 1000000.0f, e);
    c->head_dim = head_dim;
    c->q_bias = c->k_bias = c->v_bias = c->o_bias = c->mlp_bias = 0;
    c->qk_norm = MLXC_QK_PER_HEAD;
    return rc;
}

const struct mlxc_family mlxc_family_qwen3 = {
    .name = "qwen3",
    .aliases = NULL,
    .parse_config = parse_qwen3,
};

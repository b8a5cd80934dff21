/* llama (mlx_lm/models/llama.py), also serving mistral (MODEL_REMAPPING mistral -> llama).
 * The baseline every other family is described against: pre-norm RMSNorm blocks, GQA attention with
 * non-traditional RoPE (default/linear/dynamic/llama3 scaling), SwiGLU MLP, tied head by default. */
#include "core/config.h"
#include "core/family.h"
#include "core/rope.h"

int mlxc_family_parse_llama_like(struct mlxc_config *c, int tie_default, float rope_theta_default,
                                 struct mlxc_err *e)
{
    const cJSON *a = c->args;
    int rc = 0, attention_bias = 0;
    if (!rc) rc = mlxc_cfg_int(a, "head_dim", c->n_heads > 0 ? c->hidden_size / c->n_heads : 0, &c->head_dim, e);
    if (!rc) rc = mlxc_cfg_bool(a, "attention_bias", 0, &attention_bias, e);
    if (!rc) rc = mlxc_cfg_bool(a, "mlp_bias", 0, &c->mlp_bias, e);
    if (!rc) rc = mlxc_cfg_bool(c->root, "tie_word_embeddings", tie_default, &c->tie_word_embeddings, e);
    if (!rc) rc = mlxc_rope_parse(a, rope_theta_default, &c->rope, e);
    c->q_bias = c->k_bias = c->v_bias = c->o_bias = attention_bias;
    return rc;
}

static int parse_llama(struct mlxc_config *c, struct mlxc_err *e)
{
    return mlxc_family_parse_llama_like(c, 1, 10000.0f, e);
}

static const char *const llama_aliases[] = {"mistral", NULL};

const struct mlxc_family mlxc_family_llama = {
    .name = "llama",
    .aliases = llama_aliases,
    .parse_config = parse_llama,
};

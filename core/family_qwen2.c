/* qwen2 (mlx_lm/models/qwen2.py). Differs from llama: q/k/v projections have biases (o_proj none),
 * head_dim is always hidden/heads (a config head_dim is ignored), rope_theta defaults to 1e6. */
#include "core/config.h"
#include "core/family.h"

static int parse_qwen2(struct mlxc_config *c, struct mlxc_err *e)
{
    int rc = mlxc_family_parse_llama_like(c, 1, 1000000.0f, e);
    /* a head count below 1 is reported by the config check that follows; never divide by it */
    c->head_dim = c->n_heads > 0 ? c->hidden_size / c->n_heads : 0;
    c->q_bias = c->k_bias = c->v_bias = 1;
    c->o_bias = 0;
    c->mlp_bias = 0;
    return rc;
}

const struct mlxc_family mlxc_family_qwen2 = {
    .name = "qwen2",
    .aliases = NULL,
    .parse_config = parse_qwen2,
};

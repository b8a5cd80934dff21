/* Small variations of llama, each a few flags:
 *   smollm3 (smollm3.py): NoPE layers: no_rope_layers[i] = 0 means layer i has no RoPE; by default
 *     layer i has RoPE iff (i + 1) % no_rope_layer_interval != 0 (interval 4).
 *   olmo2 (olmo2.py): no pre-norms; post_attention_layernorm on the attention output and
 *     post_feedforward_layernorm on the MLP output; q_norm/k_norm are RMSNorms over the whole q and k
 *     projections (n_heads*hd, n_kv*hd) before the head split and RoPE.
 *   starcoder2 (starcoder2.py): LayerNorm with bias (eps norm_epsilon) everywhere; biases on q/k/v/o;
 *     non-gated MLP c_proj(gelu(c_fc(x))) with the exact erf GELU and biases; head_dim = hidden/heads;
 *     rope_theta 1e5; sliding_window ignored. */
#include "core/config.h"
#include "core/family.h"
#include "core/rope.h"

static int parse_smollm3(struct mlxc_config *c, struct mlxc_err *e)
{
    int64_t interval;
    int rc = mlxc_family_parse_llama_like(c, 1, 10000.0f, e);
    if (!rc) rc = mlxc_cfg_int(c->args, "no_rope_layer_interval", 4, &interval, e);
    if (!rc) rc = mlxc_config_layer_arrays(c, e);
    if (rc)
        return rc;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(c->args, "no_rope_layers");
    if (list && !cJSON_IsNull(list)) {
        if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) != c->n_layers)
            return mlxc_errf(e, MLXC_EFORMAT, "'no_rope_layers' is not a list of %lld flags", (long long)c->n_layers);
        int64_t i = 0;
        for (const cJSON *x = list->child; x; x = x->next, i++) {
            if (!cJSON_IsNumber(x) && !cJSON_IsBool(x))
                return mlxc_errf(e, MLXC_EFORMAT, "'no_rope_layers' holds a non-number");
            c->layer_rope[i] = cJSON_IsBool(x) ? cJSON_IsTrue(x) : x->valuedouble != 0;
        }
    } else {
        if (interval < 1)
            return mlxc_errf(e, MLXC_EFORMAT, "'no_rope_layer_interval' is %lld", (long long)interval);
        for (int64_t i = 0; i < c->n_layers; i++)
            c->layer_rope[i] = (i + 1) % interval != 0;
    }
    return 0;
}

static int parse_olmo2(struct mlxc_config *c, struct mlxc_err *e)
{
    int rc = mlxc_family_parse_llama_like(c, 1, 10000.0f, e);
    c->pre_norms = 0;
    c->post_norms = 1;
    c->qk_norm = MLXC_QK_FULL_WIDTH;
    return rc;
}

static int parse_starcoder2(struct mlxc_config *c, struct mlxc_err *e)
{
    int rc = mlxc_cfg_float(c->args, "norm_epsilon", 1e-5, &c->norm_eps, e);
    if (!rc) rc = mlxc_cfg_bool(c->root, "tie_word_embeddings", 1, &c->tie_word_embeddings, e);
    if (!rc) rc = mlxc_rope_parse(c->args, 100000.0f, &c->rope, e);
    c->rope.type = MLXC_ROPE_DEFAULT; /* nn.RoPE(head_dim, base=rope_theta) */
    c->head_dim = c->hidden_size / c->n_heads;
    c->q_bias = c->k_bias = c->v_bias = c->o_bias = c->mlp_bias = 1;
    c->norm = MLXC_NORM_LAYER;
    c->act = MLXC_ACT_GELU_ERF;
    c->mlp_gated = 0;
    return rc;
}

const struct mlxc_family mlxc_family_smollm3 = {.name = "smollm3", .parse_config = parse_smollm3};
const struct mlxc_family mlxc_family_olmo2 = {.name = "olmo2", .parse_config = parse_olmo2};
const struct mlxc_family mlxc_family_starcoder2 = {.name = "starcoder2", .parse_config = parse_starcoder2};

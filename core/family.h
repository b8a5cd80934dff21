/* The registry of model families (mlx_lm's mlx_lm/models/<model_type>.py). A family is a table row plus
 * small hooks over the one shared transformer block (core/block.h): it never copies the block. */
#ifndef MLXC_FAMILY_H
#define MLXC_FAMILY_H

#include <cjson/cJSON.h>

#include "core/err.h"
#include "quant/quant.h"

struct mlxc_config;

struct mlxc_family {
    const char *name;              /* model_type of the mlx_lm file it follows */
    const char *const *aliases;    /* other model_type values mapped to it (MODEL_REMAPPING); NULL-ended */
    /* Reads the family's config keys and applies its defaults (mlx_lm's ModelArgs), after the generic
     * loader filled the shared fields it could. */
    int (*parse_config)(struct mlxc_config *c, struct mlxc_err *e);
    /* mlx_lm's Model.quant_predicate, or NULL: returns 1 and sets q when module `path` gets params of its
     * own when quantizing (qwen3_moe's and gpt_oss's routers: 8 bits, group 64, affine). */
    int (*quant_predicate)(const char *path, struct mlxc_qparams *q);
};

/* The family for a model_type (aliases included), or NULL. */
const struct mlxc_family *mlxc_family_find(const char *model_type);

/* "llama, mistral, qwen2, qwen3" into buf (for errors and --help). */
const char *mlxc_family_list(char *buf, size_t cap);

/* The families (one per core/family_<name>.c). */
extern const struct mlxc_family mlxc_family_llama, mlxc_family_qwen2, mlxc_family_qwen3, mlxc_family_gemma2,
    mlxc_family_gemma3_text, mlxc_family_phi3, mlxc_family_smollm3, mlxc_family_olmo2, mlxc_family_starcoder2,
    mlxc_family_mixtral, mlxc_family_qwen3_moe, mlxc_family_gpt_oss;

/* Shared by llama-like families: the llama ModelArgs keys (head_dim, attention_bias, mlp_bias,
 * rope_scaling, tie_word_embeddings) with the given defaults. */
int mlxc_family_parse_llama_like(struct mlxc_config *c, int tie_default, float rope_theta_default,
                                 struct mlxc_err *e);

#endif

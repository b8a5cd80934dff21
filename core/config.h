/* config.json (and generation_config.json) parsed into a typed struct.
 *
 * The generic loader reads the keys every family shares; the family's parse hook (core/family.h) then
 * applies that family's defaults and flags, as mlx_lm's ModelArgs dataclasses do. Dimensions are checked
 * against sane caps before anything is allocated. */
#ifndef MLXC_CONFIG_H
#define MLXC_CONFIG_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "core/err.h"
#include "quant/quant.h"

struct mlxc_family;

enum mlxc_rope_type { MLXC_ROPE_DEFAULT, MLXC_ROPE_LINEAR, MLXC_ROPE_DYNAMIC, MLXC_ROPE_LLAMA3 };

struct mlxc_rope_cfg {
    enum mlxc_rope_type type;
    float theta;                 /* base */
    float factor;                /* linear/dynamic/llama3 */
    float low_freq_factor;       /* llama3, default 1 */
    float high_freq_factor;      /* llama3, default 4 */
    int64_t original_max_pos;    /* llama3 (default 8192) */
    int traditional;             /* pairs (2i, 2i+1) instead of (i, i+d/2) */
};

/* Per-layer quantization entry of config["quantization"]: a module path with its own params, or
 * `false` (left in float). */
struct mlxc_quant_layer {
    char *path;
    int quantized;
    struct mlxc_qparams q;
};

struct mlxc_quant_cfg {
    int present;                 /* the model is quantized */
    struct mlxc_qparams q;       /* top-level params */
    struct mlxc_quant_layer *layers;
    size_t nlayers;
};

struct mlxc_config {
    char *model_type;                   /* as written in config.json */
    const struct mlxc_family *family;   /* resolved through the registry (aliases applied) */
    int64_t hidden_size, n_layers, intermediate_size, n_heads, n_kv_heads, head_dim, vocab_size;
    int64_t max_position_embeddings;
    float norm_eps;
    struct mlxc_rope_cfg rope;
    int tie_word_embeddings;
    /* block options the family sets (see core/block.h) */
    int q_bias, k_bias, v_bias, o_bias, mlp_bias;
    int qk_norm;                        /* RMSNorm over head_dim on q and k, before RoPE */
    int32_t eos_ids[32];                /* the EOS set (config, overridden by generation_config) */
    int n_eos;
    struct mlxc_quant_cfg quant;
    cJSON *root;                        /* config.json, kept for family hooks */
    const cJSON *args;                  /* root, or root["text_config"] when present */
};

/* Reads <dir>/config.json (+ generation_config.json). Errors name the file and key. */
int mlxc_config_load(const char *dir, struct mlxc_config *c, struct mlxc_err *e);
/* Same from JSON text (generation_json may be NULL); `label` names the source in errors. */
int mlxc_config_parse(const char *json, const char *generation_json, const char *label, struct mlxc_config *c,
                      struct mlxc_err *e);
void mlxc_config_free(struct mlxc_config *c);

/* Helpers for family hooks: read an optional key of `args` with a default; a present key of the wrong
 * type is an error. */
int mlxc_cfg_int(const cJSON *args, const char *key, int64_t def, int64_t *out, struct mlxc_err *e);
int mlxc_cfg_float(const cJSON *args, const char *key, double def, float *out, struct mlxc_err *e);
int mlxc_cfg_bool(const cJSON *args, const char *key, int def, int *out, struct mlxc_err *e);
/* A required integer key. */
int mlxc_cfg_int_req(const cJSON *args, const char *key, int64_t *out, struct mlxc_err *e);

/* The quantization params of the module at `path` ("model.layers.0.self_attn.q_proj"): the per-layer
 * entry if any, else the top-level params. Returns 0 if the layer is left in float by the config. */
int mlxc_config_quant_for(const struct mlxc_config *c, const char *path, struct mlxc_qparams *q);

#endif

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

enum mlxc_rope_type { MLXC_ROPE_DEFAULT, MLXC_ROPE_LINEAR, MLXC_ROPE_DYNAMIC, MLXC_ROPE_LLAMA3, MLXC_ROPE_SU, MLXC_ROPE_YARN };

/* How a block normalises (mlx fast.rms_norm / fast.layer_norm). */
enum mlxc_norm_kind {
    MLXC_NORM_RMS,          /* x / rms(x) * w */
    MLXC_NORM_RMS_PLUS_ONE, /* x / rms(x) * (1 + w): gemma (the loader stores 1 + w) */
    MLXC_NORM_LAYER,        /* (x - mean) / std * w + b: starcoder2 */
};

/* The MLP's activation. */
enum mlxc_act {
    MLXC_ACT_SILU,      /* silu(g) = g sigmoid(g) */
    MLXC_ACT_GELU_TANH, /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): mlx_lm gelu_approx */
    MLXC_ACT_GELU_ERF,  /* 0.5 x (1 + erf(x / sqrt 2)): mlx nn.gelu */
    MLXC_ACT_SWIGLU_OAI, /* gated only: g = min(g, 7), u = clip(u, -7, 7), g sigmoid(1.702 g) (u + 1): gpt-oss */
};

/* How an MoE router turns its logits (n_experts) into the top_k experts' weights. */
enum mlxc_router {
    MLXC_ROUTER_TOPK_SOFTMAX, /* top-k logits, softmax over those k (mixtral, gpt_oss) */
    MLXC_ROUTER_SOFTMAX_TOPK, /* softmax over all experts, top-k, renormalised if norm_topk_prob (qwen3_moe) */
};

/* Where the experts of an MoE block are stored. In mlx_lm's layout (MLX folders) each projection is one
 * stacked tensor <block>.<experts>.{gate,up,down}_proj.weight with a leading expert dimension [E, out,
 * in] (and .scales/.biases [E, out, in/group] when quantized, .bias [E, out] for gpt_oss); Hugging Face
 * checkpoints hold them as the family's sanitize expects (core/experts.h). */
enum mlxc_moe_hf {
    MLXC_MOE_HF_PER_EXPERT, /* <block>.experts.{e}.<gate|up|down name>.weight, one tensor per expert */
    MLXC_MOE_HF_GPT_OSS,    /* <block>.experts.gate_up_proj [E, in, 2 out] interleaved, down_proj [E, in, out]
                               (+ _bias), or their MXFP4 _blocks/_scales [E, out, in/32, 16] and [E, out, in/32] */
};

/* Where q/k RMSNorms apply. */
enum mlxc_qk_norm { MLXC_QK_NONE, MLXC_QK_PER_HEAD, MLXC_QK_FULL_WIDTH };

struct mlxc_rope_cfg {
    enum mlxc_rope_type type;
    float theta;                 /* base */
    float factor;                /* linear/dynamic/llama3 */
    float low_freq_factor;       /* llama3, default 1 */
    float high_freq_factor;      /* llama3, default 4 */
    int64_t original_max_pos;    /* llama3 (default 8192), su */
    int traditional;             /* pairs (2i, 2i+1) instead of (i, i+d/2) */
    float su_factor[512];        /* su/longrope: the long factor per pair (mlx_lm always takes it) */
    int n_factors;
    float mscale;                /* su, yarn: q and k's rotated features are multiplied by it (1: none) */
    float beta_fast, beta_slow;  /* yarn */
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
    /* block options the family sets (see core/block.c); the generic loader leaves them at llama's */
    int q_bias, k_bias, v_bias, o_bias, mlp_bias;
    enum mlxc_qk_norm qk_norm;          /* RMSNorm on q and k before RoPE: per head (qwen3) or full (olmo2) */
    enum mlxc_norm_kind norm;           /* every norm of the model, the final one included */
    enum mlxc_act act;
    int mlp_gated;                      /* down(act(gate) * up) (1, llama) or down(act(up)) (starcoder2) */
    int pre_norms, post_norms;          /* norm before each sub-block (llama), after it (gemma: both; olmo2) */
    int fused_qkv, fused_gate_up;       /* phi3: self_attn.qkv_proj, mlp.gate_up_proj */
    int64_t rope_dims;                  /* features of a head that RoPE rotates (partial rotary) */
    float embed_scale;                  /* embedding output multiplied by it (0: not) */
    float attn_scale;                   /* query scale (default head_dim^-0.5) */
    float attn_softcap, final_softcap;  /* tanh(x / cap) * cap on attention scores / logits (0: none) */
    /* Sliding-window layers: layer_sliding[i] marks a local layer (window `sliding_window`, its own
     * rotating cache of that size, and rope_local when has_rope_local). layer_rope[i] = 0: no RoPE in
     * layer i (smollm3 NoPE). NULL arrays: every layer global with RoPE. */
    unsigned char *layer_sliding, *layer_rope;
    int64_t sliding_window;
    /* Mixture of experts (mixtral, qwen3_moe, gpt_oss): layer_moe[i] marks a layer whose MLP is n_experts
     * SwiGLU experts of width moe_intermediate, top_k of them chosen per token by a router; NULL: none. */
    unsigned char *layer_moe;
    int64_t n_experts, top_k, moe_intermediate;
    enum mlxc_router router;
    int norm_topk_prob;
    int moe_bias;                       /* router and experts have biases (gpt_oss) */
    const char *moe_block;              /* "block_sparse_moe" (mixtral) or "mlp" */
    const char *moe_router;             /* "gate" or "router" (gpt_oss) */
    const char *moe_experts;            /* mlx_lm's stacked experts: "switch_mlp", or "experts" (gpt_oss) */
    enum mlxc_moe_hf moe_hf;            /* how Hugging Face checkpoints store the experts */
    const char *moe_hf_names[3];        /* MLXC_MOE_HF_PER_EXPERT: the gate, up and down names (w1, w3, w2) */
    int attn_sinks;                     /* a learned logit per head in each softmax's denominator (gpt_oss) */
    int has_rope_local;
    int has_make_cache;                 /* mlx_lm's model defines make_cache (sliding layers' own caches) */
    int tie_from_weights;               /* gemma3: tied iff the weights have no lm_head.weight */
    struct mlxc_rope_cfg rope_local;
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
/* Allocates c->layer_sliding (all 0) and c->layer_rope (all 1) for n_layers, if not yet there. */
int mlxc_config_layer_arrays(struct mlxc_config *c, struct mlxc_err *e);
/* A required integer key. */
int mlxc_cfg_int_req(const cJSON *args, const char *key, int64_t *out, struct mlxc_err *e);

/* The quantization params of the module at `path` ("model.layers.0.self_attn.q_proj"): the per-layer
 * entry if any, else the top-level params. Returns 0 if the layer is left in float by the config. */
int mlxc_config_quant_for(const struct mlxc_config *c, const char *path, struct mlxc_qparams *q);

#endif

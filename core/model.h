/* A loaded model: its config, its mapped weights, and per-layer views of them (no float copy of the
 * big matrices). Tensor names are Hugging Face's, as MLX folders keep them:
 *   model.embed_tokens.weight                 (vocab, hidden)
 *   model.layers.{i}.input_layernorm.weight   (hidden)
 *   model.layers.{i}.self_attn.{q,k,v,o}_proj (n_heads*hd | n_kv*hd, hidden), o: (hidden, n_heads*hd)
 *   model.layers.{i}.self_attn.{q,k}_norm     (hd)            [qwen3]
 *   model.layers.{i}.post_attention_layernorm.weight (hidden)
 *   model.layers.{i}.mlp.{gate,up,down}_proj  (inter, hidden), down: (hidden, inter)
 *   model.norm.weight, lm_head.weight         (vocab, hidden) unless tied to the embedding
 * and the family variants the config's block flags select:
 *   gemma sandwich:  input_layernorm, post_attention_layernorm (on the attention output),
 *                    pre_feedforward_layernorm, post_feedforward_layernorm
 *   olmo2:           post_attention_layernorm, post_feedforward_layernorm only; q_norm/k_norm over the
 *                    whole projection (n_heads*hd, n_kv*hd)
 *   phi3:            self_attn.qkv_proj ((n_heads + 2 n_kv)*hd, hidden), mlp.gate_up_proj (2 inter, hidden)
 *   starcoder2:      LayerNorms with .bias (model.norm too), mlp.c_fc (inter, hidden), mlp.c_proj
 *   MoE layers:      a router and stacked experts instead of the MLP (core/moe.h, core/experts.h)
 *   gpt_oss:         self_attn.sinks (n_heads) */
#ifndef MLXC_MODEL_H
#define MLXC_MODEL_H

#include "core/config.h"
#include "core/err.h"
#include "core/linear.h"
#include "core/moe.h"
#include "core/weights.h"

struct mlxc_layer {
    struct mlxc_linear wq, wk, wv, wo;   /* fused_qkv: wq is qkv_proj, wk/wv unused */
    struct mlxc_linear gate, up, down;   /* fused_gate_up: gate is gate_up_proj, up unused; non-gated:
                                            up is c_fc, down c_proj, gate unused */
    float *attn_norm, *mlp_norm;         /* (hidden) norms before the sub-blocks (pre_norms) */
    float *attn_post_norm, *mlp_post_norm; /* (hidden) norms of the sub-block outputs (post_norms) */
    float *attn_norm_b, *mlp_norm_b;     /* LayerNorm biases (MLXC_NORM_LAYER) */
    float *q_norm, *k_norm;              /* (head_dim) or (n_heads*hd, n_kv*hd): qk_norm families */
    float *sinks;                        /* (n_heads) attention sink logits (gpt_oss), or NULL */
    struct mlxc_moe *moe;                /* the MoE MLP of a layer_moe layer (gate/up/down unused), or NULL */
};

struct mlxc_model {
    char *dir;
    struct mlxc_config cfg;
    struct mlxc_weights *weights;
    struct mlxc_linear embed;     /* (vocab, hidden) */
    struct mlxc_linear lm_head;   /* (vocab, hidden); the embedding's storage when tied */
    float *final_norm;            /* (hidden) */
    float *final_norm_b;          /* (hidden) LayerNorm bias, or NULL */
    struct mlxc_layer *layers;    /* n_layers */
    /* A cheap health check at load: the first norm or bias vector holding NaN or Inf (a broken
     * conversion or a corrupted file), "" when none. The big matrices are not scanned (mlxc-convert
     * checks every tensor it writes); programs print this as a warning. */
    char nonfinite[160];
};

/* Loads config.json and the weights of a model folder (already resolved, see core/model_dir.h). */
int mlxc_model_open(const char *dir, struct mlxc_model **out, struct mlxc_err *e);
void mlxc_model_close(struct mlxc_model *m);

/* Bytes of weights one decode step reads (every layer, the head, one embedding row). */
uint64_t mlxc_model_decode_bytes(const struct mlxc_model *m);

/* Floating-point operations (2 per multiply-add) of prefilling a p-token prompt: every layer's
 * projections for every token (MoE: the router and top_k average experts), causal attention (scores and
 * weighted values over every earlier key: sliding windows are not discounted), and the output head for
 * the last token. Norms, RoPE and activations are left out (a few per cent at most). */
double mlxc_model_prompt_flops(const struct mlxc_model *m, int64_t p);

#endif

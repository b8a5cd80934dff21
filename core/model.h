/* A loaded model: its config, its mapped weights, and per-layer views of them (no float copy of the
 * big matrices). Tensor names are Hugging Face's, as MLX folders keep them:
 *   model.embed_tokens.weight                 (vocab, hidden)
 *   model.layers.{i}.input_layernorm.weight   (hidden)
 *   model.layers.{i}.self_attn.{q,k,v,o}_proj (n_heads*hd | n_kv*hd, hidden), o: (hidden, n_heads*hd)
 *   model.layers.{i}.self_attn.{q,k}_norm     (hd)            [qwen3]
 *   model.layers.{i}.post_attention_layernorm.weight (hidden)
 *   model.layers.{i}.mlp.{gate,up,down}_proj  (inter, hidden), down: (hidden, inter)
 *   model.norm.weight, lm_head.weight         (vocab, hidden) unless tied to the embedding */
#ifndef MLXC_MODEL_H
#define MLXC_MODEL_H

#include "core/config.h"
#include "core/err.h"
#include "core/linear.h"
#include "core/weights.h"

struct mlxc_layer {
    struct mlxc_linear wq, wk, wv, wo;
    struct mlxc_linear gate, up, down;
    float *attn_norm, *mlp_norm;  /* (hidden) */
    float *q_norm, *k_norm;       /* (head_dim), qk_norm families only */
};

struct mlxc_model {
    char *dir;
    struct mlxc_config cfg;
    struct mlxc_weights *weights;
    struct mlxc_linear embed;     /* (vocab, hidden) */
    struct mlxc_linear lm_head;   /* (vocab, hidden); the embedding's storage when tied */
    float *final_norm;            /* (hidden) */
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

#endif

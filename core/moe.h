/* The mixture-of-experts MLP (mlx_lm's SwitchGLU behind a router: mixtral, qwen3_moe, gpt_oss):
 *   logits = router(x)                          (T, E), with bias for gpt_oss
 *   (idx, w) = the top_k experts and weights    (core/config.h enum mlxc_router)
 *   out[t] = sum_k w[t,k] down_e(act(gate_e(x[t]), up_e(x[t])))   e = idx[t,k], biases for gpt_oss
 * Each expert is three linears over its slice of the stacked tensors (quantized per expert row as
 * QuantizedSwitchLinear stores them, or float), so a token reads only its top_k experts' weights; a
 * chunk of tokens is grouped by expert and each expert runs once over the rows routed to it. */
#ifndef MLXC_MOE_H
#define MLXC_MOE_H

#include "core/config.h"
#include "core/linear.h"
#include "core/weights.h"

struct mlxc_state;

#define MLXC_MOE_OWNED 9 /* 3 projections x (weight, scales, biases) */

struct mlxc_moe {
    struct mlxc_linear router;    /* (E, hidden) */
    struct mlxc_linear *proj[3];  /* gate (I, hidden), up (I, hidden), down (hidden, I): E each */
    int64_t n_experts;
    void *owned[MLXC_MOE_OWNED];  /* copies of experts a strided layout kept apart (core/experts.h) */
};

/* Loads layer `layer`'s router and experts from any layout core/experts.h reads. */
int mlxc_moe_load(struct mlxc_moe *moe, const struct mlxc_weights *w, const struct mlxc_config *c, int layer,
                  struct mlxc_err *e);
void mlxc_moe_free(struct mlxc_moe *moe);

/* Bytes one token reads: the router and top_k experts (the average expert's size). */
uint64_t mlxc_moe_decode_bytes(const struct mlxc_moe *moe, int64_t top_k);

/* out (T, hidden) = the MoE MLP of in (T, hidden); uses the state's moe_* scratch, gate and up. */
void mlxc_moe_forward(const struct mlxc_config *c, const struct mlxc_moe *moe, struct mlxc_state *s, int64_t T,
                      const float *in, float *out);

#endif

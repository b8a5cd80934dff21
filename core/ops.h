/* Small elementwise and row operations of the transformer, in f32. */
#ifndef MLXC_OPS_H
#define MLXC_OPS_H

#include <stdint.h>

/* out[i] = x[i] / sqrt(mean(x^2) + eps) * w[i]   (mlx fast.rms_norm; eps inside the root, f32) */
void mlxc_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps);

/* mlxc_rmsnorm in place on each of `rows` rows of n values. */
void mlxc_rmsnorm_rows(float *x, int64_t rows, int64_t n, const float *w, float eps);

/* out[i] = (x[i] - mean) / sqrt(var + eps) * w[i] + b[i]   (mlx fast.layer_norm, biased variance, f32) */
void mlxc_layernorm(float *out, const float *x, const float *w, const float *b, int64_t n, float eps);

/* In place, x[i] = act(x[i]) for act = enum mlxc_act (core/config.h): silu, tanh GELU, erf GELU. */
void mlxc_activate(float *x, int64_t n, int act);

/* gate[i] = act(gate[i]) * up[i]; MLXC_ACT_SWIGLU_OAI: gpt-oss's clipped form (core/config.h) */
void mlxc_gated_act(float *gate, const float *up, int64_t n, int act);

/* The same split across the pool's threads (elementwise: the values do not depend on the split). */
struct mlxc_pool;
void mlxc_gated_act_pool(float *gate, const float *up, int64_t n, int act, struct mlxc_pool *pool);

/* In place, x[i] = tanh(x[i] / cap) * cap (gemma2 softcapping). */
void mlxc_softcap(float *x, int64_t n, float cap);

/* gate[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g))   (mlx_lm activations.swiglu) */
void mlxc_swiglu(float *gate, const float *up, int64_t n);

/* In place: x = softmax(x) over n entries (max subtracted first, f32 sums). */
void mlxc_softmax(float *x, int64_t n);

/* softmax over the n entries and one more logit `sink` that is dropped afterwards: the entries sum to
 * less than 1 (attention sinks, mlx fast.scaled_dot_product_attention's sinks). */
void mlxc_softmax_sink(float *x, int64_t n, float sink);

/* y += x */
void mlxc_add(float *y, const float *x, int64_t n);

/* log-softmax of n logits into out: out[i] = x[i] - logsumexp(x). */
void mlxc_log_softmax(float *out, const float *x, int64_t n);

#endif

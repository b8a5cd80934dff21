/* Small elementwise and row operations of the transformer, in f32. */
#ifndef MLXC_OPS_H
#define MLXC_OPS_H

#include <stdint.h>

/* out[i] = x[i] / sqrt(mean(x^2) + eps) * w[i]   (mlx fast.rms_norm; eps inside the root, f32) */
void mlxc_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps);

/* gate[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g))   (mlx_lm activations.swiglu) */
void mlxc_swiglu(float *gate, const float *up, int64_t n);

/* In place: x = softmax(x) over n entries (max subtracted first, f32 sums). */
void mlxc_softmax(float *x, int64_t n);

/* y += x */
void mlxc_add(float *y, const float *x, int64_t n);

/* log-softmax of n logits into out: out[i] = x[i] - logsumexp(x). */
void mlxc_log_softmax(float *out, const float *x, int64_t n);

#endif

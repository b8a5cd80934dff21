/* Token sampling exactly as mlx_lm's make_sampler orders and defines it (sample_utils.py, facts §4).
 * temp == 0 is argmax and ignores every filter. Otherwise, on the log-probabilities (filtered entries
 * become -inf), in this order: top_p (if 0 < top_p < 1), min_p (if != 0), XTC (if probability > 0),
 * top_k (if > 0); then categorical sampling of logprobs / temp with MLX's inverse-CDF method. */
#ifndef MLXC_SAMPLE_H
#define MLXC_SAMPLE_H

#include <stdint.h>

#include "core/err.h"
#include "core/random.h"

struct mlxc_sampler_params {
    float temp, top_p, min_p, xtc_probability, xtc_threshold;
    int top_k, min_tokens_to_keep;
    const int32_t *xtc_special; /* ids XTC never removes (newline and EOS ids) */
    int n_xtc_special;
};

struct mlxc_sampler {
    struct mlxc_sampler_params p;
    struct mlxc_rng rng;
    int64_t vocab;
    int32_t *order;   /* (vocab) scratch */
    float *tmp;       /* (vocab) scratch */
    int32_t *special; /* own copy of xtc_special */
};

/* Checks the parameters as mlx_lm does (0 <= min_p <= 1, 0 < top_k < vocab, 0 <= xtc_threshold <= 0.5,
 * 0 <= xtc_probability <= 1) and allocates scratch. The rng is seeded by the caller (s->rng). */
int mlxc_sampler_init(struct mlxc_sampler *s, const struct mlxc_sampler_params *p, int64_t vocab,
                      struct mlxc_err *e);
void mlxc_sampler_free(struct mlxc_sampler *s);

/* Picks a token from logprobs (vocab entries, log-softmax of the logits); logprobs is overwritten. */
int32_t mlxc_sampler_sample(struct mlxc_sampler *s, float *logprobs);

/* The filters, exposed for tests. order/tmp are vocab-sized scratch. */
void mlxc_apply_top_p(float *logprobs, int64_t n, float top_p, int32_t *order, float *tmp);
void mlxc_apply_min_p(float *logprobs, int64_t n, float min_p, int min_tokens_to_keep, int32_t *order);
/* `coin` is the uniform draw: the mask applies only when coin <= probability. */
void mlxc_apply_xtc(float *logprobs, int64_t n, float threshold, float probability, float coin,
                    const int32_t *special, int n_special, float *tmp);
void mlxc_apply_top_k(float *logprobs, int64_t n, int k, int32_t *order);
/* Inverse-CDF categorical draw over logits * (1/temp) with the uniform `u`. */
int32_t mlxc_categorical(const float *logprobs, int64_t n, float temp, float u, float *tmp);

int32_t mlxc_argmax(const float *x, int64_t n);

#endif

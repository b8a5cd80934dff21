/* Logits processors, applied before the log-softmax in this order (mlx_lm make_logits_processors):
 *   logit_bias:          l[id] += bias
 *   repetition_penalty:  for each distinct id among the last `context` tokens: l < 0 ? l * p : l / p
 *   presence_penalty:    l[id] -= p once per distinct id among the last `context` tokens
 *   frequency_penalty:   l[id] -= p * count(id) among the last `context` tokens
 * Unlike mlx_lm's API, which only sees the last prompt token (and never what a prompt cache holds), the
 * history here is the whole prompt plus the generated tokens, and in a chat also the earlier turns
 * (mlxc_gen_params.history). */
#ifndef MLXC_LOGITS_H
#define MLXC_LOGITS_H

#include <stdint.h>

#include "core/err.h"

struct mlxc_logits_params {
    float repetition_penalty;    /* 0 or 1: off */
    float presence_penalty;      /* 0: off */
    float frequency_penalty;     /* 0: off */
    int context_size;            /* tokens looked back (20) */
    const int32_t *bias_ids;     /* logit bias entries */
    const float *bias_values;
    int n_bias;
};

/* 1 when any processor is on. */
int mlxc_logits_active(const struct mlxc_logits_params *p);

/* Applies the processors to logits (vocab entries) given the token history. `seen` is vocab-sized
 * int scratch, all zero on entry and on return. */
void mlxc_logits_apply(const struct mlxc_logits_params *p, float *logits, int64_t vocab, const int32_t *history,
                       int64_t n_history, int32_t *seen);

/* Parses "ID=V,ID=V" (--logit-bias) into new arrays; ids must be < vocab (vocab <= 0: unchecked). */
int mlxc_logit_bias_parse(const char *s, int64_t vocab, int32_t **ids, float **values, int *n, struct mlxc_err *e);

/* Checks the ranges mlx_lm enforces (repetition_penalty >= 0, context >= 1). */
int mlxc_logits_check(const struct mlxc_logits_params *p, struct mlxc_err *e);

#endif

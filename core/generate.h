/* The token-level generation loop (mlx_lm generate_step + the counting of stream_generate):
 * chunked prefill of all but the last prompt token, then forward -> log-softmax -> sample, until an EOS
 * id (finish "stop") or max_tokens (finish "length"). Timing follows mlx_lm: prompt_tps covers prefill
 * plus the first token; generation_tps counts tokens since the first one. */
#ifndef MLXC_GENERATE_H
#define MLXC_GENERATE_H

#include <stdint.h>

#include "cache/kv.h"
#include "core/forward.h"
#include "core/logits.h"
#include "core/sample.h"

struct mlxc_gen_params {
    int64_t max_tokens;         /* < 0: no limit */
    int64_t prefill_step_size;  /* <= state->max_chunk */
    struct mlxc_sampler_params sampling;
    struct mlxc_logits_params logits;  /* penalties and logit bias; they see the history, the prompt and
                                          the output */
    const int32_t *history;     /* tokens already in the cache before the prompt, oldest first (a chat's
                                   earlier turns and replies), or NULL: the penalties look back into them */
    int64_t n_history;
    int has_seed;
    uint64_t seed;
    const int32_t *eos;         /* ids that end generation */
    int n_eos;
    int top_logprobs;           /* how many (id, logprob) pairs each token reports */
    int feed_last;              /* run the model on the final token too, so the cache holds it (chat) */
    volatile int *interrupt;    /* when non-NULL and set, generation stops after the current token */
    struct mlxc_rng *rng;       /* when non-NULL: draw from it (seed/has_seed unused) and leave it advanced,
                                   so one random stream runs across calls (mlx_lm chat seeds once) */
};

struct mlxc_gen_token {
    int32_t id;
    int is_eos;                 /* the token is in the EOS set (not part of the text) */
    float logprob;              /* log-softmax of the final logits at the chosen id */
    const int32_t *top_ids;     /* top_logprobs entries, best first */
    const float *top_logprobs;
    int n_top;
};

struct mlxc_gen_stats {
    int64_t prompt_tokens, generation_tokens;
    double prompt_tps, generation_tps;
    const char *finish_reason;  /* "stop", "length" or "interrupted" */
};

/* Called for each generated token (EOS included); a non-zero return stops generation ("stop"). */
typedef int (*mlxc_gen_cb)(void *ctx, const struct mlxc_gen_token *tok, const struct mlxc_gen_stats *running);

int mlxc_generate(const struct mlxc_model *m, struct mlxc_state *s, struct mlxc_kv_cache *cache,
                  const int32_t *prompt, int64_t n_prompt, const struct mlxc_gen_params *p, mlxc_gen_cb cb,
                  void *ctx, struct mlxc_gen_stats *stats, struct mlxc_err *e);

/* Feeds tokens into the cache without sampling (prefill), in chunks of step tokens. With want_logits,
 * the last token's logits are left in s->logits. */
int mlxc_prefill(const struct mlxc_model *m, struct mlxc_state *s, struct mlxc_kv_cache *cache, const int32_t *ids,
                 int64_t n, int64_t step, int want_logits, struct mlxc_err *e);

/* The k best (id, logprob) pairs of lp (n entries), best first; ids -1 where n < k. */
void mlxc_top_logprobs(const float *lp, int64_t n, int k, int32_t *ids, float *vals);

#endif

/* Continuous batching (mlx_lm's BatchGenerator): requests are inserted at any time and leave when done
 * (an EOS id, max_tokens, or the caller's callback saying stop, e.g. for a stop string). Each step
 *   1. admits waiting requests into the prefill group while there is room (the group holds at most
 *      prefill_batch_size requests, the group and the decoding batch together completion_batch_size);
 *      a request's cache is made then (or copied from its prefix);
 *   2. runs one prefill pass for the group: every member's next chunk of its prompt (all but the last
 *      token, in chunks of prefill_step_size, as mlxc_generate cuts it), as many chunks as fit in the
 *      engine's max(prefill_step_size, completion_batch_size) rows of activations (so memory stays that
 *      of one request's prefill), stacked into one matrix so that each weight is read once per pass for
 *      all the short chunks (core/forward_batch.h mlxc_forward_group); members whose prompt is in join
 *      the decoding batch, which goes on meanwhile (a long prompt takes one chunk per step);
 *   3. decodes one token for every active request at once (mlxc_forward_batch): the last prompt
 *      token of a newly joined request, or its previous token, goes through the model; the linears
 *      take the stacked rows, attention runs per request over its own cache; then each request's
 *      logits processors and sampler (own settings, own seeded generator) pick its next token.
 * A request's tokens are bitwise those of mlxc_generate with the same prompt, cache and settings:
 * prefill chunks are the same and the grouped products give each chunk what a product of its own gives
 * (mlxc_linear_forward_group); the batched decode computes every row as a one-row decode does.
 *
 * Statistics follow mlx_lm's BatchStats: prompt tokens and the time spent prefilling, generation tokens
 * and the time spent in decode steps, peak memory. */
#ifndef MLXC_BATCH_H
#define MLXC_BATCH_H

#include <stdint.h>

#include "cache/kv.h"
#include "core/generate.h"
#include "core/model.h"

struct mlxc_batch_opts {
    int prefill_batch_size;      /* requests prefilled together (default 8) */
    int completion_batch_size;   /* requests decoded together (default 32, >= prefill_batch_size) */
    int64_t prefill_step_size;   /* prompt tokens per chunk and per prefill pass (default 2048) */
    int threads;                 /* <= 0: default */
    struct mlxc_cache_opts cache;/* for the caches the engine makes */
};

struct mlxc_batch_request {
    const int32_t *prompt;       /* copied */
    int64_t n_prompt;            /* >= 1 */
    /* max_tokens, sampling, logits (the bias arrays are copied), has_seed/seed, eos/n_eos (the array
     * must outlive the request), top_logprobs are used; prefill_step_size, feed_last, interrupt and rng
     * are not. */
    struct mlxc_gen_params params;
    struct mlxc_kv_cache *cache; /* a cache to continue (left to the caller, who frees it), or NULL */
    void *user;
    const struct mlxc_kv_cache *prefix; /* without cache: a cache copied for this request when it is
                                           admitted (a loaded prompt cache many requests start from;
                                           it must outlive the request), or NULL: a fresh one */
};

struct mlxc_batch_event {
    uint64_t uid;                /* as mlxc_batch_insert returned it */
    void *user;
    struct mlxc_gen_token tok;   /* with tok.n_top = the request's top_logprobs pairs */
    const char *finish_reason;   /* NULL while the request goes on; "stop" or "length" on its last token */
    int64_t prompt_tokens, generation_tokens;
};

/* Called for each generated token; a non-zero return ends the request ("stop"). */
typedef int (*mlxc_batch_cb)(void *ctx, const struct mlxc_batch_event *ev);

struct mlxc_batch_stats {
    int64_t prompt_tokens, generation_tokens;
    double prompt_time, generation_time;  /* seconds */
    double prompt_tps, generation_tps;
    uint64_t peak_memory;                 /* bytes (peak RSS) */
    int64_t prefill_passes;               /* forward passes of prefill (a group's chunks share one) */
};

struct mlxc_batch;

int mlxc_batch_create(const struct mlxc_model *m, const struct mlxc_batch_opts *o, struct mlxc_batch **out,
                      struct mlxc_err *e);
void mlxc_batch_free(struct mlxc_batch *b);

/* Queues a request; *uid identifies it in events. Checks the prompt's ids, the sampler and processor
 * settings now. */
int mlxc_batch_insert(struct mlxc_batch *b, const struct mlxc_batch_request *r, uint64_t *uid, struct mlxc_err *e);

/* Drops a waiting or active request without an event. Returns 1 if it was there. */
int mlxc_batch_remove(struct mlxc_batch *b, uint64_t uid);

/* One step (admission, one prefill pass, one decode step), with an event per generated token. Nothing
 * to do: 0. On an error the requests of the failed pass are dropped without an event. */
int mlxc_batch_step(struct mlxc_batch *b, mlxc_batch_cb cb, void *ctx, struct mlxc_err *e);

/* Requests waiting, being prefilled or decoding; those decoding. */
int64_t mlxc_batch_pending(const struct mlxc_batch *b);
int64_t mlxc_batch_active(const struct mlxc_batch *b);

void mlxc_batch_get_stats(const struct mlxc_batch *b, struct mlxc_batch_stats *st);

#endif

/* Running the model: scratch state, and the forward pass over a chunk of tokens.
 *
 * Activations are f32 whatever the weight dtype (RMSNorm, softmax and accumulation are f32 in mlx too).
 * Prefill feeds the prompt in chunks of at most `max_chunk` tokens (mlx_lm's prefill_step_size), decode
 * feeds one token and allocates nothing. The state's per-token buffers hold `rows` tokens (at most
 * MLXC_STATE_ROWS unless asked for more): a longer chunk runs through the layers in pieces of that many,
 * with the same numbers, so activation memory does not grow with --prefill-step-size. */
#ifndef MLXC_FORWARD_H
#define MLXC_FORWARD_H

#include "cache/kv.h"
#include "core/model.h"
#include "core/pool.h"

#define MLXC_STATE_ROWS 512

struct mlxc_state {
    int64_t max_chunk; /* the longest chunk mlxc_forward takes */
    int64_t rows;      /* tokens the per-token buffers hold */
    float *x;        /* (T, hidden) residual stream */
    float *xn;       /* (T, hidden) normed input of a sub-block */
    float *q;        /* (T, n_heads * hd) */
    float *k, *v;    /* (T, n_kv * hd) */
    float *att;      /* (T, n_heads * hd) attention output */
    float *proj;     /* (T, hidden) output of o_proj / down_proj */
    float *gate, *up;/* (T, intermediate), or (T, expert width) when wider */
    /* MoE (core/moe.c): router logits (T, n_experts), chosen experts and weights (T, top_k), one
     * expert's gathered input and output rows (T, hidden), their token indices and weights (T) */
    float *moe_logits, *moe_w, *moe_x, *moe_y, *moe_rw;
    int32_t *moe_idx, *moe_rows;
    float *logits;   /* (vocab) logits of the last token */
    float *inv_freq; /* (rope_dims / 2) */
    float *inv_freq_local; /* (rope_dims / 2) local layers' RoPE (gemma3), when the config has one */
    float *fused;    /* (T, max(q + 2 kv widths, 2 intermediate)) fused projections (phi3), or NULL */
    float *scores;   /* attention scratch: scores_cap floats per thread */
    int64_t scores_cap;
    struct mlxc_pool *pool;
    int rowwise;     /* linears give each row what a one-row call gives (batched decode) */
    /* grouped prefill (core/forward_batch.h): the rows are n_seg segments of seg_T[i] tokens and every
     * linear runs as mlxc_linear_forward_group with seg_scratch; n_seg 0: one sequence */
    const int64_t *seg_T;
    int n_seg;
    float *seg_scratch;
};

/* A state for chunks of up to max_chunk tokens, buffers for min(max_chunk, MLXC_STATE_ROWS) tokens and a
 * pool of nthreads (<= 0: default). */
int mlxc_state_init(struct mlxc_state *s, const struct mlxc_model *m, int64_t max_chunk, int nthreads,
                    struct mlxc_err *e);
/* The same with buffers for `rows` tokens (<= max_chunk): the batched passes (forward_batch.h) take up
 * to s->rows rows at once. */
int mlxc_state_init_rows(struct mlxc_state *s, const struct mlxc_model *m, int64_t max_chunk, int64_t rows,
                         int nthreads, struct mlxc_err *e);
void mlxc_state_free(struct mlxc_state *s);

/* Grows the attention scratch to `floats` per thread (amortised: steps of 4096 floats). */
int mlxc_state_reserve_scores(struct mlxc_state *s, int64_t floats, struct mlxc_err *e);

/* Runs tokens[0..T) (T <= max_chunk) at positions cache->offset.., appending their keys and values to
 * the cache. With want_logits, the last token's logits land in s->logits. */
int mlxc_forward(const struct mlxc_model *m, struct mlxc_state *s, struct mlxc_kv_cache *cache,
                 const int32_t *tokens, int64_t T, int want_logits, struct mlxc_err *e);

/* Like mlxc_forward, and the logits of every one of the T tokens into all_logits (T, vocab): what
 * perplexity needs. */
int mlxc_forward_all_logits(const struct mlxc_model *m, struct mlxc_state *s, struct mlxc_kv_cache *cache,
                            const int32_t *tokens, int64_t T, float *all_logits, struct mlxc_err *e);

/* One decoder layer on s->x (T tokens), as core/block.c implements the shared block. */
int mlxc_block_forward(const struct mlxc_model *m, int layer, struct mlxc_state *s, struct mlxc_kv_cache *cache,
                       int64_t T, struct mlxc_err *e);

/* The block in three phases, so that a batch of sequences can share the row-wise parts:
 *   qkv:    rows [0, N) of s->x -> RMSNorm -> s->q, s->k, s->v           (row-wise, N rows of any sequences)
 *   attend: rows [r0, r0+T) of one sequence: q/k norms, RoPE at cache->offset, cache update,
 *           attention -> s->att rows [r0, r0+T)                          (per sequence, its own cache)
 *   out:    x += o_proj(att); x += down(swiglu(gate, up)(RMSNorm(x)))    (row-wise) */
void mlxc_block_qkv(const struct mlxc_model *m, int layer, struct mlxc_state *s, int64_t N);
int mlxc_block_attend(const struct mlxc_model *m, int layer, struct mlxc_state *s, struct mlxc_kv_cache *cache,
                      int64_t r0, int64_t T, struct mlxc_err *e);
void mlxc_block_out(const struct mlxc_model *m, int layer, struct mlxc_state *s, int64_t N);
/* The config's norm (RMSNorm, or LayerNorm with bias b) of T rows of n values; out may be x. */
void mlxc_block_norm(const struct mlxc_config *c, float *out, const float *x, const float *w, const float *b,
                     int64_t T, int64_t n);

/* Attention of T queries q (T, n_heads*hd) over the slots of the cache's layer that `view` makes visible
 * (the cache already holds the new keys). out: (T, n_heads*hd). s->scores must hold
 * mlxc_attention_scratch(c, T, view->n, quantized cache) floats per thread.
 * sinks (n_heads) or NULL: head h's softmax has exp(sinks[h]) more in its denominator. */
void mlxc_attention(const struct mlxc_config *c, struct mlxc_state *s, const struct mlxc_kv_cache *cache,
                    int layer, const struct mlxc_kv_view *view, const float *sinks, const float *q, int64_t T,
                    float *out);
int64_t mlxc_attention_scratch(const struct mlxc_config *c, int64_t T, int64_t n, int quantized);

#endif

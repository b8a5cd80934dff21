/* The forward pass: embedding lookup, the shared block for every layer, final norm, output head. */
#include "core/forward.h"

#include <stdlib.h>
#include <string.h>

#include "core/blas.h"
#include "core/ops.h"
#include "core/rope.h"
#include "core/sys.h"

/* (Re)allocates the per-token buffers for `rows` tokens. */
static int alloc_rows(struct mlxc_state *s, const struct mlxc_model *m, int64_t rows, struct mlxc_err *e)
{
    const struct mlxc_config *c = &m->cfg;
    const int64_t D = c->hidden_size;
    const int64_t inter = c->moe_intermediate > c->intermediate_size ? c->moe_intermediate : c->intermediate_size;
    const int64_t E = c->layer_moe ? c->n_experts : 0, K = c->layer_moe ? c->top_k : 0;
    const int64_t qd = c->n_heads * c->head_dim, kvd = c->n_kv_heads * c->head_dim;
    struct {
        void *p; /* float ** or int32_t ** (4-byte elements alike) */
        int64_t n;
    } bufs[] = {
        {&s->x, rows * D},   {&s->xn, rows * D},    {&s->q, rows * qd},
        {&s->k, rows * kvd}, {&s->v, rows * kvd},   {&s->att, rows * qd},
        {&s->proj, rows * D}, {&s->gate, rows * inter}, {&s->up, rows * inter},
        {&s->fused, c->fused_qkv || c->fused_gate_up ? rows * (qd + 2 * kvd > 2 * inter ? qd + 2 * kvd : 2 * inter) : 0},
        {&s->moe_logits, rows * E}, {&s->moe_w, rows * K}, {&s->moe_idx, rows * K},
        {&s->moe_x, E ? rows * D : 0}, {&s->moe_y, E ? rows * D : 0}, {&s->moe_rw, rows * K},
        {&s->moe_rows, rows * K},
    };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        void *old;
        memcpy(&old, bufs[i].p, sizeof old);
        mlxc_free_aligned(old);
        void *buf = bufs[i].n ? mlxc_alloc_aligned((size_t)bufs[i].n * sizeof(float)) : NULL;
        memcpy(bufs[i].p, &buf, sizeof buf);
        if (bufs[i].n && !buf)
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory for activations of %lld tokens", (long long)rows);
    }
    s->rows = rows;
    return 0;
}

int mlxc_state_init_rows(struct mlxc_state *s, const struct mlxc_model *m, int64_t max_chunk, int64_t rows,
                         int nthreads, struct mlxc_err *e)
{
    memset(s, 0, sizeof *s);
    const struct mlxc_config *c = &m->cfg;
    s->max_chunk = max_chunk < 1 ? 1 : max_chunk;
    rows = rows < 1 ? 1 : rows > s->max_chunk ? s->max_chunk : rows;
    s->logits = mlxc_alloc_aligned((size_t)c->vocab_size * sizeof(float));
    s->inv_freq = mlxc_alloc_aligned((size_t)(c->head_dim / 2 > 0 ? c->head_dim / 2 : 1) * sizeof(float));
    if (c->has_rope_local)
        s->inv_freq_local = mlxc_alloc_aligned((size_t)(c->head_dim / 2 > 0 ? c->head_dim / 2 : 1) * sizeof(float));
    if (!s->logits || !s->inv_freq || (c->has_rope_local && !s->inv_freq_local)) {
        mlxc_state_free(s);
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory for the model's state");
    }
    int rc = alloc_rows(s, m, rows, e);
    if (rc) {
        mlxc_state_free(s);
        return rc;
    }
    mlxc_rope_inv_freq(&c->rope, (int)c->rope_dims, 0, c->max_position_embeddings, s->inv_freq);
    if (c->has_rope_local)
        mlxc_rope_inv_freq(&c->rope_local, (int)c->rope_dims, 0, c->max_position_embeddings, s->inv_freq_local);
    s->pool = mlxc_pool_create(nthreads);
    if (!s->pool) {
        mlxc_state_free(s);
        return mlxc_errf(e, MLXC_ENOMEM, "cannot start worker threads");
    }
    mlxc_blas_setup(); /* our pool splits the work; OpenBLAS runs inside each thread */
    return 0;
}

int mlxc_state_init(struct mlxc_state *s, const struct mlxc_model *m, int64_t max_chunk, int nthreads,
                    struct mlxc_err *e)
{
    return mlxc_state_init_rows(s, m, max_chunk, MLXC_STATE_ROWS, nthreads, e);
}

void mlxc_state_free(struct mlxc_state *s)
{
    void *bufs[] = {s->x,      s->xn,       s->q,      s->k,        s->v,           s->att,  s->proj,
                    s->gate,   s->up,       s->logits, s->inv_freq, s->inv_freq_local, s->fused, s->scores,
                    s->moe_logits, s->moe_w, s->moe_x, s->moe_y, s->moe_rw, s->moe_idx, s->moe_rows};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        mlxc_free_aligned(bufs[i]);
    mlxc_pool_free(s->pool);
    memset(s, 0, sizeof *s);
}

int mlxc_state_reserve_scores(struct mlxc_state *s, int64_t floats, struct mlxc_err *e)
{
    if (floats <= s->scores_cap)
        return 0;
    int64_t cap = (floats + 4095) / 4096 * 4096;
    float *p = mlxc_alloc_aligned((size_t)mlxc_pool_size(s->pool) * (size_t)cap * sizeof(float));
    if (!p)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory for attention scores");
    mlxc_free_aligned(s->scores);
    s->scores = p;
    s->scores_cap = cap;
    return 0;
}

/* The layers over T <= s->rows tokens: everything but the output head. */
static int run_layers(const struct mlxc_model *m, struct mlxc_state *s, struct mlxc_kv_cache *cache,
                      const int32_t *tokens, int64_t T, struct mlxc_err *e)
{
    const struct mlxc_config *c = &m->cfg;
    const int64_t D = c->hidden_size;
    for (int64_t t = 0; t < T; t++) {
        mlxc_linear_row(&m->embed, tokens[t], s->x + t * D);
        if (c->embed_scale != 0.0f) /* gemma: x * sqrt(hidden) */
            for (int64_t i = 0; i < D; i++)
                s->x[t * D + i] *= c->embed_scale;
    }
    for (int l = 0; l < c->n_layers; l++) {
        int rc = mlxc_block_forward(m, l, s, cache, T, e);
        if (rc)
            return rc;
    }
    return mlxc_kv_step_done(cache, T, e);
}

/* Whether a chunk may run through the layers in pieces of s->rows tokens with the same numbers: yes when
 * every layer keeps every position (each piece's keys are in the cache before the next piece attends);
 * a rotating cache's view of a step depends on the step's length (mlx_lm's semantics), so it takes the
 * chunk whole. */
static int pieces_allowed(const struct mlxc_kv_cache *cache)
{
    for (int l = 0; l < cache->n_layers; l++)
        if (cache->layers[l].policy != MLXC_KV_PLAIN)
            return 0;
    return 1;
}

/* logits (n, vocab) of the n rows x: final norm, output head, and gemma2's tanh(logits / cap) * cap. */
static void output_head(const struct mlxc_model *m, struct mlxc_state *s, const float *x, int64_t n, float *logits)
{
    const struct mlxc_config *c = &m->cfg;
    mlxc_block_norm(c, s->xn, x, m->final_norm, m->final_norm_b, n, c->hidden_size);
    mlxc_linear_forward(&m->lm_head, s->xn, n, logits, s->pool);
    if (c->final_softcap != 0.0f)
        mlxc_softcap(logits, n * c->vocab_size, c->final_softcap);
}

/* T tokens through the layers, in pieces of at most s->rows; the logits of every token into all_logits
 * (T, vocab) unless NULL, and of the last one into s->logits with want_last. */
static int run_chunk(const struct mlxc_model *m, struct mlxc_state *s, struct mlxc_kv_cache *cache,
                     const int32_t *tokens, int64_t T, float *all_logits, int want_last, struct mlxc_err *e)
{
    const struct mlxc_config *c = &m->cfg;
    const int64_t D = c->hidden_size, V = c->vocab_size;
    if (T < 1 || T > s->max_chunk)
        return mlxc_errf(e, MLXC_EINVAL, "chunk of %lld tokens outside 1..%lld", (long long)T, (long long)s->max_chunk);
    for (int64_t t = 0; t < T; t++)
        if (tokens[t] < 0 || tokens[t] >= V)
            return mlxc_errf(e, MLXC_EINVAL, "token id %d is outside the vocabulary (0..%lld)", tokens[t],
                             (long long)V - 1);
    int rc = 0;
    if (T > s->rows && !pieces_allowed(cache) && (rc = alloc_rows(s, m, T, e)) != 0)
        return rc;
    if (c->rope.type == MLXC_ROPE_DYNAMIC) /* NTK frequencies depend on the length the chunk reaches */
        mlxc_rope_inv_freq(&c->rope, (int)c->rope_dims, cache->offset + T, c->max_position_embeddings, s->inv_freq);
    int64_t n = 0;
    for (int64_t t0 = 0; t0 < T; t0 += n) {
        n = T - t0 < s->rows ? T - t0 : s->rows;
        if ((rc = run_layers(m, s, cache, tokens + t0, n, e)) != 0)
            return rc;
        if (all_logits)
            output_head(m, s, s->x, n, all_logits + t0 * V);
    }
    if (want_last)
        output_head(m, s, s->x + (n - 1) * D, 1, s->logits);
    return 0;
}

int mlxc_forward(const struct mlxc_model *m, struct mlxc_state *s, struct mlxc_kv_cache *cache,
                 const int32_t *tokens, int64_t T, int want_logits, struct mlxc_err *e)
{
    return run_chunk(m, s, cache, tokens, T, NULL, want_logits, e);
}

int mlxc_forward_all_logits(const struct mlxc_model *m, struct mlxc_state *s, struct mlxc_kv_cache *cache,
                            const int32_t *tokens, int64_t T, float *all_logits, struct mlxc_err *e)
{
    return run_chunk(m, s, cache, tokens, T, all_logits, 0, e);
}

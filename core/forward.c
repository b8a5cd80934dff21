/* The forward pass: embedding lookup, the shared block for every layer, final norm, output head. */
#include "core/forward.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "core/rope.h"
#include "core/sys.h"

int mlxc_state_init(struct mlxc_state *s, const struct mlxc_model *m, int64_t max_chunk, int nthreads,
                    struct mlxc_err *e)
{
    memset(s, 0, sizeof *s);
    const struct mlxc_config *c = &m->cfg;
    if (max_chunk < 1)
        max_chunk = 1;
    s->max_chunk = max_chunk;
    const int64_t D = c->hidden_size;
    const int64_t inter = c->moe_intermediate > c->intermediate_size ? c->moe_intermediate : c->intermediate_size;
    const int64_t E = c->layer_moe ? c->n_experts : 0, K = c->layer_moe ? c->top_k : 0;
    const int64_t qd = c->n_heads * c->head_dim, kvd = c->n_kv_heads * c->head_dim;
    struct {
        void *p; /* float ** or int32_t ** (4-byte elements alike) */
        int64_t n;
    } bufs[] = {
        {&s->x, max_chunk * D},   {&s->xn, max_chunk * D},    {&s->q, max_chunk * qd},
        {&s->k, max_chunk * kvd}, {&s->v, max_chunk * kvd},   {&s->att, max_chunk * qd},
        {&s->proj, max_chunk * D}, {&s->gate, max_chunk * inter}, {&s->up, max_chunk * inter},
        {&s->logits, c->vocab_size}, {&s->inv_freq, c->head_dim / 2},
        {&s->inv_freq_local, c->has_rope_local ? c->head_dim / 2 : 0},
        {&s->fused, c->fused_qkv || c->fused_gate_up
                        ? max_chunk * (qd + 2 * kvd > 2 * inter ? qd + 2 * kvd : 2 * inter) : 0},
        {&s->moe_logits, max_chunk * E}, {&s->moe_w, max_chunk * K}, {&s->moe_idx, max_chunk * K},
        {&s->moe_x, E ? max_chunk * D : 0}, {&s->moe_y, E ? max_chunk * D : 0}, {&s->moe_rw, max_chunk * K},
        {&s->moe_rows, max_chunk * K},
    };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        if (!bufs[i].n)
            continue;
        void *buf = mlxc_alloc_aligned((size_t)bufs[i].n * sizeof(float));
        memcpy(bufs[i].p, &buf, sizeof buf);
        if (!buf) {
            mlxc_state_free(s);
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory for activations of %lld tokens", (long long)max_chunk);
        }
    }
    mlxc_rope_inv_freq(&c->rope, (int)c->rope_dims, 0, c->max_position_embeddings, s->inv_freq);
    if (c->has_rope_local)
        mlxc_rope_inv_freq(&c->rope_local, (int)c->rope_dims, 0, c->max_position_embeddings, s->inv_freq_local);
    s->pool = mlxc_pool_create(nthreads);
    if (!s->pool) {
        mlxc_state_free(s);
        return mlxc_errf(e, MLXC_ENOMEM, "cannot start worker threads");
    }
    openblas_set_num_threads(1); /* our pool splits the work; OpenBLAS runs inside each thread */
    return 0;
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

/* The layers over T tokens: everything but the output head. */
static int run_layers(const struct mlxc_model *m, struct mlxc_state *s, struct mlxc_kv_cache *cache,
                      const int32_t *tokens, int64_t T, struct mlxc_err *e)
{
    const struct mlxc_config *c = &m->cfg;
    const int64_t D = c->hidden_size;
    if (T < 1 || T > s->max_chunk)
        return mlxc_errf(e, MLXC_EINVAL, "chunk of %lld tokens outside 1..%lld", (long long)T, (long long)s->max_chunk);
    for (int64_t t = 0; t < T; t++)
        if (tokens[t] < 0 || tokens[t] >= c->vocab_size)
            return mlxc_errf(e, MLXC_EINVAL, "token id %d is outside the vocabulary (0..%lld)", tokens[t],
                             (long long)c->vocab_size - 1);
    if (c->rope.type == MLXC_ROPE_DYNAMIC) /* NTK frequencies depend on the length reached */
        mlxc_rope_inv_freq(&c->rope, (int)c->rope_dims, cache->offset + T, c->max_position_embeddings, s->inv_freq);

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

int mlxc_forward(const struct mlxc_model *m, struct mlxc_state *s, struct mlxc_kv_cache *cache,
                 const int32_t *tokens, int64_t T, int want_logits, struct mlxc_err *e)
{
    int rc = run_layers(m, s, cache, tokens, T, e);
    if (rc || !want_logits)
        return rc;
    const int64_t D = m->cfg.hidden_size;
    mlxc_block_norm(&m->cfg, s->xn, s->x + (T - 1) * D, m->final_norm, m->final_norm_b, 1, D);
    mlxc_linear_forward(&m->lm_head, s->xn, 1, s->logits, s->pool);
    if (m->cfg.final_softcap != 0.0f) /* gemma2: tanh(logits / cap) * cap */
        mlxc_softcap(s->logits, m->cfg.vocab_size, m->cfg.final_softcap);
    return 0;
}

int mlxc_forward_all_logits(const struct mlxc_model *m, struct mlxc_state *s, struct mlxc_kv_cache *cache,
                            const int32_t *tokens, int64_t T, float *all_logits, struct mlxc_err *e)
{
    int rc = run_layers(m, s, cache, tokens, T, e);
    if (rc)
        return rc;
    const int64_t D = m->cfg.hidden_size;
    mlxc_block_norm(&m->cfg, s->xn, s->x, m->final_norm, m->final_norm_b, T, D);
    mlxc_linear_forward(&m->lm_head, s->xn, T, all_logits, s->pool);
    if (m->cfg.final_softcap != 0.0f)
        mlxc_softcap(all_logits, T * m->cfg.vocab_size, m->cfg.final_softcap);
    return 0;
}

/* The forward pass of one decode step for a batch of sequences (continuous batching, core/batch.h):
 * sequence i feeds one token at its own position caches[i]->offset. The n rows go through every linear
 * together (each weight read once per step for the whole batch), while q/k norms, RoPE, the cache
 * update and attention run per sequence (mlxc_block_attend) on that sequence's row.
 *
 * The linears run row-wise (mlxc_linear_forward_rowwise): row i of every product is bitwise what a
 * one-token mlxc_forward computes for sequence i, so a request's tokens do not depend on the batch. */
#include "core/forward_batch.h"

#include "core/ops.h"
#include "core/rope.h"

int mlxc_forward_batch(const struct mlxc_model *m, struct mlxc_state *s, struct mlxc_kv_cache **caches,
                       const int32_t *tokens, int64_t n, float *logits, struct mlxc_err *e)
{
    const struct mlxc_config *c = &m->cfg;
    const int64_t D = c->hidden_size;
    if (n < 1 || n > s->max_chunk)
        return mlxc_errf(e, MLXC_EINVAL, "batch of %lld sequences outside 1..%lld", (long long)n,
                         (long long)s->max_chunk);
    for (int64_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= c->vocab_size)
            return mlxc_errf(e, MLXC_EINVAL, "token id %d is outside the vocabulary (0..%lld)", tokens[i],
                             (long long)c->vocab_size - 1);
    for (int64_t i = 0; i < n; i++)
        mlxc_linear_row(&m->embed, tokens[i], s->x + i * D);
    const int dynamic = c->rope.type == MLXC_ROPE_DYNAMIC;
    const int saved = s->rowwise;
    s->rowwise = 1;
    int rc = 0;
    for (int l = 0; l < c->n_layers && !rc; l++) {
        mlxc_block_qkv(m, l, s, n);
        for (int64_t i = 0; i < n && !rc; i++) {
            if (dynamic) /* NTK frequencies depend on the length this sequence reaches */
                mlxc_rope_inv_freq(&c->rope, (int)c->head_dim, caches[i]->offset + 1, c->max_position_embeddings,
                                   s->inv_freq);
            rc = mlxc_block_attend(m, l, s, caches[i], i, 1, e);
        }
        if (!rc)
            mlxc_block_out(m, l, s, n);
    }
    for (int64_t i = 0; i < n && !rc; i++)
        rc = mlxc_kv_step_done(caches[i], 1, e);
    if (!rc) {
        for (int64_t i = 0; i < n; i++)
            mlxc_rmsnorm(s->xn + i * D, s->x + i * D, m->final_norm, D, c->norm_eps);
        mlxc_linear_forward_rowwise(&m->lm_head, s->xn, n, logits, s->pool);
    }
    s->rowwise = saved;
    return rc;
}

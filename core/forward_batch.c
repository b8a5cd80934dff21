/* The forward pass for several sequences, each with its own cache (core/forward_batch.h).
 *
 * Decode (mlxc_forward_batch): sequence i feeds one token at its own position caches[i]->offset. The n
 * rows go through every linear together (each weight read once per step for the whole batch), while
 * q/k norms, RoPE, the cache update and attention run per sequence (mlxc_block_attend) on that
 * sequence's row. The linears run row-wise (mlxc_linear_forward_rowwise): row i of every product is
 * bitwise what a one-token mlxc_forward computes for sequence i, so a request's tokens do not depend on
 * the batch.
 *
 * Grouped prefill (mlxc_forward_group): the sequences' chunks are stacked into one matrix of rows; the
 * linears run per segment on shared weight tiles (mlxc_linear_forward_group, bitwise a product per
 * chunk), norms and activations are per row or per element, attention per sequence over its chunk. */
#include "core/forward_batch.h"

#include "core/linear_group.h"
#include "core/ops.h"
#include "core/rope.h"
#include "core/sys.h"

/* Embeddings of n tokens into s->x (gemma's sqrt(hidden) scale as mlxc_forward applies it). */
static int embed(const struct mlxc_model *m, struct mlxc_state *s, const int32_t *tokens, int64_t n,
                 struct mlxc_err *e)
{
    const struct mlxc_config *c = &m->cfg;
    const int64_t D = c->hidden_size;
    for (int64_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= c->vocab_size)
            return mlxc_errf(e, MLXC_EINVAL, "token id %d is outside the vocabulary (0..%lld)", tokens[i],
                             (long long)c->vocab_size - 1);
    for (int64_t i = 0; i < n; i++) {
        mlxc_linear_row(&m->embed, tokens[i], s->x + i * D);
        if (c->embed_scale != 0.0f)
            for (int64_t j = 0; j < D; j++)
                s->x[i * D + j] *= c->embed_scale;
    }
    return 0;
}

int mlxc_forward_batch(const struct mlxc_model *m, struct mlxc_state *s, struct mlxc_kv_cache **caches,
                       const int32_t *tokens, int64_t n, float *logits, struct mlxc_err *e)
{
    const struct mlxc_config *c = &m->cfg;
    const int64_t D = c->hidden_size;
    if (n < 1 || n > s->rows)
        return mlxc_errf(e, MLXC_EINVAL, "batch of %lld sequences outside 1..%lld", (long long)n,
                         (long long)s->rows);
    int rc = embed(m, s, tokens, n, e);
    if (rc)
        return rc;
    const int dynamic = c->rope.type == MLXC_ROPE_DYNAMIC;
    const int saved = s->rowwise;
    s->rowwise = 1;
    for (int l = 0; l < c->n_layers && !rc; l++) {
        mlxc_block_qkv(m, l, s, n);
        for (int64_t i = 0; i < n && !rc; i++) {
            if (dynamic) /* NTK frequencies depend on the length this sequence reaches */
                mlxc_rope_inv_freq(&c->rope, (int)c->rope_dims, caches[i]->offset + 1, c->max_position_embeddings,
                                   s->inv_freq);
            rc = mlxc_block_attend(m, l, s, caches[i], i, 1, e);
        }
        if (!rc)
            mlxc_block_out(m, l, s, n);
    }
    for (int64_t i = 0; i < n && !rc; i++)
        rc = mlxc_kv_step_done(caches[i], 1, e);
    if (!rc) {
        mlxc_block_norm(c, s->xn, s->x, m->final_norm, m->final_norm_b, n, D);
        mlxc_linear_forward_rowwise(&m->lm_head, s->xn, n, logits, s->pool);
        if (c->final_softcap != 0.0f) /* gemma2: tanh(logits / cap) * cap */
            mlxc_softcap(logits, n * c->vocab_size, c->final_softcap);
    }
    s->rowwise = saved;
    return rc;
}

int mlxc_forward_group(const struct mlxc_model *m, struct mlxc_state *s, struct mlxc_kv_cache **caches,
                       const int32_t *tokens, const int64_t *seg_T, int n, struct mlxc_err *e)
{
    const struct mlxc_config *c = &m->cfg;
    int64_t N = 0;
    for (int i = 0; i < n; i++) {
        if (seg_T[i] < 1)
            return mlxc_errf(e, MLXC_EINVAL, "sequence %d of the group has no tokens", i);
        N += seg_T[i];
    }
    if (n < 1 || N > s->rows)
        return mlxc_errf(e, MLXC_EINVAL, "group of %d sequences and %lld tokens outside 1..%lld tokens", n,
                         (long long)N, (long long)s->rows);
    int rc = embed(m, s, tokens, N, e);
    if (rc)
        return rc;
    float *scratch = NULL;
    if (n > 1) /* without it the linears run a product per segment: the same results, more weight reads */
        scratch = mlxc_alloc_aligned((size_t)mlxc_linear_group_scratch(s->pool) * sizeof(float));
    s->seg_T = seg_T;
    s->n_seg = n;
    s->seg_scratch = scratch;
    const int dynamic = c->rope.type == MLXC_ROPE_DYNAMIC;
    for (int l = 0; l < c->n_layers && !rc; l++) {
        mlxc_block_qkv(m, l, s, N);
        int64_t r0 = 0;
        for (int i = 0; i < n && !rc; r0 += seg_T[i], i++) {
            if (dynamic) /* as mlxc_forward: the length this chunk reaches */
                mlxc_rope_inv_freq(&c->rope, (int)c->rope_dims, caches[i]->offset + seg_T[i],
                                   c->max_position_embeddings, s->inv_freq);
            rc = mlxc_block_attend(m, l, s, caches[i], r0, seg_T[i], e);
        }
        if (!rc)
            mlxc_block_out(m, l, s, N);
    }
    s->seg_T = NULL;
    s->n_seg = 0;
    s->seg_scratch = NULL;
    mlxc_free_aligned(scratch);
    for (int i = 0; i < n && !rc; i++)
        rc = mlxc_kv_step_done(caches[i], seg_T[i], e);
    return rc;
}

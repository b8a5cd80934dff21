/* The forward pass for several sequences at once, each with its own KV cache (continuous batching,
 * core/batch.h): one decode step for a batch, and the prefill of a group of prompts. */
#ifndef MLXC_FORWARD_BATCH_H
#define MLXC_FORWARD_BATCH_H

#include "core/forward.h"

/* Sequence i (i < n <= s->rows) feeds tokens[i] at position caches[i]->offset and appends it to
 * caches[i]; its logits land in logits[i * vocab ..] (n, vocab). Row i equals, bit for bit, what
 * mlxc_forward(m, s, caches[i], &tokens[i], 1, 1) leaves in s->logits. On error the caches may hold
 * the step for some layers only: drop them. */
int mlxc_forward_batch(const struct mlxc_model *m, struct mlxc_state *s, struct mlxc_kv_cache **caches,
                       const int32_t *tokens, int64_t n, float *logits, struct mlxc_err *e);

/* Prefill of n sequences in one pass: sequence i feeds its seg_T[i] >= 1 tokens, stacked in `tokens`
 * after those of sequences 0..i-1 (sum of seg_T <= s->rows), at positions caches[i]->offset..,
 * appending them to caches[i]. Each cache ends bitwise as mlxc_forward(m, s, caches[i], its tokens,
 * seg_T[i], 0) leaves it: the linears take all rows at once but give each sequence's rows what a product
 * of their own gives (mlxc_linear_forward_group), attention runs per sequence. No logits. On error the
 * caches may hold part of the step: drop them. */
int mlxc_forward_group(const struct mlxc_model *m, struct mlxc_state *s, struct mlxc_kv_cache **caches,
                       const int32_t *tokens, const int64_t *seg_T, int n, struct mlxc_err *e);

#endif

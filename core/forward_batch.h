/* One decode step for a batch of sequences, each with its own KV cache (see core/forward_batch.c). */
#ifndef MLXC_FORWARD_BATCH_H
#define MLXC_FORWARD_BATCH_H

#include "core/forward.h"

/* Sequence i (i < n <= s->max_chunk) feeds tokens[i] at position caches[i]->offset and appends it to
 * caches[i]; its logits land in logits[i * vocab ..] (n, vocab). Row i equals, bit for bit, what
 * mlxc_forward(m, s, caches[i], &tokens[i], 1, 1) leaves in s->logits. On error the caches may hold
 * the step for some layers only: drop them. */
int mlxc_forward_batch(const struct mlxc_model *m, struct mlxc_state *s, struct mlxc_kv_cache **caches,
                       const int32_t *tokens, int64_t n, float *logits, struct mlxc_err *e);

#endif

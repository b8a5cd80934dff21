/* One linear layer for a group of independent segments stacked into one matrix (grouped prefill in
 * continuous batching, core/batch.h): each weight is read from memory once for the whole group instead
 * of once per segment, and every segment gets bitwise what a product of its own gives. */
#ifndef MLXC_LINEAR_GROUP_H
#define MLXC_LINEAR_GROUP_H

#include "core/linear.h"

/* Segments of this many tokens or more run as a product of their own (they already amortize the weight
 * reads over their tokens); shorter ones share each tile of weight rows. */
#define MLXC_GROUP_SHORT 64

/* x (N, cols) holds nseg segments of seg_T[i] rows one after the other (N = sum seg_T); y (N, rows).
 * Rows of segment i equal, bit for bit, what mlxc_linear_forward(l, x_i, seg_T[i], y_i, pool) writes:
 * the short segments pass over each tile of weight rows in turn (the tile stays in cache), each through
 * mlxc_linear_forward on that tile alone, so they take the same kernel with the same token count. This
 * relies on what splitting rows across threads already relies on: an output row does not depend on
 * which other rows are computed with it. */
void mlxc_linear_forward_group(const struct mlxc_linear *l, const float *x, const int64_t *seg_T, int nseg,
                               float *y, float *scratch, struct mlxc_pool *pool);

/* Floats of the scratch mlxc_linear_forward_group needs with this pool (NULL scratch: every segment
 * runs as its own product, with the same results). */
int64_t mlxc_linear_group_scratch(const struct mlxc_pool *pool);

/* The layer restricted to weight rows [r0, r0 + n): a view into the same storage (nothing to free). */
struct mlxc_linear mlxc_linear_rows_view(const struct mlxc_linear *l, int64_t r0, int64_t n);

#endif

/* The KV cache with mlx_lm's KVCache semantics (mlx_lm/models/cache.py): per layer, keys and values of
 * every past position; capacity grows in steps of 256 positions; `offset` counts stored positions and
 * trim() only moves it back (the data is overwritten later).
 *
 * Storage is f32, position-major: k[layer][(pos * n_kv_heads + head) * head_dim + d], so appending a
 * chunk is a copy and growing is a realloc. Keys are stored after RoPE (and after q/k-norm). */
#ifndef MLXC_KV_H
#define MLXC_KV_H

#include <stdint.h>

#include "core/err.h"

#define MLXC_KV_STEP 256

struct mlxc_kv_cache {
    int n_layers, n_kv_heads, head_dim;
    int64_t offset;     /* positions stored, the same in every layer */
    int64_t cap;        /* positions allocated */
    float **k, **v;     /* n_layers arrays of (cap, n_kv_heads, head_dim) */
};

int mlxc_kv_init(struct mlxc_kv_cache *c, int n_layers, int n_kv_heads, int head_dim, struct mlxc_err *e);
void mlxc_kv_free(struct mlxc_kv_cache *c);

/* Makes room for n more positions (growing by whole steps of 256). */
int mlxc_kv_reserve(struct mlxc_kv_cache *c, int64_t n, struct mlxc_err *e);

/* Row of position pos in layer l: n_kv_heads * head_dim floats. */
static inline float *mlxc_kv_k_row(const struct mlxc_kv_cache *c, int l, int64_t pos)
{
    return c->k[l] + pos * c->n_kv_heads * c->head_dim;
}
static inline float *mlxc_kv_v_row(const struct mlxc_kv_cache *c, int l, int64_t pos)
{
    return c->v[l] + pos * c->n_kv_heads * c->head_dim;
}

/* Drops the last n positions (at most offset); returns how many were dropped. */
int64_t mlxc_kv_trim(struct mlxc_kv_cache *c, int64_t n);

/* Bytes held. */
uint64_t mlxc_kv_nbytes(const struct mlxc_kv_cache *c);

#endif

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

/* The cache options of generate, chat and cache-prompt (mlx_lm make_prompt_cache + kv quantization). */
struct mlxc_cache_opts {
    int64_t max_kv_size;         /* > 0: a rotating cache of that many positions keeping the first 4 */
    int kv_bits;                 /* > 0: affine-quantize keys and values (once quantized_kv_start is reached) */
    int kv_group_size;           /* 64 */
    int64_t quantized_kv_start;  /* 5000 on the command line */
};

struct mlxc_model;
/* A cache for model m with these options (NULL: a plain KVCache per layer). */
int mlxc_cache_make(const struct mlxc_model *m, const struct mlxc_cache_opts *o, struct mlxc_kv_cache *c,
                    struct mlxc_err *e);
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

/* Prompt-cache files in mlx_lm's exact layout (mlx_lm/models/cache.py save_prompt_cache /
 * load_prompt_cache, facts §2): a safetensors file whose tensors are the per-layer cache states
 *   "L.0" keys, "L.1" values: [1, n_kv_heads, T, head_dim] in the model's activation dtype
 *   (QuantizedKVCache: "L.0.0/1/2" packed, scales, biases for keys, "L.1.*" for values)
 * and whose metadata holds "0.L[.j]" the per-layer meta states, "1.<key>" the user metadata (mlx_lm
 * stores "model" and "tokenizer_config"), "2.L" the cache class names (KVCache, RotatingKVCache,
 * QuantizedKVCache). Files are written atomically. */
#ifndef MLXC_PROMPT_CACHE_H
#define MLXC_PROMPT_CACHE_H

#include <stddef.h>

#include "cache/kv.h"
#include "core/err.h"
#include "core/safetensors.h"

struct mlxc_model;

/* Writes the cache of model m to path with the user metadata pairs (keys without the "1." prefix). */
int mlxc_prompt_cache_save(const char *path, const struct mlxc_kv_cache *c, const struct mlxc_model *m,
                           const struct mlxc_st_meta *user, size_t n_user, struct mlxc_err *e);

/* Reads only the user metadata of a file (e.g. "model", to know which model to load). The pairs and
 * their strings are malloc'd as one block: free(*user). */
int mlxc_prompt_cache_read_meta(const char *path, struct mlxc_st_meta **user, size_t *n_user, struct mlxc_err *e);

/* Loads a file into a new cache for model m, checking layer count, shapes and dtypes against the model
 * (a clear error names the first mismatch). *user as in mlxc_prompt_cache_read_meta (may be NULL). */
int mlxc_prompt_cache_load(const char *path, const struct mlxc_model *m, struct mlxc_kv_cache *c,
                           struct mlxc_st_meta **user, size_t *n_user, struct mlxc_err *e);

/* The value of key in user metadata, or NULL. */
const char *mlxc_meta_find(const struct mlxc_st_meta *user, size_t n, const char *key);

#endif

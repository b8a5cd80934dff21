/* KV caches with mlx_lm's semantics (mlx_lm/models/cache.py, facts §6), per layer:
 *   plain      KVCache: every position; capacity grows in steps of 256; trim() moves offset back.
 *   rotating   RotatingKVCache(max_size, keep): at most max_size slots, the first `keep` never evicted;
 *              multi-token updates reorder to temporal order, drop the oldest and append (the buffer may
 *              hold max_size - 1 + T slots for that step); single tokens overwrite in place, wrapping to
 *              `keep`.
 * Storage is orthogonal to the policy: keys/values in the model's activation dtype (F32, F16 or BF16,
 * as mlx_lm keeps them), or affine-quantized along head_dim (QuantizedKVCache: `bits`, `group_size`;
 * mlxc also quantizes rotating caches, which mlx_lm refuses).
 *
 * Layout: slot-major, k[slot][kv_head][head_dim] (quantized: packed words, scales, biases per
 * (slot, kv_head)). Keys are stored after RoPE (and q/k norms). */
#ifndef MLXC_KV_H
#define MLXC_KV_H

#include <stdint.h>

#include "core/dtype.h"
#include "core/err.h"
#include "core/kernels.h"

#define MLXC_KV_STEP 256

enum mlxc_kv_policy { MLXC_KV_PLAIN, MLXC_KV_ROTATING };

struct mlxc_kv_layer {
    enum mlxc_kv_policy policy;
    int64_t offset;           /* positions seen (RoPE uses it, also after wrap) */
    int64_t len;              /* slots of the buffer (mlx keys.shape[2]) */
    int64_t cap;              /* slots allocated */
    int64_t max_size, keep;   /* rotating */
    int64_t idx;              /* rotating: next slot to write (mlx _idx) */
    int bits, group_size;     /* > 0: quantized storage */
    void *k, *v;              /* float storage: (cap, n_kv, hd) of the cache dtype */
    void *kq, *vq;            /* quantized: packed (cap, n_kv, hd*bits/32) uint32 */
    void *ks, *kb, *vs, *vb;  /* quantized: scales and biases (cap, n_kv, hd/group_size), cache dtype */
};

struct mlxc_kv_cache {
    int n_layers, n_kv_heads, head_dim;
    enum mlxc_dtype dtype;    /* F32, F16 or BF16 */
    int64_t offset;           /* positions seen (layer 0's offset) */
    int quant_bits, quant_group_size; /* from the options: quantize once offset >= quant_start */
    int64_t quant_start;
    struct mlxc_kv_layer *layers;
};

/* The cache options of generate, chat and cache-prompt (mlx_lm make_prompt_cache + kv quantization). */
struct mlxc_cache_opts {
    int64_t max_kv_size;         /* > 0: a rotating cache of that many positions keeping the first 4 */
    int kv_bits;                 /* > 0: affine-quantize keys and values (once quantized_kv_start is reached) */
    int kv_group_size;           /* 64 */
    int64_t quantized_kv_start;  /* 5000 on the command line */
};

struct mlxc_model;

/* A cache for model m in the model's activation dtype: a plain KVCache per layer (NULL options), the
 * sliding layers of make_cache families (gemma3_text) a RotatingKVCache(sliding_window, keep 0) always,
 * and with max_kv_size the other layers a RotatingKVCache(max_kv_size, keep 4). */
int mlxc_cache_make(const struct mlxc_model *m, const struct mlxc_cache_opts *o, struct mlxc_kv_cache *c,
                    struct mlxc_err *e);
/* A plain f32 cache (tests and tools). */
int mlxc_kv_init(struct mlxc_kv_cache *c, int n_layers, int n_kv_heads, int head_dim, struct mlxc_err *e);
void mlxc_kv_free(struct mlxc_kv_cache *c);

/* The keys a layer's attention sees after an update: slots 0..n-1 of the buffer, query t (of the T new
 * ones) seeing slot j iff j <= base + t and j > base + t - window (window 0: no window). */
struct mlxc_kv_view {
    int64_t n, base, window;
};

/* Stores T new (key, value) rows of layer l (each (T, n_kv * hd) f32) with the layer's policy and
 * returns what attention sees. */
int mlxc_kv_update(struct mlxc_kv_cache *c, int l, const float *k, const float *v, int64_t T,
                   struct mlxc_kv_view *view, struct mlxc_err *e);

/* Called once all layers saw the T tokens: advances c->offset and quantizes the cache once it reaches
 * the start position (mlx_lm maybe_quantize_kv_cache). */
int mlxc_kv_step_done(struct mlxc_kv_cache *c, int64_t T, struct mlxc_err *e);

/* Key or value of slot `slot`, kv head h, as f32 (head_dim floats) into out. */
void mlxc_kv_read_k(const struct mlxc_kv_cache *c, int l, int64_t slot, int h, float *out);
void mlxc_kv_read_v(const struct mlxc_kv_cache *c, int l, int64_t slot, int h, float *out);
/* The stored key/value row of slot/head when storage is float (c->dtype; else NULL): rows of one head
 * are n_kv * hd elements apart. */
const void *mlxc_kv_k_row(const struct mlxc_kv_cache *c, int l, int64_t slot, int h);
const void *mlxc_kv_v_row(const struct mlxc_kv_cache *c, int l, int64_t slot, int h);
/* Quantized storage: the keys (want_v 0) or values of layer l from slot `slot` and kv head h on, as the
 * attention kernels' rows (core/kernels.h). Returns 0 (out untouched) when the layer's storage is float. */
int mlxc_kv_qrows(const struct mlxc_kv_cache *c, int l, int want_v, int64_t slot, int h, struct mlxc_qkv_rows *out);

/* mlx_lm can_trim / trim: a rotating layer that has wrapped (offset >= max_size) cannot be trimmed.
 * Returns how many positions were removed (0 when not trimmable). */
int mlxc_kv_trimmable(const struct mlxc_kv_cache *c);
int64_t mlxc_kv_trim(struct mlxc_kv_cache *c, int64_t n);

/* dst = a deep copy of src (the slots in use, its policies, offsets and quantization settings), e.g.
 * a loaded prompt cache that several requests continue each on their own. */
int mlxc_kv_copy(struct mlxc_kv_cache *dst, const struct mlxc_kv_cache *src, struct mlxc_err *e);

/* Converts every layer to quantized storage now (mlx_lm to_quantized). */
int mlxc_kv_quantize(struct mlxc_kv_cache *c, int bits, int group_size, struct mlxc_err *e);

/* Makes room for `slots` slots in layer L (its arrays of its storage kind; new slots zero). Loaders fill
 * the arrays themselves after this. */
int mlxc_kv_reserve(struct mlxc_kv_cache *c, struct mlxc_kv_layer *L, int64_t slots, struct mlxc_err *e);

/* Bytes held. */
uint64_t mlxc_kv_nbytes(const struct mlxc_kv_cache *c);

/* Bytes of one slot of one layer (keys + values) for the layer's storage. */
size_t mlxc_kv_slot_bytes(const struct mlxc_kv_cache *c, const struct mlxc_kv_layer *L);

#endif

#include "cache/kv.h"

#include <stdlib.h>
#include <string.h>

int mlxc_kv_init(struct mlxc_kv_cache *c, int n_layers, int n_kv_heads, int head_dim, struct mlxc_err *e)
{
    memset(c, 0, sizeof *c);
    c->n_layers = n_layers;
    c->n_kv_heads = n_kv_heads;
    c->head_dim = head_dim;
    c->k = calloc((size_t)n_layers, sizeof *c->k);
    c->v = calloc((size_t)n_layers, sizeof *c->v);
    if (!c->k || !c->v) {
        mlxc_kv_free(c);
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory for the KV cache");
    }
    return 0;
}

void mlxc_kv_free(struct mlxc_kv_cache *c)
{
    for (int l = 0; c->k && l < c->n_layers; l++)
        free(c->k[l]);
    for (int l = 0; c->v && l < c->n_layers; l++)
        free(c->v[l]);
    free(c->k);
    free(c->v);
    memset(c, 0, sizeof *c);
}

int mlxc_kv_reserve(struct mlxc_kv_cache *c, int64_t n, struct mlxc_err *e)
{
    if (c->offset + n <= c->cap)
        return 0;
    int64_t need = c->offset + n;
    int64_t cap = (need + MLXC_KV_STEP - 1) / MLXC_KV_STEP * MLXC_KV_STEP;
    size_t row = (size_t)c->n_kv_heads * (size_t)c->head_dim * sizeof(float);
    if ((uint64_t)cap > SIZE_MAX / row)
        return mlxc_errf(e, MLXC_ENOMEM, "KV cache of %lld positions is too large", (long long)cap);
    for (int l = 0; l < c->n_layers; l++) {
        float *k = realloc(c->k[l], (size_t)cap * row);
        if (!k)
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory growing the KV cache to %lld positions", (long long)cap);
        c->k[l] = k;
        float *v = realloc(c->v[l], (size_t)cap * row);
        if (!v)
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory growing the KV cache to %lld positions", (long long)cap);
        c->v[l] = v;
    }
    c->cap = cap;
    return 0;
}

int64_t mlxc_kv_trim(struct mlxc_kv_cache *c, int64_t n)
{
    if (n > c->offset)
        n = c->offset;
    if (n < 0)
        n = 0;
    c->offset -= n;
    return n;
}

uint64_t mlxc_kv_nbytes(const struct mlxc_kv_cache *c)
{
    return 2ull * (uint64_t)c->n_layers * (uint64_t)c->cap * (uint64_t)c->n_kv_heads * (uint64_t)c->head_dim * 4u;
}

#include "core/model.h"

int mlxc_cache_make(const struct mlxc_model *m, const struct mlxc_cache_opts *o, struct mlxc_kv_cache *c,
                    struct mlxc_err *e)
{
    if (o && (o->max_kv_size > 0 || o->kv_bits > 0))
        return mlxc_errf(e, MLXC_EUNSUP, "rotating and quantized KV caches are not in this build yet");
    return mlxc_kv_init(c, (int)m->cfg.n_layers, (int)m->cfg.n_kv_heads, (int)m->cfg.head_dim, e);
}

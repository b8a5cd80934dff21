/* Prompt-cache files in mlx_lm's layout (see prompt_cache.h and facts §2). The cache keeps slots
 * slot-major, k[slot][head][d]; files keep them head-major, [1, head, T, d]: rows are transposed on the
 * way in and out. */
#include "cache/prompt_cache.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/half.h"
#include "core/model.h"
#include "core/sys.h"

enum layer_class { CLASS_KV, CLASS_ROTATING, CLASS_QUANTIZED, CLASS_QUANTIZED_ROTATING };

/* mlx_lm's class names; the last is mlxc's own (mlx_lm cannot quantize a rotating cache). */
static const char *const class_names[] = {"KVCache", "RotatingKVCache", "QuantizedKVCache",
                                          "QuantizedRotatingKVCache"};

static enum layer_class class_of(const struct mlxc_kv_layer *L)
{
    if (L->policy == MLXC_KV_ROTATING)
        return L->bits ? CLASS_QUANTIZED_ROTATING : CLASS_ROTATING;
    return L->bits ? CLASS_QUANTIZED : CLASS_KV;
}

/* Slots a layer's state holds: mlx_lm slices to offset when the buffer is longer, else the whole
 * (physical, possibly rotated) buffer. */
static int64_t state_slots(const struct mlxc_kv_layer *L)
{
    if (L->policy == MLXC_KV_ROTATING)
        return L->offset < L->len ? L->offset : L->len;
    return L->offset;
}

const char *mlxc_meta_find(const struct mlxc_st_meta *user, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(user[i].key, key) == 0)
            return user[i].value;
    return NULL;
}

/* ---- save ---- */

/* The arrays of a layer's state in file order: keys then values; each float, or packed+scales+biases. */
struct part {
    const char *base;   /* slot-major array */
    size_t row_bytes;   /* bytes of one (slot, head) row */
    enum mlxc_dtype dtype;
    int64_t last_dim;   /* elements of the row in the file's last dimension */
};

static int layer_parts(const struct mlxc_kv_cache *c, const struct mlxc_kv_layer *L, struct part *p)
{
    size_t es = mlxc_dtype_size(c->dtype);
    int hd = c->head_dim;
    if (!L->bits) {
        p[0] = (struct part){L->k, (size_t)hd * es, c->dtype, hd};
        p[1] = (struct part){L->v, (size_t)hd * es, c->dtype, hd};
        return 2;
    }
    int64_t words = (int64_t)hd * L->bits / 32, groups = hd / L->group_size;
    p[0] = (struct part){L->kq, (size_t)words * 4, MLXC_U32, words};
    p[1] = (struct part){L->ks, (size_t)groups * es, c->dtype, groups};
    p[2] = (struct part){L->kb, (size_t)groups * es, c->dtype, groups};
    p[3] = (struct part){L->vq, (size_t)words * 4, MLXC_U32, words};
    p[4] = (struct part){L->vs, (size_t)groups * es, c->dtype, groups};
    p[5] = (struct part){L->vb, (size_t)groups * es, c->dtype, groups};
    return 6;
}

static void part_name(char *buf, size_t cap, int layer, int quantized, int i)
{
    if (quantized)
        snprintf(buf, cap, "%d.%d.%d", layer, i / 3, i % 3);
    else
        snprintf(buf, cap, "%d.%d", layer, i);
}

int mlxc_prompt_cache_save(const char *path, const struct mlxc_kv_cache *c, const struct mlxc_model *m,
                           const struct mlxc_st_meta *user, size_t n_user, struct mlxc_err *e)
{
    (void)m;
    size_t max_entries = (size_t)c->n_layers * 6, max_meta = (size_t)c->n_layers * 8 + n_user;
    struct mlxc_st_entry *entries = calloc(max_entries + 1, sizeof *entries);
    struct mlxc_st_meta *meta = calloc(max_meta + 1, sizeof *meta);
    /* per layer: up to 6 tensor names, 6 meta keys and values, the class key */
    char *names = calloc((size_t)c->n_layers * 20 + 1, 64);
    int rc = 0;
    if (!entries || !meta || !names) {
        rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        goto out;
    }
    size_t ne = 0, nm = 0, nn = 0;
#define NAME() (names + 64 * nn++)
    for (int l = 0; l < c->n_layers; l++) {
        const struct mlxc_kv_layer *L = &c->layers[l];
        struct part parts[6];
        int np = layer_parts(c, L, parts);
        for (int i = 0; i < np; i++) {
            char *name = NAME();
            part_name(name, 64, l, L->bits != 0, i);
            entries[ne++] = (struct mlxc_st_entry){name, parts[i].dtype, 4,
                                                   {1, c->n_kv_heads, state_slots(L), parts[i].last_dim}};
        }
        /* "0.L" meta states: "" (KVCache); keep, max_size, offset, _idx (rotating); offset, group_size,
         * bits (quantized); mlxc's quantized rotating: the rotating four, then group_size and bits */
        long long vals[6];
        int nv = 0;
        enum layer_class cls = class_of(L);
        if (cls == CLASS_ROTATING || cls == CLASS_QUANTIZED_ROTATING) {
            vals[nv++] = L->keep, vals[nv++] = L->max_size, vals[nv++] = L->offset, vals[nv++] = L->idx;
            if (cls == CLASS_QUANTIZED_ROTATING)
                vals[nv++] = L->group_size, vals[nv++] = L->bits;
        } else if (cls == CLASS_QUANTIZED) {
            vals[nv++] = L->offset, vals[nv++] = L->group_size, vals[nv++] = L->bits;
        }
        if (nv == 0) {
            char *k = NAME();
            snprintf(k, 64, "0.%d", l);
            meta[nm++] = (struct mlxc_st_meta){k, ""};
        }
        for (int i = 0; i < nv; i++) {
            char *k = NAME(), *v = NAME();
            snprintf(k, 64, "0.%d.%d", l, i);
            snprintf(v, 64, "%lld", vals[i]);
            meta[nm++] = (struct mlxc_st_meta){k, v};
        }
        char *k = NAME();
        snprintf(k, 64, "2.%d", l);
        meta[nm++] = (struct mlxc_st_meta){k, class_names[cls]};
    }
    struct mlxc_buf ukeys = MLXC_BUF_INIT; /* "1.<key>": user keys may be long, so they live in a buffer */
    size_t *offsets = malloc((n_user + 1) * sizeof *offsets);
    for (size_t i = 0; offsets && i < n_user; i++) {
        offsets[i] = ukeys.len;
        mlxc_buf_printf(&ukeys, "1.%s", user[i].key);
        mlxc_buf_putc(&ukeys, '\0');
    }
    if (!offsets || ukeys.oom) {
        free(offsets);
        mlxc_buf_free(&ukeys);
        rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n_user; i++)
        meta[nm++] = (struct mlxc_st_meta){ukeys.data + offsets[i], user[i].value};
#undef NAME
    struct mlxc_st_writer *w;
    rc = mlxc_stw_open(path, entries, ne, meta, nm, &w, e);
    free(offsets);
    for (int l = 0; !rc && l < c->n_layers; l++) {
        const struct mlxc_kv_layer *L = &c->layers[l];
        struct part parts[6];
        int np = layer_parts(c, L, parts);
        int64_t slots = state_slots(L);
        for (int i = 0; i < np && !rc; i++)
            for (int h = 0; h < c->n_kv_heads && !rc; h++)
                for (int64_t s = 0; s < slots && !rc; s++)
                    rc = mlxc_stw_write(w, parts[i].base + ((size_t)s * c->n_kv_heads + h) * parts[i].row_bytes,
                                        parts[i].row_bytes, e);
    }
    if (!rc)
        rc = mlxc_stw_close(w, e);
    else
        mlxc_stw_abort(w);
    mlxc_buf_free(&ukeys);
    if (rc)
        mlxc_err_ctx(e, "saving the prompt cache '%s'", path);
out:
    free(entries);
    free(meta);
    free(names);
    return rc;
}

/* ---- load ---- */

static int collect_user_meta(const struct mlxc_st_file *f, struct mlxc_st_meta **user, size_t *n_user,
                             struct mlxc_err *e)
{
    size_t n = 0, bytes = 0;
    for (size_t i = 0; i < f->nmeta; i++)
        if (strncmp(f->meta[i].key, "1.", 2) == 0) {
            n++;
            bytes += strlen(f->meta[i].key) + strlen(f->meta[i].value) + 2;
        }
    struct mlxc_st_meta *out = malloc((n + 1) * sizeof *out + bytes + 1);
    if (!out)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    char *s = (char *)(out + n + 1);
    size_t k = 0;
    for (size_t i = 0; i < f->nmeta; i++) {
        if (strncmp(f->meta[i].key, "1.", 2) != 0)
            continue;
        out[k].key = strcpy(s, f->meta[i].key + 2);
        s += strlen(s) + 1;
        out[k].value = strcpy(s, f->meta[i].value);
        s += strlen(s) + 1;
        k++;
    }
    *user = out;
    *n_user = n;
    return 0;
}

int mlxc_prompt_cache_read_meta(const char *path, struct mlxc_st_meta **user, size_t *n_user, struct mlxc_err *e)
{
    struct mlxc_st_file *f;
    int rc = mlxc_st_open(path, &f, e);
    if (rc)
        return mlxc_err_ctx(e, "loading the prompt cache");
    rc = collect_user_meta(f, user, n_user, e);
    mlxc_st_close(f);
    return rc;
}

static int meta_int(const struct mlxc_st_file *f, int l, int j, long long *v, struct mlxc_err *e)
{
    char key[32];
    snprintf(key, sizeof key, "0.%d.%d", l, j);
    const char *s = mlxc_st_meta_get(f, key);
    char *end;
    if (!s || !*s || (*v = strtoll(s, &end, 10), *end) || *v < 0)
        return mlxc_errf(e, MLXC_EFORMAT, "layer %d: missing or bad meta state '%s'", l, key);
    return 0;
}

/* Copies a [1, H, T, last] tensor into the slot-major array of the layer, checking its shape. */
static int load_part(const struct mlxc_st_file *f, const char *name, const struct part *p, int n_kv, int64_t T,
                     char *dst, struct mlxc_err *e)
{
    const struct mlxc_tensor *t = mlxc_st_find(f, name);
    if (!t)
        return mlxc_errf(e, MLXC_EFORMAT, "tensor '%s' is missing", name);
    char got[128];
    if (t->ndim != 4 || t->shape[0] != 1 || t->shape[1] != n_kv || t->shape[2] != T || t->shape[3] != p->last_dim)
        return mlxc_errf(e, MLXC_EFORMAT, "tensor '%s' has shape %s, the model needs (1, %d, %lld, %lld)", name,
                         mlxc_shape_str(t->shape, t->ndim, got, sizeof got), n_kv, (long long)T,
                         (long long)p->last_dim);
    if (t->dtype != p->dtype && !(mlxc_dtype_is_float(t->dtype) && mlxc_dtype_is_float(p->dtype)))
        return mlxc_errf(e, MLXC_EFORMAT, "tensor '%s' is %s, expected %s", name, mlxc_dtype_name(t->dtype),
                         mlxc_dtype_name(p->dtype));
    size_t in_row = (size_t)p->last_dim * mlxc_dtype_size(t->dtype);
    float *tmp = malloc((size_t)p->last_dim * sizeof *tmp);
    if (!tmp)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    for (int h = 0; h < n_kv; h++) {
        for (int64_t s = 0; s < T; s++) {
            const unsigned char *src = (const unsigned char *)t->data + ((size_t)h * (size_t)T + (size_t)s) * in_row;
            char *d = dst + ((size_t)s * n_kv + h) * p->row_bytes;
            if (t->dtype == p->dtype) {
                memcpy(d, src, p->row_bytes);
                continue;
            }
            /* float dtype differs from the cache's: through f32 */
            for (int64_t i = 0; i < p->last_dim; i++) {
                uint16_t hv;
                switch (t->dtype) {
                case MLXC_F32: memcpy(&tmp[i], src + 4 * i, 4); break;
                case MLXC_F16: memcpy(&hv, src + 2 * i, 2); tmp[i] = mlxc_f16_to_f32(hv); break;
                case MLXC_BF16: memcpy(&hv, src + 2 * i, 2); tmp[i] = mlxc_bf16_to_f32(hv); break;
                default: tmp[i] = 0; break;
                }
            }
            if (p->dtype == MLXC_F32)
                memcpy(d, tmp, (size_t)p->last_dim * 4);
            else if (p->dtype == MLXC_F16)
                mlxc_f32_to_f16_row(tmp, (uint16_t *)d, (size_t)p->last_dim);
            else
                mlxc_f32_to_bf16_row(tmp, (uint16_t *)d, (size_t)p->last_dim);
        }
    }
    free(tmp);
    return 0;
}

static int load_layer(const struct mlxc_st_file *f, struct mlxc_kv_cache *c, int l, struct mlxc_err *e)
{
    char key[32];
    snprintf(key, sizeof key, "2.%d", l);
    const char *cls_name = mlxc_st_meta_get(f, key);
    if (!cls_name)
        return mlxc_errf(e, MLXC_EFORMAT, "layer %d has no cache class ('%s')", l, key);
    int cls = -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(cls_name, class_names[i]) == 0)
            cls = i;
    if (cls < 0)
        return mlxc_errf(e, MLXC_EUNSUP, "layer %d: cache class '%s' is not supported", l, cls_name);
    struct mlxc_kv_layer *L = &c->layers[l];
    long long v[6] = {0}, group = 0, bits = 0;
    int rc = 0;
    if (cls == CLASS_ROTATING || cls == CLASS_QUANTIZED_ROTATING) {
        for (int j = 0; j < (cls == CLASS_ROTATING ? 4 : 6) && !rc; j++)
            rc = meta_int(f, l, j, &v[j], e);
        L->policy = MLXC_KV_ROTATING;
        L->keep = v[0], L->max_size = v[1], L->offset = v[2], L->idx = v[3];
        group = v[4], bits = v[5];
        /* keep < max_size: a buffer that keeps all it holds would trim a negative number of slots before
         * a multi-token step (mlxc never makes one: --max-kv-size must exceed the 4 kept positions) */
        if (!rc && (L->max_size < 1 || L->keep < 0 || L->keep >= L->max_size || L->idx < 0 ||
                    L->idx > L->offset + 1 + L->max_size))
            rc = mlxc_errf(e, MLXC_EFORMAT, "layer %d: inconsistent rotating cache state (keep %lld, max_size %lld)",
                           l, (long long)L->keep, (long long)L->max_size);
    } else if (cls == CLASS_QUANTIZED) {
        for (int j = 0; j < 3 && !rc; j++)
            rc = meta_int(f, l, j, &v[j], e);
        L->offset = v[0], group = v[1], bits = v[2];
    }
    if (rc)
        return rc;
    /* the layer takes bits and group size once they are valid: freeing it (on any later error) sizes its
     * arrays with them, dividing by the group size */
    if (cls == CLASS_QUANTIZED || cls == CLASS_QUANTIZED_ROTATING) {
        if (bits > INT_MAX || group > INT_MAX)
            return mlxc_errf(e, MLXC_EFORMAT, "layer %d: %lld bits with group size %lld are not supported", l, bits,
                             group);
        struct mlxc_qparams q = {MLXC_Q_AFFINE, (int)bits, (int)group};
        if ((rc = mlxc_qparams_check(q, e)) != 0 || c->head_dim % q.group_size)
            return rc ? rc : mlxc_errf(e, MLXC_EFORMAT, "layer %d: group size %d does not divide head_dim %d", l,
                                       q.group_size, c->head_dim);
        L->bits = q.bits, L->group_size = q.group_size;
    }
    /* the stored slot count comes from the keys tensor */
    char name[48];
    snprintf(name, sizeof name, L->bits ? "%d.0.0" : "%d.0", l);
    const struct mlxc_tensor *keys = mlxc_st_find(f, name);
    if (!keys || keys->ndim != 4)
        return mlxc_errf(e, MLXC_EFORMAT, "tensor '%s' is missing or not 4-D", name);
    int64_t T = keys->shape[2];
    if (cls == CLASS_KV)
        L->offset = T;
    L->len = T;
    if (L->policy == MLXC_KV_PLAIN && T != L->offset)
        return mlxc_errf(e, MLXC_EFORMAT, "layer %d: %lld stored positions but offset %lld", l, (long long)T,
                         (long long)L->offset);
    /* a rotating buffer never holds more slots than positions seen (after a multi-token step it may
     * hold more than max_size), writes at idx <= T, and once it has wrapped (offset > T) or whenever its
     * slots are out of order (idx < T) never writes into the kept prefix: anything else would make the
     * reordering before a multi-token step move (or allocate) a negative number of slots */
    if (L->policy == MLXC_KV_ROTATING &&
        (L->idx > T || L->offset < T || ((L->offset > T || L->idx < T) && L->idx < L->keep)))
        return mlxc_errf(e, MLXC_EFORMAT, "layer %d: inconsistent rotating cache state (%lld slots, keep %lld, "
                         "max_size %lld, offset %lld, idx %lld)", l, (long long)T, (long long)L->keep,
                         (long long)L->max_size, (long long)L->offset, (long long)L->idx);
    size_t slot = mlxc_kv_slot_bytes(c, L);
    int64_t cap = (T + MLXC_KV_STEP - 1) / MLXC_KV_STEP * MLXC_KV_STEP;
    if (cap == 0)
        cap = MLXC_KV_STEP;
    if ((uint64_t)cap > (uint64_t)SIZE_MAX / (slot ? slot : 1))
        return mlxc_errf(e, MLXC_EFORMAT, "layer %d: %lld positions is too many", l, (long long)T);
    struct part parts[6];
    /* allocate the arrays, then fill them */
    L->cap = 0;
    if ((rc = mlxc_kv_reserve(c, L, cap, e)) != 0)
        return mlxc_err_ctx(e, "loading layer %d", l);
    int np = layer_parts(c, L, parts);
    for (int i = 0; i < np && !rc; i++) {
        part_name(name, sizeof name, l, L->bits != 0, i);
        rc = load_part(f, name, &parts[i], c->n_kv_heads, T, (char *)parts[i].base, e);
    }
    return rc;
}

/* The dtype the cache should keep for model m: the keys' dtype in the file when it is a float. */
int mlxc_prompt_cache_load(const char *path, const struct mlxc_model *m, struct mlxc_kv_cache *c,
                           struct mlxc_st_meta **user, size_t *n_user, struct mlxc_err *e)
{
    struct mlxc_st_file *f;
    int rc = mlxc_st_open(path, &f, e);
    if (rc)
        return mlxc_err_ctx(e, "loading the prompt cache");
    int layers = 0;
    for (size_t i = 0; i < f->nmeta; i++)
        if (strncmp(f->meta[i].key, "2.", 2) == 0)
            layers++;
    if ((rc = mlxc_cache_make(m, NULL, c, e)) != 0)
        goto out;
    if (layers != c->n_layers) {
        rc = mlxc_errf(e, MLXC_EFORMAT, "it holds %d layers but the model has %d (made for another model?)", layers,
                       c->n_layers);
        goto fail;
    }
    for (int l = 0; l < c->n_layers && !rc; l++)
        if ((rc = load_layer(f, c, l, e)) != 0)
            mlxc_err_ctx(e, "layer %d", l);
    if (rc)
        goto fail;
    c->offset = c->layers[0].offset;
    for (int l = 1; l < c->n_layers; l++)
        if (c->layers[l].offset != c->offset) {
            rc = mlxc_errf(e, MLXC_EFORMAT, "layers disagree on the position (%lld and %lld)",
                           (long long)c->offset, (long long)c->layers[l].offset);
            goto fail;
        }
    if (user && (rc = collect_user_meta(f, user, n_user, e)) != 0)
        goto fail;
    goto out;
fail:
    mlxc_kv_free(c);
out:
    if (rc)
        mlxc_err_ctx(e, "loading the prompt cache '%s'", path);
    mlxc_st_close(f);
    return rc;
}

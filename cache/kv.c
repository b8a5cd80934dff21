#include "cache/kv.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/half.h"
#include "core/model.h"
#include "quant/quant.h"

/* ---- storage: one slot holds n_kv rows of head_dim values, float or quantized ---- */

static size_t es(const struct mlxc_kv_cache *c) { return mlxc_dtype_size(c->dtype); }

/* Bytes per slot of each array: [0] k/v (float) or packed, [1] scales, [2] biases. */
static void slot_sizes(const struct mlxc_kv_cache *c, const struct mlxc_kv_layer *L, size_t sz[3])
{
    size_t rows = (size_t)c->n_kv_heads;
    if (L->bits) {
        sz[0] = rows * (size_t)c->head_dim * (size_t)L->bits / 8;
        sz[1] = sz[2] = rows * (size_t)(c->head_dim / L->group_size) * es(c);
    } else {
        sz[0] = rows * (size_t)c->head_dim * es(c);
        sz[1] = sz[2] = 0;
    }
}

size_t mlxc_kv_slot_bytes(const struct mlxc_kv_cache *c, const struct mlxc_kv_layer *L)
{
    size_t sz[3];
    slot_sizes(c, L, sz);
    return 2 * (sz[0] + sz[1] + sz[2]);
}

/* The layer's arrays with their per-slot sizes, in a fixed order. */
static int arrays(const struct mlxc_kv_cache *c, struct mlxc_kv_layer *L, void ***ptrs, size_t *sizes)
{
    size_t sz[3];
    slot_sizes(c, L, sz);
    if (!L->bits) {
        ptrs[0] = &L->k, ptrs[1] = &L->v;
        sizes[0] = sizes[1] = sz[0];
        return 2;
    }
    ptrs[0] = &L->kq, ptrs[1] = &L->vq, ptrs[2] = &L->ks, ptrs[3] = &L->kb, ptrs[4] = &L->vs, ptrs[5] = &L->vb;
    sizes[0] = sizes[1] = sz[0];
    sizes[2] = sizes[3] = sizes[4] = sizes[5] = sz[1];
    return 6;
}

/* A buffer of a layer resized from `old` to `n` bytes (p NULL: new), the new bytes zero. The buffers are
 * anonymous mappings grown with mremap: growing in steps of 256 slots leaves no holes in the heap (a
 * 4,096-token cache grown through realloc left tens of MB of them), and capacity not yet written costs
 * no memory. (No madvise on them: advice on part of a mapping splits it, and mremap then fails; huge
 * pages would also round each layer's memory up to 2 MB.) ASan builds use the heap, whose bounds ASan
 * checks. */
#if defined(__SANITIZE_ADDRESS__)
#define KV_HEAP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KV_HEAP 1
#endif
#endif

static void *buf_resize(void *p, size_t old, size_t n)
{
#ifdef KV_HEAP
    void *q = realloc(p, n ? n : 1);
    if (q && n > old)
        memset((char *)q + old, 0, n - old);
    return q;
#else
    void *q = p ? mremap(p, old, n, MREMAP_MAYMOVE) : mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return q == MAP_FAILED ? NULL : q;
#endif
}

static void buf_free(void *p, size_t n)
{
#ifdef KV_HEAP
    (void)n;
    free(p);
#else
    if (p)
        munmap(p, n);
#endif
}

/* Frees the layer's arrays (those of its storage kind, cap slots each). */
static void free_arrays(const struct mlxc_kv_cache *c, struct mlxc_kv_layer *L)
{
    void **ptrs[6];
    size_t sizes[6];
    const int n = arrays(c, L, ptrs, sizes);
    for (int i = 0; i < n; i++) {
        buf_free(*ptrs[i], (size_t)L->cap * sizes[i]);
        *ptrs[i] = NULL;
    }
}

int mlxc_kv_reserve(struct mlxc_kv_cache *c, struct mlxc_kv_layer *L, int64_t slots, struct mlxc_err *e)
{
    if (slots <= L->cap)
        return 0;
    int64_t cap = (slots + MLXC_KV_STEP - 1) / MLXC_KV_STEP * MLXC_KV_STEP;
    void **ptrs[6];
    size_t sizes[6];
    int n = arrays(c, L, ptrs, sizes);
    for (int i = 0; i < n; i++) {
        if ((uint64_t)cap > SIZE_MAX / sizes[i])
            return mlxc_errf(e, MLXC_ENOMEM, "KV cache of %lld positions is too large", (long long)cap);
        void *p = buf_resize(*ptrs[i], (size_t)L->cap * sizes[i], (size_t)cap * sizes[i]);
        if (!p)
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory growing the KV cache to %lld positions", (long long)cap);
        *ptrs[i] = p;
    }
    L->cap = cap;
    return 0;
}

/* Moves `count` slots from src to dst (overlap allowed). */
static void move_slots(struct mlxc_kv_cache *c, struct mlxc_kv_layer *L, int64_t dst, int64_t src, int64_t count)
{
    void **ptrs[6];
    size_t sizes[6];
    int n = arrays(c, L, ptrs, sizes);
    for (int i = 0; i < n; i++)
        memmove((char *)*ptrs[i] + (size_t)dst * sizes[i], (char *)*ptrs[i] + (size_t)src * sizes[i],
                (size_t)count * sizes[i]);
}

/* One row set (n_kv rows of head_dim) into a slot, converted or quantized. */
static void store_rows(struct mlxc_kv_cache *c, struct mlxc_kv_layer *L, void *dst, void *scales, void *biases,
                       const float *src)
{
    const int64_t n = (int64_t)c->n_kv_heads * c->head_dim;
    if (L->bits) {
        struct mlxc_qparams q = {MLXC_Q_AFFINE, L->bits, L->group_size};
        mlxc_quantize(src, c->n_kv_heads, c->head_dim, q, c->dtype, dst, scales, biases, NULL);
    } else if (c->dtype == MLXC_F32) {
        memcpy(dst, src, (size_t)n * 4);
    } else if (c->dtype == MLXC_F16) {
        mlxc_f32_to_f16_row(src, dst, (size_t)n);
    } else {
        mlxc_f32_to_bf16_row(src, dst, (size_t)n);
    }
}

static void write_slot(struct mlxc_kv_cache *c, struct mlxc_kv_layer *L, int64_t slot, const float *k, const float *v)
{
    size_t sz[3];
    slot_sizes(c, L, sz);
    if (L->bits) {
        store_rows(c, L, (char *)L->kq + slot * sz[0], (char *)L->ks + slot * sz[1], (char *)L->kb + slot * sz[2], k);
        store_rows(c, L, (char *)L->vq + slot * sz[0], (char *)L->vs + slot * sz[1], (char *)L->vb + slot * sz[2], v);
    } else {
        store_rows(c, L, (char *)L->k + slot * sz[0], NULL, NULL, k);
        store_rows(c, L, (char *)L->v + slot * sz[0], NULL, NULL, v);
    }
}

static void read_row(const struct mlxc_kv_cache *c, const struct mlxc_kv_layer *L, int which, int64_t slot, int h,
                     float *out)
{
    const int hd = c->head_dim;
    if (L->bits) {
        size_t sz[3];
        slot_sizes(c, L, sz);
        const char *packed = (const char *)(which ? L->vq : L->kq) + slot * sz[0];
        const char *scales = (const char *)(which ? L->vs : L->ks) + slot * sz[1];
        const char *biases = (const char *)(which ? L->vb : L->kb) + slot * sz[2];
        struct mlxc_qmatrix m = {
            .q = {MLXC_Q_AFFINE, L->bits, L->group_size}, .rows = c->n_kv_heads, .cols = hd, .packed = packed,
            .scales = scales, .biases = biases, .scale_dtype = c->dtype};
        mlxc_dequantize_rows(&m, h, 1, out);
        return;
    }
    const char *base = (const char *)(which ? L->v : L->k) + ((size_t)slot * c->n_kv_heads + h) * hd * es(c);
    if (c->dtype == MLXC_F32)
        memcpy(out, base, (size_t)hd * 4);
    else if (c->dtype == MLXC_F16)
        mlxc_f16_to_f32_row((const uint16_t *)base, out, (size_t)hd);
    else
        mlxc_bf16_to_f32_row((const uint16_t *)base, out, (size_t)hd);
}

void mlxc_kv_read_k(const struct mlxc_kv_cache *c, int l, int64_t slot, int h, float *out)
{
    read_row(c, &c->layers[l], 0, slot, h, out);
}

void mlxc_kv_read_v(const struct mlxc_kv_cache *c, int l, int64_t slot, int h, float *out)
{
    read_row(c, &c->layers[l], 1, slot, h, out);
}

const void *mlxc_kv_k_row(const struct mlxc_kv_cache *c, int l, int64_t slot, int h)
{
    const struct mlxc_kv_layer *L = &c->layers[l];
    if (L->bits)
        return NULL;
    return (const char *)L->k + ((size_t)slot * c->n_kv_heads + h) * c->head_dim * es(c);
}

const void *mlxc_kv_v_row(const struct mlxc_kv_cache *c, int l, int64_t slot, int h)
{
    const struct mlxc_kv_layer *L = &c->layers[l];
    if (L->bits)
        return NULL;
    return (const char *)L->v + ((size_t)slot * c->n_kv_heads + h) * c->head_dim * es(c);
}

int mlxc_kv_qrows(const struct mlxc_kv_cache *c, int l, int want_v, int64_t slot, int h, struct mlxc_qkv_rows *out)
{
    const struct mlxc_kv_layer *L = &c->layers[l];
    if (!L->bits)
        return 0;
    size_t sz[3];
    slot_sizes(c, L, sz);
    const int64_t groups = c->head_dim / L->group_size; /* per head */
    const size_t sb = (size_t)slot * sz[1] + (size_t)(h * groups) * es(c);
    out->codes = (const char *)(want_v ? L->vq : L->kq) + (size_t)slot * sz[0] + (size_t)h * c->head_dim * L->bits / 8;
    out->scales = (const char *)(want_v ? L->vs : L->ks) + sb;
    out->biases = (const char *)(want_v ? L->vb : L->kb) + sb;
    out->codes_ld = sz[0];
    out->sb_ld = c->n_kv_heads * groups;
    out->bits = L->bits;
    out->gs = L->group_size;
    out->sdt = c->dtype;
    return 1;
}

/* ---- lifecycle ---- */

static int init_common(struct mlxc_kv_cache *c, int n_layers, int n_kv, int hd, enum mlxc_dtype dt, struct mlxc_err *e)
{
    memset(c, 0, sizeof *c);
    c->n_layers = n_layers;
    c->n_kv_heads = n_kv;
    c->head_dim = hd;
    c->dtype = dt;
    c->layers = calloc((size_t)n_layers, sizeof *c->layers);
    if (!c->layers)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory for the KV cache");
    return 0;
}

int mlxc_kv_init(struct mlxc_kv_cache *c, int n_layers, int n_kv_heads, int head_dim, struct mlxc_err *e)
{
    return init_common(c, n_layers, n_kv_heads, head_dim, MLXC_F32, e);
}

/* The dtype mlx would compute activations in: the embedding's (or its scales') float type. */
static enum mlxc_dtype act_dtype(const struct mlxc_model *m)
{
    switch (m->embed.kind) {
    case MLXC_W_F32: return MLXC_F32;
    case MLXC_W_F16: return MLXC_F16;
    case MLXC_W_BF16: return MLXC_BF16;
    case MLXC_W_QUANT:
        if (m->embed.q.scale_dtype == MLXC_F32 || m->embed.q.scale_dtype == MLXC_F16)
            return m->embed.q.scale_dtype;
        return MLXC_BF16;
    }
    return MLXC_F32;
}

int mlxc_cache_make(const struct mlxc_model *m, const struct mlxc_cache_opts *o, struct mlxc_kv_cache *c,
                    struct mlxc_err *e)
{
    static const struct mlxc_cache_opts none = {0};
    int rc = init_common(c, (int)m->cfg.n_layers, (int)m->cfg.n_kv_heads, (int)m->cfg.head_dim, act_dtype(m), e);
    if (rc)
        return rc;
    if (!o)
        o = &none;
    if (o->kv_bits) {
        struct mlxc_qparams q = {MLXC_Q_AFFINE, o->kv_bits, o->kv_group_size ? o->kv_group_size : 64};
        if ((rc = mlxc_qparams_check(q, e)) != 0 || (c->head_dim % q.group_size &&
                                                     (rc = mlxc_errf(e, MLXC_EINVAL,
                                                                     "head_dim %d is not a multiple of the KV group size %d",
                                                                     c->head_dim, q.group_size)))) {
            mlxc_kv_free(c);
            return mlxc_err_ctx(e, "--kv-bits %d --kv-group-size %d", q.bits, q.group_size);
        }
        c->quant_bits = q.bits;
        c->quant_group_size = q.group_size;
        c->quant_start = o->quantized_kv_start;
    }
    const struct mlxc_config *mc = &m->cfg;
    if (o->max_kv_size > 0 && o->max_kv_size <= 4) {
        mlxc_kv_free(c);
        return mlxc_errf(e, MLXC_EINVAL, "--max-kv-size %lld is too small: the first 4 positions are always kept",
                         (long long)o->max_kv_size);
    }
    for (int l = 0; l < c->n_layers; l++) {
        if (mc->layer_sliding && mc->layer_sliding[l]) {
            /* a sliding layer (gemma3, gpt-oss make_cache): RotatingKVCache(sliding_window, keep=0) */
            c->layers[l].policy = MLXC_KV_ROTATING;
            c->layers[l].max_size = mc->sliding_window;
            c->layers[l].keep = 0;
        } else if (o->max_kv_size > 0) {
            /* mlx_lm: RotatingKVCache(max_kv_size, keep=4); it ignores the flag for make_cache models,
             * mlxc applies it to their global layers */
            c->layers[l].policy = MLXC_KV_ROTATING;
            c->layers[l].max_size = o->max_kv_size;
            c->layers[l].keep = 4;
        }
    }
    if (c->quant_bits && c->quant_start <= 0)
        rc = mlxc_kv_quantize(c, c->quant_bits, c->quant_group_size, e);
    return rc;
}

void mlxc_kv_free(struct mlxc_kv_cache *c)
{
    for (int l = 0; c->layers && l < c->n_layers; l++)
        free_arrays(c, &c->layers[l]);
    free(c->layers);
    memset(c, 0, sizeof *c);
}

int mlxc_kv_copy(struct mlxc_kv_cache *dst, const struct mlxc_kv_cache *src, struct mlxc_err *e)
{
    int rc = init_common(dst, src->n_layers, src->n_kv_heads, src->head_dim, src->dtype, e);
    if (rc)
        return rc;
    dst->offset = src->offset;
    dst->quant_bits = src->quant_bits;
    dst->quant_group_size = src->quant_group_size;
    dst->quant_start = src->quant_start;
    for (int l = 0; l < src->n_layers; l++) {
        const struct mlxc_kv_layer *S = &src->layers[l];
        struct mlxc_kv_layer *D = &dst->layers[l];
        *D = *S;
        D->k = D->v = D->kq = D->vq = D->ks = D->kb = D->vs = D->vb = NULL;
        D->cap = 0;
        if ((rc = mlxc_kv_reserve(dst, D, S->len, e)) != 0) {
            mlxc_kv_free(dst);
            return rc;
        }
        void **dp[6], **sp[6];
        size_t sizes[6];
        int n = arrays(dst, D, dp, sizes);
        arrays(src, (struct mlxc_kv_layer *)S, sp, sizes);
        for (int i = 0; i < n && S->len > 0; i++)
            memcpy(*dp[i], *sp[i], (size_t)S->len * sizes[i]);
    }
    return 0;
}

/* ---- updates (mlx_lm update_and_fetch) ---- */

/* mlx _temporal_order: make the buffer oldest-to-newest, keeping the first `keep` slots in front. */
static int temporal_order(struct mlxc_kv_cache *c, struct mlxc_kv_layer *L, struct mlxc_err *e)
{
    if (L->idx == L->len)
        return 0;
    if (L->idx >= L->offset) { /* never wrapped: drop the unwritten tail */
        L->len = L->idx;
        return 0;
    }
    /* [0, keep) + [idx, len) + [keep, idx) */
    int64_t head = L->idx - L->keep;
    size_t slot = mlxc_kv_slot_bytes(c, L) / 2;
    void **ptrs[6];
    size_t sizes[6];
    int n = arrays(c, L, ptrs, sizes);
    char *tmp = malloc((size_t)head * slot + 1);
    if (!tmp)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory reordering the KV cache");
    for (int i = 0; i < n; i++) {
        char *base = *ptrs[i];
        memcpy(tmp, base + (size_t)L->keep * sizes[i], (size_t)head * sizes[i]);
        memmove(base + (size_t)L->keep * sizes[i], base + (size_t)L->idx * sizes[i],
                (size_t)(L->len - L->idx) * sizes[i]);
        memcpy(base + (size_t)(L->keep + L->len - L->idx) * sizes[i], tmp, (size_t)head * sizes[i]);
    }
    free(tmp);
    return 0;
}

/* mlx _trim: drop `n` slots after the first `keep`. */
static void trim_front(struct mlxc_kv_cache *c, struct mlxc_kv_layer *L, int64_t n)
{
    move_slots(c, L, L->keep, L->keep + n, L->len - L->keep - n);
    L->len -= n;
}

static int update_rotating(struct mlxc_kv_cache *c, struct mlxc_kv_layer *L, const float *k, const float *v,
                           int64_t T, struct mlxc_kv_view *view, struct mlxc_err *e)
{
    const int64_t row = (int64_t)c->n_kv_heads * c->head_dim;
    int rc;
    if (T > 1) { /* _update_concat */
        int64_t before = L->offset;
        if (L->len > 0 && (rc = temporal_order(c, L, e)) != 0)
            return rc;
        L->idx = L->len;
        int64_t trim = L->idx - L->max_size + 1;
        if (trim > 0)
            trim_front(c, L, trim);
        if ((rc = mlxc_kv_reserve(c, L, L->len + T, e)) != 0)
            return rc;
        for (int64_t t = 0; t < T; t++)
            write_slot(c, L, L->len + t, k + t * row, v + t * row);
        L->len += T;
        L->offset += T;
        L->idx = L->len;
        view->n = L->len;
        view->base = before < L->max_size - 1 ? before : L->max_size - 1;
        view->window = L->max_size;
        return 0;
    }
    /* _update_in_place */
    int64_t prev = L->offset;
    if (L->len == 0 || (prev >= L->len && L->len < L->max_size)) {
        int64_t add = L->max_size - prev < MLXC_KV_STEP ? L->max_size - prev : MLXC_KV_STEP;
        if ((rc = mlxc_kv_reserve(c, L, L->len + add, e)) != 0)
            return rc;
        L->len += add;
        L->idx = prev;
    }
    int64_t trim = L->len - L->max_size;
    if (trim > 0) {
        trim_front(c, L, trim);
        L->idx = L->max_size;
    }
    if (L->idx == L->max_size)
        L->idx = L->keep;
    write_slot(c, L, L->idx, k, v);
    L->offset += 1;
    L->idx += 1;
    view->n = L->offset < L->max_size ? L->offset : L->len;
    view->base = view->n - 1;
    view->window = 0;
    return 0;
}

int mlxc_kv_update(struct mlxc_kv_cache *c, int l, const float *k, const float *v, int64_t T,
                   struct mlxc_kv_view *view, struct mlxc_err *e)
{
    struct mlxc_kv_layer *L = &c->layers[l];
    if (L->policy == MLXC_KV_ROTATING)
        return update_rotating(c, L, k, v, T, view, e);
    const int64_t row = (int64_t)c->n_kv_heads * c->head_dim;
    int rc = mlxc_kv_reserve(c, L, L->offset + T, e);
    if (rc)
        return rc;
    for (int64_t t = 0; t < T; t++)
        write_slot(c, L, L->offset + t, k + t * row, v + t * row);
    L->offset += T;
    L->len = L->offset;
    view->n = L->offset;
    view->base = L->offset - T;
    view->window = 0;
    return 0;
}

int mlxc_kv_step_done(struct mlxc_kv_cache *c, int64_t T, struct mlxc_err *e)
{
    c->offset += T;
    if (c->quant_bits && c->offset >= c->quant_start && c->n_layers && !c->layers[0].bits)
        return mlxc_kv_quantize(c, c->quant_bits, c->quant_group_size, e);
    return 0;
}

int mlxc_kv_quantize(struct mlxc_kv_cache *c, int bits, int group_size, struct mlxc_err *e)
{
    const int64_t row = (int64_t)c->n_kv_heads * c->head_dim;
    float *k = malloc((size_t)row * 4), *v = malloc((size_t)row * 4);
    if (!k || !v) {
        free(k);
        free(v);
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory quantizing the KV cache");
    }
    int rc = 0;
    for (int l = 0; l < c->n_layers && !rc; l++) {
        struct mlxc_kv_layer *L = &c->layers[l], old = *L;
        if (L->bits)
            continue;
        L->k = L->v = NULL;
        L->cap = 0;
        L->bits = bits;
        L->group_size = group_size;
        if ((rc = mlxc_kv_reserve(c, L, old.cap > 0 ? old.cap : 1, e)) != 0) {
            *L = old;
            break;
        }
        for (int64_t s = 0; s < old.len; s++) {
            for (int h = 0; h < c->n_kv_heads; h++) {
                read_row(c, &old, 0, s, h, k + (int64_t)h * c->head_dim);
                read_row(c, &old, 1, s, h, v + (int64_t)h * c->head_dim);
            }
            write_slot(c, L, s, k, v);
        }
        free_arrays(c, &old);
    }
    free(k);
    free(v);
    return rc;
}

int mlxc_kv_trimmable(const struct mlxc_kv_cache *c)
{
    for (int l = 0; l < c->n_layers; l++)
        if (c->layers[l].policy == MLXC_KV_ROTATING && c->layers[l].offset >= c->layers[l].max_size)
            return 0;
    return 1;
}

int64_t mlxc_kv_trim(struct mlxc_kv_cache *c, int64_t n)
{
    if (!mlxc_kv_trimmable(c))
        return 0;
    if (n > c->offset)
        n = c->offset;
    if (n <= 0)
        return 0;
    for (int l = 0; l < c->n_layers; l++) {
        struct mlxc_kv_layer *L = &c->layers[l];
        L->offset -= n;
        if (L->policy == MLXC_KV_ROTATING)
            L->idx -= n;
        else
            L->len = L->offset;
    }
    c->offset -= n;
    return n;
}

uint64_t mlxc_kv_nbytes(const struct mlxc_kv_cache *c)
{
    uint64_t n = 0;
    for (int l = 0; l < c->n_layers; l++)
        n += (uint64_t)c->layers[l].cap * mlxc_kv_slot_bytes(c, &c->layers[l]);
    return n;
}

#include "core/app_convert.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/experts.h"
#include "core/family.h"
#include "core/half.h"
#include "core/json_py.h"
#include "core/model_dir.h"
#include "core/safetensors.h"
#include "core/sys.h"
#include "core/weights.h"
#include "quant/quant.h"
#include "quant/recipes.h"

#define MAX_SHARD_BYTES (5ull << 30) /* mlx_lm MAX_FILE_SIZE_GB = 5, compared in bytes as 5 << 30 */
#define CHUNK_BYTES (32u << 20)      /* f32 bytes of source rows converted at once */

enum op {
    OP_COPY,      /* raw bytes as they are (integer tensors, already-quantized triples) */
    OP_CAST,      /* float tensor to the output dtype */
    OP_QUANT_W,   /* quantize: packed weight (fills the scales/biases stash) */
    OP_QUANT_S,   /* quantize: scales from the stash */
    OP_QUANT_B,   /* quantize: biases from the stash */
    OP_DEQUANT,   /* quantized triple to a float weight */
};

struct out_tensor {
    char *name;
    enum op op;
    struct mlxc_st_entry entry;
    uint64_t nbytes;
    const struct mlxc_tensor *src, *src_scales, *src_biases;
    struct mlxc_qparams q;
    int shard;
};

struct plan {
    struct out_tensor *t;
    size_t n, cap;
    int nshards;
    uint64_t total_bytes;
    double params;                /* parameters as mlx_lm counts them for bits per weight */
    cJSON *qconfig;               /* the "quantization" object, when quantizing */
};

struct convert {
    const struct mlxc_convert_args *a;
    FILE *log;
    struct mlxc_config cfg;
    struct mlxc_weights *w;
    struct mlxc_vtensors vt;      /* a checkpoint's experts as mlx_lm's stacked tensors (core/experts.h) */
    char *src_dir;
    enum mlxc_dtype float_dtype;  /* output dtype of float tensors, or MLXC_DTYPE_COUNT to keep each */
    struct mlxc_qparams q;        /* top-level quantization params */
    int recipe_low, recipe_high, recipe_pos;
    struct plan p;
    char *tmp_dir;
    /* the scales and biases of the tensor being quantized */
    unsigned char *stash_s, *stash_b;
};

static int parse_float_dtype(const char *s, enum mlxc_dtype *t)
{
    if (strcmp(s, "float16") == 0)
        *t = MLXC_F16;
    else if (strcmp(s, "bfloat16") == 0)
        *t = MLXC_BF16;
    else if (strcmp(s, "float32") == 0)
        *t = MLXC_F32;
    else
        return -1;
    return 0;
}

/* --dtype, else config "torch_dtype" (or "dtype"), else text_config "dtype"; anything else keeps each
 * tensor's own float dtype. */
static enum mlxc_dtype choose_dtype(const struct mlxc_convert_args *a, const cJSON *root)
{
    enum mlxc_dtype t;
    if (a->dtype && parse_float_dtype(a->dtype, &t) == 0)
        return t;
    const char *keys[] = {"torch_dtype", "dtype"};
    for (int i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, keys[i]);
        if (cJSON_IsString(v) && parse_float_dtype(v->valuestring, &t) == 0)
            return t;
    }
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(root, "text_config");
    const cJSON *v = text ? cJSON_GetObjectItemCaseSensitive(text, "dtype") : NULL;
    if (cJSON_IsString(v) && parse_float_dtype(v->valuestring, &t) == 0)
        return t;
    return MLXC_DTYPE_COUNT;
}

static int64_t rows_of(const struct mlxc_tensor *t)
{
    int64_t r = 1;
    for (int d = 0; d + 1 < t->ndim; d++)
        r *= t->shape[d];
    return r;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* ---- planning ---- */

static struct out_tensor *add_out(struct plan *p, const char *name, enum op op, struct mlxc_err *e)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        struct out_tensor *t = realloc(p->t, cap * sizeof *t);
        if (!t) {
            mlxc_errf(e, MLXC_ENOMEM, "out of memory");
            return NULL;
        }
        p->t = t;
        p->cap = cap;
    }
    struct out_tensor *o = &p->t[p->n];
    memset(o, 0, sizeof *o);
    if (!(o->name = strdup(name))) {
        mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        return NULL;
    }
    o->op = op;
    o->entry.name = o->name;
    p->n++;
    return o;
}

static void set_shape(struct out_tensor *o, const struct mlxc_tensor *like, int64_t last)
{
    o->entry.ndim = like->ndim;
    memcpy(o->entry.shape, like->shape, sizeof like->shape);
    o->entry.shape[like->ndim - 1] = last;
}

static uint64_t entry_bytes(const struct mlxc_st_entry *en)
{
    uint64_t n = mlxc_dtype_size(en->dtype);
    for (int d = 0; d < en->ndim; d++)
        n *= (uint64_t)en->shape[d];
    return n;
}

/* The float dtype a weight is cast to before it is quantized: --dtype if given, else its own (f64 as
 * f32). Affine scales and biases are stored in it; the fp modes' scales are U8 codes, but their
 * arithmetic still rounds to it (mlxc_quantize). */
static enum mlxc_dtype quant_float_dtype(const struct convert *c, const struct mlxc_tensor *t)
{
    const enum mlxc_dtype dt = c->float_dtype != MLXC_DTYPE_COUNT ? c->float_dtype : t->dtype;
    return dt == MLXC_F64 ? MLXC_F32 : dt;
}

/* The params for quantizing module `path`, or 0 when it stays in float (mlx_lm's predicate: a Linear or
 * Embedding weight whose last dimension divides the top-level group size). */
static int quant_params_for(struct convert *c, const char *path, const struct mlxc_tensor *t, struct mlxc_qparams *q)
{
    if (!c->a->quantize || t->ndim < 2 || !mlxc_dtype_is_float(t->dtype) || strstr(path, "norm"))
        return 0;
    if (t->shape[t->ndim - 1] % c->q.group_size)
        return 0;
    *q = c->q;
    if (c->a->quant_predicate)
        q->bits = mlxc_recipe_bits(path, c->recipe_pos, (int)c->cfg.n_layers, c->recipe_low, c->recipe_high);
    else if (c->cfg.family->quant_predicate && c->cfg.family->quant_predicate(path, q))
        return 2; /* the model's own choice (a recipe replaces it), written per layer */
    return 1;
}

/* Adds {"group_size", "bits"} for path to the "quantization" object (recipes list every layer; a model's
 * own predicate the layers it chose params for: `own`). */
static int note_layer(struct convert *c, const char *path, struct mlxc_qparams q, int own, struct mlxc_err *e)
{
    if (!c->a->quant_predicate && !own)
        return 0;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    if (c->a->q_group_size || own)
        cJSON_AddNumberToObject(o, "group_size", q.group_size);
    else
        cJSON_AddNullToObject(o, "group_size"); /* mlx_lm writes None; loading resolves it to 64 */
    cJSON_AddNumberToObject(o, "bits", q.bits);
    cJSON_AddItemToObject(c->p.qconfig, path, o);
    return 0;
}

static int plan_quantized_source(struct convert *c, const char *path, const struct mlxc_tensor *t,
                                 const struct mlxc_tensor *scales, struct mlxc_err *e)
{
    char name[700];
    snprintf(name, sizeof name, "%s.biases", path);
    const struct mlxc_tensor *biases = mlxc_vtensors_find(&c->vt, c->w, name);
    struct mlxc_qparams q;
    if (!mlxc_config_quant_for(&c->cfg, path, &q))
        q = c->cfg.quant.q;
    if (c->a->dequantize) {
        struct out_tensor *o = add_out(&c->p, t->name, OP_DEQUANT, e);
        if (!o)
            return e->code;
        o->src = t;
        o->src_scales = scales;
        o->src_biases = biases;
        o->q = q;
        int64_t cols = t->shape[t->ndim - 1] * 32 / q.bits;
        set_shape(o, t, cols);
        o->entry.dtype = c->float_dtype != MLXC_DTYPE_COUNT ? c->float_dtype
                         : mlxc_dtype_is_float(scales->dtype) ? scales->dtype
                                                              : MLXC_BF16;
        c->p.params += (double)rows_of(t) * (double)cols;
        return 0;
    }
    /* kept quantized: copied as is */
    const struct mlxc_tensor *parts[] = {t, scales, biases};
    for (int i = 0; i < 3; i++) {
        if (!parts[i])
            continue;
        struct out_tensor *o = add_out(&c->p, parts[i]->name, OP_COPY, e);
        if (!o)
            return e->code;
        o->src = parts[i];
        set_shape(o, parts[i], parts[i]->shape[parts[i]->ndim - 1]);
        o->entry.dtype = parts[i]->dtype;
    }
    c->p.params += (double)rows_of(t) * (double)(t->shape[t->ndim - 1] * 32 / q.bits);
    return 0;
}

static int plan_tensor(struct convert *c, const struct mlxc_tensor *t, struct mlxc_err *e)
{
    const char *name = t->name;
    char path[600];
    if (strstr(name, "rotary_emb.inv_freq"))
        return 0; /* sanitize: computed, not loaded */
    if (c->cfg.tie_word_embeddings && !c->cfg.tie_from_weights && strncmp(name, "lm_head.", 8) == 0)
        return 0; /* sanitize: the embedding serves as the head */
    if (ends_with(name, ".scales") || ends_with(name, ".biases")) {
        snprintf(path, sizeof path, "%.*s.weight", (int)(strlen(name) - 7), name);
        if (mlxc_vtensors_find(&c->vt, c->w, path))
            return 0; /* part of a quantized triple, planned with its weight */
    }
    if (ends_with(name, ".weight")) {
        snprintf(path, sizeof path, "%.*s", (int)(strlen(name) - 7), name);
        char sname[640];
        snprintf(sname, sizeof sname, "%s.scales", path);
        const struct mlxc_tensor *scales = mlxc_vtensors_find(&c->vt, c->w, sname);
        if (scales)
            return plan_quantized_source(c, path, t, scales, e);
        struct mlxc_qparams q;
        int how = quant_params_for(c, path, t, &q);
        if (how) {
            int64_t cols = t->shape[t->ndim - 1];
            struct out_tensor *w = add_out(&c->p, name, OP_QUANT_W, e);
            if (!w)
                return e->code;
            w->src = t;
            w->q = q;
            set_shape(w, t, cols * q.bits / 32);
            w->entry.dtype = MLXC_U32;
            snprintf(sname, sizeof sname, "%s.scales", path);
            struct out_tensor *s = add_out(&c->p, sname, OP_QUANT_S, e);
            if (!s)
                return e->code;
            s->src = t;
            s->q = q;
            set_shape(s, t, cols / q.group_size);
            s->entry.dtype = q.mode == MLXC_Q_AFFINE ? quant_float_dtype(c, t) : MLXC_U8;
            if (q.mode == MLXC_Q_AFFINE) {
                snprintf(sname, sizeof sname, "%s.biases", path);
                struct out_tensor *b = add_out(&c->p, sname, OP_QUANT_B, e);
                if (!b)
                    return e->code;
                b->src = t;
                b->q = q;
                b->entry = c->p.t[c->p.n - 2].entry;
                b->entry.name = b->name;
            }
            c->p.params += (double)rows_of(t) * (double)cols;
            return note_layer(c, path, q, how == 2, e);
        }
    }
    struct out_tensor *o = add_out(&c->p, name, mlxc_dtype_is_float(t->dtype) ? OP_CAST : OP_COPY, e);
    if (!o)
        return e->code;
    o->src = t;
    o->entry.ndim = t->ndim;
    memcpy(o->entry.shape, t->shape, sizeof t->shape);
    o->entry.dtype = o->op == OP_CAST && c->float_dtype != MLXC_DTYPE_COUNT ? c->float_dtype : t->dtype;
    c->p.params += (double)mlxc_tensor_numel(t);
    return 0;
}

static int cmp_tensor_ptr(const void *a, const void *b)
{
    return strcmp((*(const struct mlxc_tensor *const *)a)->name, (*(const struct mlxc_tensor *const *)b)->name);
}

static int make_plan(struct convert *c, struct mlxc_err *e)
{
    const struct mlxc_tensor **all = malloc((c->w->ntensors + c->vt.n + 1) * sizeof *all);
    if (!all)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t f = 0; f < c->w->nfiles; f++)
        for (size_t i = 0; i < c->w->files[f]->ntensors; i++)
            if (!mlxc_vtensors_hidden(&c->vt, c->w->files[f]->tensors[i].name))
                all[n++] = &c->w->files[f]->tensors[i];
    for (size_t i = 0; i < c->vt.n; i++) /* stacked experts in mlx_lm's layout (its sanitize) */
        all[n++] = &c->vt.t[i];
    qsort(all, n, sizeof *all, cmp_tensor_ptr);
    if (c->a->quant_predicate) { /* the layer index position, from the first path with "down_proj" */
        c->recipe_pos = -1;
        for (size_t i = 0; i < n && c->recipe_pos < 0; i++)
            if (strstr(all[i]->name, "down_proj"))
                c->recipe_pos = mlxc_recipe_index_pos(all[i]->name);
        if (c->recipe_pos < 0) {
            free(all);
            return mlxc_errf(e, MLXC_EINVAL, "--quant-predicate needs a model with 'down_proj' layers");
        }
    }
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        rc = plan_tensor(c, all[i], e);
    free(all);
    if (rc)
        return rc;
    /* shards of at most max bytes, in order (mlx_lm make_shards) */
    uint64_t max = c->a->max_shard_bytes ? c->a->max_shard_bytes : MAX_SHARD_BYTES, in_shard = 0;
    int shard = 0;
    for (size_t i = 0; i < c->p.n; i++) {
        struct out_tensor *o = &c->p.t[i];
        o->nbytes = entry_bytes(&o->entry);
        if (in_shard > 0 && in_shard + o->nbytes > max) {
            shard++;
            in_shard = 0;
        }
        o->shard = shard;
        in_shard += o->nbytes;
        c->p.total_bytes += o->nbytes;
    }
    c->p.nshards = shard + 1;
    return 0;
}

/* ---- writing ---- */

/* Source rows [r0, r0+nr) of a float tensor as f32, rounded through the output dtype when casting. */
static void read_rows(const struct mlxc_tensor *t, int64_t cols, int64_t r0, int64_t nr, enum mlxc_dtype round_to,
                      float *out)
{
    size_t n = (size_t)(nr * cols);
    const unsigned char *p = (const unsigned char *)t->data + (size_t)(r0 * cols) * mlxc_dtype_size(t->dtype);
    switch (t->dtype) {
    case MLXC_F32: memcpy(out, p, n * 4); break;
    case MLXC_F16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            out[i] = mlxc_f16_to_f32(h);
        }
        break;
    case MLXC_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            out[i] = mlxc_bf16_to_f32(h);
        }
        break;
    case MLXC_F64:
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, p + 8 * i, 8);
            out[i] = (float)d;
        }
        break;
    default: break;
    }
    if (round_to == MLXC_BF16)
        for (size_t i = 0; i < n; i++)
            out[i] = mlxc_bf16_to_f32(mlxc_f32_to_bf16(out[i]));
    else if (round_to == MLXC_F16)
        for (size_t i = 0; i < n; i++)
            out[i] = mlxc_f16_to_f32(mlxc_f32_to_f16(out[i]));
}

/* f32 values to dtype bytes (in place is fine: the output is never longer). */
static size_t store_as(const float *v, size_t n, enum mlxc_dtype dt, void *out)
{
    if (dt == MLXC_F32) {
        memmove(out, v, n * 4);
        return n * 4;
    }
    if (dt == MLXC_F16)
        mlxc_f32_to_f16_row(v, out, n);
    else
        mlxc_f32_to_bf16_row(v, out, n);
    return n * 2;
}

static int64_t chunk_rows(int64_t cols)
{
    int64_t r = (int64_t)(CHUNK_BYTES / 4) / (cols > 0 ? cols : 1);
    return r > 0 ? r : 1;
}

static int check_interrupt(struct convert *c, struct mlxc_err *e)
{
    if (c->a->interrupt && *c->a->interrupt)
        return mlxc_errf(e, MLXC_EINTR, "interrupted");
    return 0;
}

/* NaN and Inf values among n elements of a float dtype (all exponent bits set); 0 for other dtypes. */
static size_t count_nonfinite(const void *data, size_t n, enum mlxc_dtype dt)
{
    const unsigned char *p = data;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        uint16_t h;
        switch (dt) {
        case MLXC_F32: memcpy(&u, p + 4 * i, 4); bad += (u & 0x7f800000u) == 0x7f800000u; break;
        case MLXC_F16: memcpy(&h, p + 2 * i, 2); bad += (h & 0x7c00u) == 0x7c00u; break;
        case MLXC_BF16: memcpy(&h, p + 2 * i, 2); bad += (h & 0x7f80u) == 0x7f80u; break;
        default: return 0;
        }
    }
    return bad;
}

static int write_tensor_data(struct convert *c, struct out_tensor *o, struct mlxc_st_writer *w, float *buf,
                             size_t *nonfinite, struct mlxc_err *e);

/* Writes one tensor's bytes; a float tensor holding NaN or Inf is written as it is, with a warning
 * (a cheap check here, since every value passes through anyway; loading checks only the norms). */
static int write_tensor(struct convert *c, struct out_tensor *o, struct mlxc_st_writer *w, float *buf,
                        struct mlxc_err *e)
{
    size_t nonfinite = 0;
    int rc = write_tensor_data(c, o, w, buf, &nonfinite, e);
    if (!rc && nonfinite)
        fprintf(c->log, "warning: tensor '%s' holds %zu NaN or Inf values\n", o->src->name, nonfinite);
    return rc;
}

static int write_tensor_data(struct convert *c, struct out_tensor *o, struct mlxc_st_writer *w, float *buf,
                             size_t *nonfinite, struct mlxc_err *e)
{
    const struct mlxc_tensor *t = o->src;
    int rc = 0;
    switch (o->op) {
    case OP_COPY:
        *nonfinite += count_nonfinite(t->data, t->nbytes / (mlxc_dtype_size(t->dtype) ? mlxc_dtype_size(t->dtype) : 1),
                                      t->dtype);
        return mlxc_stw_write(w, t->data, t->nbytes, e);
    case OP_QUANT_S:
    case OP_QUANT_B:
        return mlxc_stw_write(w, o->op == OP_QUANT_S ? c->stash_s : c->stash_b, o->nbytes, e);
    case OP_CAST: {
        int64_t cols = t->ndim ? t->shape[t->ndim - 1] : 1, rows = t->ndim ? rows_of(t) : 1;
        if (cols == 0 || rows == 0)
            return 0;
        int64_t step = chunk_rows(cols);
        for (int64_t r = 0; r < rows && !rc; r += step) {
            int64_t nr = rows - r < step ? rows - r : step;
            read_rows(t, cols, r, nr, MLXC_DTYPE_COUNT, buf);
            *nonfinite += count_nonfinite(buf, (size_t)(nr * cols), MLXC_F32);
            size_t bytes = store_as(buf, (size_t)(nr * cols), o->entry.dtype, buf);
            rc = mlxc_stw_write(w, buf, bytes, e);
            if (!rc)
                rc = check_interrupt(c, e);
        }
        return rc;
    }
    case OP_DEQUANT: {
        int64_t rows = rows_of(t), cols = o->entry.shape[o->entry.ndim - 1], step = chunk_rows(cols);
        struct mlxc_qmatrix m = {.q = o->q, .rows = rows, .cols = cols, .packed = t->data,
                                 .scales = o->src_scales->data, .biases = o->src_biases ? o->src_biases->data : NULL,
                                 .scale_dtype = o->src_scales->dtype};
        if ((rc = mlxc_qmatrix_check(&m, e)) != 0)
            return mlxc_err_ctx(e, "'%s'", t->name);
        for (int64_t r = 0; r < rows && !rc; r += step) {
            int64_t nr = rows - r < step ? rows - r : step;
            mlxc_dequantize_rows(&m, r, nr, buf);
            size_t bytes = store_as(buf, (size_t)(nr * cols), o->entry.dtype, buf);
            rc = mlxc_stw_write(w, buf, bytes, e);
            if (!rc)
                rc = check_interrupt(c, e);
        }
        return rc;
    }
    case OP_QUANT_W: {
        int64_t rows = rows_of(t), cols = t->shape[t->ndim - 1], step = chunk_rows(cols);
        size_t groups_row = (size_t)(cols / o->q.group_size);
        const struct out_tensor *s = o + 1;
        size_t ssize = mlxc_dtype_size(s->entry.dtype);
        free(c->stash_s);
        free(c->stash_b);
        c->stash_s = malloc((size_t)rows * groups_row * ssize + 1);
        c->stash_b = malloc((size_t)rows * groups_row * ssize + 1);
        unsigned char *packed = malloc((size_t)(step * cols) * (size_t)o->q.bits / 8 + 4);
        if (!c->stash_s || !c->stash_b || !packed) {
            free(packed);
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory quantizing '%s'", t->name);
        }
        const enum mlxc_dtype float_dt = quant_float_dtype(c, t);
        for (int64_t r = 0; r < rows && !rc; r += step) {
            int64_t nr = rows - r < step ? rows - r : step;
            read_rows(t, cols, r, nr, float_dt, buf);
            *nonfinite += count_nonfinite(buf, (size_t)(nr * cols), MLXC_F32);
            size_t off = (size_t)r * groups_row * ssize;
            rc = mlxc_quantize(buf, nr, cols, o->q, float_dt, packed, c->stash_s + off, c->stash_b + off, e);
            if (!rc)
                rc = mlxc_stw_write(w, packed, (size_t)(nr * cols) * (size_t)o->q.bits / 8, e);
            if (!rc)
                rc = check_interrupt(c, e);
        }
        free(packed);
        return rc ? mlxc_err_ctx(e, "quantizing '%s'", t->name) : 0;
    }
    }
    return 0;
}

static char *shard_name(const struct convert *c, int shard)
{
    char name[64];
    if (c->p.nshards == 1)
        snprintf(name, sizeof name, "model.safetensors");
    else
        snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", shard + 1, c->p.nshards);
    return strdup(name);
}

static void progress(struct convert *c, size_t done)
{
    if (!c->a->progress)
        return;
    int width = 30, filled = (int)(width * done / (c->p.n ? c->p.n : 1));
    fprintf(c->log, "\r[INFO] Writing [");
    for (int i = 0; i < width; i++)
        fputc(i < filled ? '#' : '.', c->log);
    fprintf(c->log, "] %zu/%zu tensors", done, c->p.n);
    if (done == c->p.n)
        fputc('\n', c->log);
    fflush(c->log);
}

static int write_shards(struct convert *c, struct mlxc_err *e)
{
    float *buf = malloc(CHUNK_BYTES + 64);
    if (!buf)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    int rc = 0;
    size_t i = 0;
    for (int s = 0; s < c->p.nshards && !rc; s++) {
        size_t first = i, count = 0;
        while (first + count < c->p.n && c->p.t[first + count].shard == s)
            count++;
        struct mlxc_st_entry *entries = malloc((count + 1) * sizeof *entries);
        char *name = shard_name(c, s), *path = name ? mlxc_path_join(c->tmp_dir, name) : NULL;
        if (!entries || !path) {
            free(entries);
            free(name);
            free(path);
            rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
            break;
        }
        for (size_t k = 0; k < count; k++)
            entries[k] = c->p.t[first + k].entry;
        struct mlxc_st_meta meta[] = {{"format", "mlx"}};
        struct mlxc_st_writer *w;
        rc = mlxc_stw_open(path, entries, count, meta, 1, &w, e);
        for (size_t k = 0; k < count && !rc; k++, i++) {
            struct out_tensor *o = &c->p.t[i];
            const struct mlxc_tensor *srcs[] = {o->src, o->src_scales, o->src_biases};
            int reads = o->op != OP_QUANT_S && o->op != OP_QUANT_B; /* those two write the stash */
            for (int j = 0; j < 3 && reads && !rc; j++)
                rc = mlxc_vtensors_load(&c->vt, srcs[j], e);
            if (!rc)
                rc = write_tensor(c, o, w, buf, e);
            progress(c, i + 1);
            /* done with the source: drop its pages, so RSS stays near one tensor, not the model */
            for (int j = 0; j < 3; j++)
                mlxc_vtensors_release(&c->vt, srcs[j]);
        }
        if (rc && w)
            mlxc_stw_abort(w);
        else if (!rc)
            rc = mlxc_stw_close(w, e);
        free(entries);
        free(name);
        free(path);
    }
    free(buf);
    return rc;
}

/* ---- the other files ---- */

static int write_text(const char *dir, const char *name, const char *text, size_t len, struct mlxc_err *e)
{
    char *path = mlxc_path_join(dir, name);
    if (!path)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    struct mlxc_atomic_file af;
    int rc = mlxc_atomic_open(&af, path, e);
    if (!rc) {
        if (fwrite(text, 1, len, af.f) != len)
            rc = mlxc_errf_sys(e, MLXC_EIO, "cannot write '%s'", path);
        if (rc)
            mlxc_atomic_abort(&af);
        else
            rc = mlxc_atomic_commit(&af, e);
    }
    free(path);
    return rc;
}

static int write_json(const char *dir, const char *name, const cJSON *v, struct mlxc_err *e)
{
    struct mlxc_buf b = MLXC_BUF_INIT;
    mlxc_json_py_dump(&b, v, 1);
    if (b.oom) {
        mlxc_buf_free(&b);
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    }
    int rc = write_text(dir, name, b.data, b.len, e);
    mlxc_buf_free(&b);
    return rc;
}

static int write_config(struct convert *c, struct mlxc_err *e)
{
    cJSON *cfg = cJSON_Duplicate(c->cfg.root, 1);
    if (!cfg)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    cJSON_DeleteItemFromObjectCaseSensitive(cfg, "_name_or_path");
    cJSON_DeleteItemFromObjectCaseSensitive(cfg, "vision_config");
    if (c->a->dequantize || c->a->quantize) {
        cJSON_DeleteItemFromObjectCaseSensitive(cfg, "quantization");
        cJSON_DeleteItemFromObjectCaseSensitive(cfg, "quantization_config");
    }
    if (c->a->quantize) {
        cJSON_AddItemToObject(cfg, "quantization", cJSON_Duplicate(c->p.qconfig, 1));
        cJSON_AddItemToObject(cfg, "quantization_config", cJSON_Duplicate(c->p.qconfig, 1));
    }
    int rc = write_json(c->tmp_dir, "config.json", cfg, e);
    cJSON_Delete(cfg);
    return rc;
}

static int write_index(struct convert *c, struct mlxc_err *e)
{
    cJSON *root = cJSON_CreateObject(), *meta = cJSON_CreateObject(), *map = cJSON_CreateObject();
    int rc = 0;
    if (!root || !meta || !map) {
        cJSON_Delete(root);
        cJSON_Delete(meta);
        cJSON_Delete(map);
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    }
    cJSON_AddNumberToObject(meta, "total_size", (double)c->p.total_bytes);
    cJSON_AddNumberToObject(meta, "total_parameters", c->p.params);
    cJSON_AddItemToObject(root, "metadata", meta);
    /* weight_map sorted by name: the plan is in name order except within quantized triples */
    size_t n = c->p.n;
    const struct out_tensor **order = malloc((n + 1) * sizeof *order);
    if (!order) {
        cJSON_Delete(root);
        cJSON_Delete(map);
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        order[i] = &c->p.t[i];
    for (size_t i = 1; i < n; i++) /* insertion sort: nearly sorted already */
        for (size_t j = i; j > 0 && strcmp(order[j - 1]->name, order[j]->name) > 0; j--) {
            const struct out_tensor *tmp = order[j];
            order[j] = order[j - 1];
            order[j - 1] = tmp;
        }
    for (size_t i = 0; i < n; i++) {
        char *f = shard_name(c, order[i]->shard);
        cJSON_AddStringToObject(map, order[i]->name, f ? f : "");
        free(f);
    }
    free(order);
    cJSON_AddItemToObject(root, "weight_map", map);
    rc = write_json(c->tmp_dir, "model.safetensors.index.json", root, e);
    cJSON_Delete(root);
    return rc;
}

/* Tokenizer, generation config, chat templates and custom code, copied as they are. */
static int copy_side_files(struct convert *c, struct mlxc_err *e)
{
    static const char *const names[] = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                                        "tokenizer.model", "vocab.json", "merges.txt", "added_tokens.json",
                                        "chat_template.jinja", "chat_template.json", "generation_config.json"};
    DIR *d = opendir(c->src_dir);
    if (!d)
        return mlxc_errf_sys(e, MLXC_EIO, "cannot open folder '%s'", c->src_dir);
    int rc = 0;
    struct dirent *ent;
    while (!rc && (ent = readdir(d))) {
        int wanted = ends_with(ent->d_name, ".py");
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            wanted |= strcmp(ent->d_name, names[i]) == 0;
        if (!wanted)
            continue;
        char *from = mlxc_path_join(c->src_dir, ent->d_name);
        size_t len;
        char *data = from ? mlxc_read_file(from, 1u << 30, &len, e) : NULL;
        rc = data ? write_text(c->tmp_dir, ent->d_name, data, len, e) : (from ? e->code : MLXC_ENOMEM);
        free(data);
        free(from);
    }
    closedir(d);
    return rc;
}

static int write_readme(struct convert *c, struct mlxc_err *e)
{
    struct mlxc_buf b = MLXC_BUF_INIT;
    mlxc_buf_printf(&b, "---\nlibrary_name: mlx\ntags:\n- mlx\n---\n\n# %s\n\n", c->a->mlx_path);
    mlxc_buf_printf(&b, "This model was converted to MLX format from `%s` with mlxc-convert %s", c->a->hf_path,
                    MLXC_VERSION);
    if (c->a->quantize)
        mlxc_buf_printf(&b, " (%s, %d bits, group size %d%s%s)", mlxc_qmode_name(c->q.mode), c->q.bits,
                        c->q.group_size, c->a->quant_predicate ? ", recipe " : "",
                        c->a->quant_predicate ? c->a->quant_predicate : "");
    mlxc_buf_puts(&b, ".\n\n## Use with mlxc\n\n```sh\nmlxc-generate --model ");
    mlxc_buf_printf(&b, "%s --prompt \"hello\"\n```\n", c->a->mlx_path);
    int rc = b.oom ? mlxc_errf(e, MLXC_ENOMEM, "out of memory") : write_text(c->tmp_dir, "README.md", b.data, b.len, e);
    mlxc_buf_free(&b);
    return rc;
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *ent;
    while ((ent = readdir(d))) {
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
            continue;
        char *p = mlxc_path_join(dir, ent->d_name);
        if (p)
            unlink(p);
        free(p);
    }
    closedir(d);
    rmdir(dir);
}

/* A temporary folder beside the final one, so the last step is one rename on the same filesystem.
 * Temporary folders that earlier conversions to the same path left when they were killed go first. */
static int make_tmp_dir(struct convert *c, struct mlxc_err *e)
{
    int stale = mlxc_remove_stale_tmps(c->a->mlx_path);
    if (stale)
        fprintf(c->log, "[INFO] Removed %d temporary folder%s left by an interrupted conversion to '%s'\n", stale,
                stale == 1 ? "" : "s", c->a->mlx_path);
    if (!(c->tmp_dir = mlxc_tmp_template(c->a->mlx_path)))
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    if (!mkdtemp(c->tmp_dir) || chmod(c->tmp_dir, 0755) != 0) {
        int rc = mlxc_errf_sys(e, MLXC_EIO, "cannot create a folder beside '%s'", c->a->mlx_path);
        free(c->tmp_dir);
        c->tmp_dir = NULL;
        return rc;
    }
    return 0;
}

static int setup(struct convert *c, struct mlxc_err *e)
{
    const struct mlxc_convert_args *a = c->a;
    if (a->quantize && a->dequantize)
        return mlxc_errf(e, MLXC_EINVAL, "choose either quantize (-q) or dequantize (-d), not both");
    if (!a->hf_path)
        return mlxc_errf(e, MLXC_EINVAL, "no source model: pass --hf-path (or --model)");
    if (mlxc_path_exists(a->mlx_path))
        return mlxc_errf(e, MLXC_EINVAL, "cannot save to the path '%s' as it already exists; delete it or choose "
                         "a new --mlx-path", a->mlx_path);
    if (a->dtype && parse_float_dtype(a->dtype, &c->float_dtype) != 0)
        return mlxc_errf(e, MLXC_EINVAL, "--dtype must be float16, bfloat16 or float32, not '%s'", a->dtype);
    enum mlxc_qmode mode = MLXC_Q_AFFINE;
    if (a->q_mode && mlxc_qmode_parse(a->q_mode, &mode) != 0)
        return mlxc_errf(e, MLXC_EINVAL, "unknown --q-mode '%s'", a->q_mode);
    c->q = mlxc_qparams_default(mode);
    if (a->q_group_size)
        c->q.group_size = a->q_group_size;
    if (a->q_bits)
        c->q.bits = a->q_bits;
    if (a->quantize) {
        int rc = mlxc_qparams_check(c->q, e);
        if (rc)
            return rc;
    }
    if (a->quant_predicate) {
        if (mode != MLXC_Q_AFFINE)
            return mlxc_errf(e, MLXC_EINVAL, "quant predicates only support 'affine' quantization");
        if (mlxc_recipe_parse(a->quant_predicate, &c->recipe_low, &c->recipe_high) != 0)
            return mlxc_errf(e, MLXC_EINVAL, "unknown --quant-predicate '%s' (mixed_2_6, mixed_3_4, mixed_3_6, mixed_4_6)",
                             a->quant_predicate);
    }
    if (!(c->src_dir = mlxc_model_dir_resolve(a->hf_path, e)))
        return e->code;
    int rc = mlxc_config_load(c->src_dir, &c->cfg, e);
    if (!rc)
        rc = mlxc_weights_open(c->src_dir, &c->w, e);
    if (!rc)
        rc = mlxc_vtensors_make(&c->vt, &c->cfg, c->w, e);
    if (rc)
        return rc;
    if (a->quantize && c->cfg.quant.present)
        return mlxc_errf(e, MLXC_EINVAL, "'%s' is already quantized; dequantize it first (-d)", a->hf_path);
    if (!a->dtype)
        c->float_dtype = choose_dtype(a, c->cfg.root);
    if (a->quantize) {
        c->p.qconfig = cJSON_CreateObject();
        if (!c->p.qconfig)
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        cJSON_AddNumberToObject(c->p.qconfig, "group_size", c->q.group_size);
        cJSON_AddNumberToObject(c->p.qconfig, "bits", c->q.bits);
        cJSON_AddStringToObject(c->p.qconfig, "mode", mlxc_qmode_name(c->q.mode));
    }
    return 0;
}

int mlxc_convert_main(const struct mlxc_convert_args *a, FILE *log, struct mlxc_err *e)
{
    struct convert c = {.a = a, .log = log, .float_dtype = MLXC_DTYPE_COUNT};
    int rc = setup(&c, e);
    if (!rc) {
        fprintf(log, "[INFO] Loading\n");
        if (c.float_dtype != MLXC_DTYPE_COUNT)
            fprintf(log, "[INFO] Using dtype: %s\n", c.float_dtype == MLXC_F16    ? "float16"
                                                     : c.float_dtype == MLXC_BF16 ? "bfloat16"
                                                                                  : "float32");
        if (a->quantize)
            fprintf(log, "[INFO] Quantizing\n");
        if (a->dequantize)
            fprintf(log, "[INFO] Dequantizing\n");
        rc = make_plan(&c, e);
    }
    if (!rc)
        rc = make_tmp_dir(&c, e);
    if (!rc)
        rc = write_shards(&c, e);
    if (!rc)
        rc = write_config(&c, e);
    if (!rc)
        rc = write_index(&c, e);
    if (!rc)
        rc = copy_side_files(&c, e);
    if (!rc)
        rc = write_readme(&c, e);
    if (!rc && a->quantize)
        fprintf(log, "[INFO] Quantized model with %.3f bits per weight.\n",
                (double)c.p.total_bytes * 8.0 / (c.p.params > 0 ? c.p.params : 1));
    if (!rc && renameat2(AT_FDCWD, c.tmp_dir, AT_FDCWD, a->mlx_path, RENAME_NOREPLACE) != 0)
        rc = mlxc_errf_sys(e, MLXC_EIO, "cannot move the converted model into '%s'", a->mlx_path);
    if (!rc) {
        char *copy = strdup(a->mlx_path);
        if (copy)
            mlxc_fsync_dir(dirname(copy), NULL);
        free(copy);
    }
    if (rc && c.tmp_dir)
        remove_tree(c.tmp_dir);
    for (size_t i = 0; i < c.p.n; i++)
        free(c.p.t[i].name);
    free(c.p.t);
    cJSON_Delete(c.p.qconfig);
    free(c.stash_s);
    free(c.stash_b);
    free(c.tmp_dir);
    mlxc_vtensors_free(&c.vt);
    mlxc_weights_close(c.w);
    if (c.cfg.root)
        mlxc_config_free(&c.cfg);
    free(c.src_dir);
    return rc;
}

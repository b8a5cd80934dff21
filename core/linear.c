#include "core/linear.h"

#include <cblas.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/blas.h"
#include "core/config.h"
#include "core/gemm.h"
#include "core/half.h"
#include "core/kernels.h"
#include "core/matmul_amx.h"
#include "core/sys.h"

#define SGEMM_MIN_TOKENS 8  /* from this many tokens, the prefill paths (OpenBLAS, AMX, f32 panels) */
#define DYNAMIC_MAX_TOKENS 4 /* up to this many tokens, rows are handed out in chunks (linear_run) */

static const struct mlxc_tensor *need(const struct mlxc_weights *w, const char *name, struct mlxc_err *e)
{
    const struct mlxc_tensor *t = mlxc_weights_get(w, name);
    if (!t)
        mlxc_errf(e, MLXC_ENOTFOUND, "missing tensor '%s'", name);
    return t;
}

static int check_shape2(const struct mlxc_tensor *t, int64_t rows, int64_t cols, struct mlxc_err *e)
{
    if (t->ndim == 2 && t->shape[0] == rows && t->shape[1] == cols)
        return 0;
    char got[160];
    return mlxc_errf(e, MLXC_EFORMAT, "tensor '%s': expected shape (%lld, %lld), got %s", t->name, (long long)rows,
                     (long long)cols, mlxc_shape_str(t->shape, t->ndim, got, sizeof got));
}

float *mlxc_load_vector(const struct mlxc_weights *w, const char *name, int64_t n, struct mlxc_err *e)
{
    const struct mlxc_tensor *t = need(w, name, e);
    if (!t)
        return NULL;
    if (t->ndim != 1 || t->shape[0] != n) {
        char got[160];
        mlxc_errf(e, MLXC_EFORMAT, "tensor '%s': expected shape (%lld,), got %s", name, (long long)n,
                  mlxc_shape_str(t->shape, t->ndim, got, sizeof got));
        return NULL;
    }
    float *out = malloc((size_t)n * sizeof *out);
    if (!out) {
        mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        return NULL;
    }
    const unsigned char *p = t->data;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h;
        switch (t->dtype) {
        case MLXC_F32: memcpy(&out[i], p + 4 * i, 4); break;
        case MLXC_F16: memcpy(&h, p + 2 * i, 2); out[i] = mlxc_f16_to_f32(h); break;
        case MLXC_BF16: memcpy(&h, p + 2 * i, 2); out[i] = mlxc_bf16_to_f32(h); break;
        default:
            free(out);
            mlxc_errf(e, MLXC_EFORMAT, "tensor '%s': dtype %s is not a float type", name, mlxc_dtype_name(t->dtype));
            return NULL;
        }
    }
    return out;
}

static int load_quantized(struct mlxc_linear *l, const struct mlxc_weights *w, const struct mlxc_config *cfg,
                          const char *path, const struct mlxc_tensor *wt, const struct mlxc_tensor *scales,
                          int64_t rows, int64_t cols, struct mlxc_err *e)
{
    struct mlxc_qparams q;
    if (!mlxc_config_quant_for(cfg, path, &q)) {
        if (!cfg->quant.present)
            return mlxc_errf(e, MLXC_EFORMAT, "'%s' has quantized weights but config.json has no 'quantization'", path);
        q = cfg->quant.q;
    }
    if (cols % q.group_size || (cols * q.bits) % 32)
        return mlxc_errf(e, MLXC_EFORMAT, "'%s': %lld input features do not fit %d-bit groups of %d", path,
                         (long long)cols, q.bits, q.group_size);
    if (wt->dtype != MLXC_U32)
        return mlxc_errf(e, MLXC_EFORMAT, "tensor '%s': quantized weight must be U32, got %s", wt->name,
                         mlxc_dtype_name(wt->dtype));
    int rc = check_shape2(wt, rows, cols * q.bits / 32, e);
    if (!rc)
        rc = check_shape2(scales, rows, cols / q.group_size, e);
    if (rc)
        return mlxc_err_ctx(e, "%s %d-bit group %d", mlxc_qmode_name(q.mode), q.bits, q.group_size);
    l->kind = MLXC_W_QUANT;
    l->q = (struct mlxc_qmatrix){.q = q, .rows = rows, .cols = cols, .packed = wt->data, .scales = scales->data,
                                 .scale_dtype = scales->dtype};
    if (q.mode == MLXC_Q_AFFINE) {
        char name[512];
        snprintf(name, sizeof name, "%s.biases", path);
        const struct mlxc_tensor *b = need(w, name, e);
        if (!b)
            return e->code;
        if ((rc = check_shape2(b, rows, cols / q.group_size, e)) != 0)
            return rc;
        if (!mlxc_dtype_is_float(scales->dtype) || b->dtype != scales->dtype || scales->dtype == MLXC_F64)
            return mlxc_errf(e, MLXC_EFORMAT, "'%s': scales and biases must share a float dtype (got %s and %s)", path,
                             mlxc_dtype_name(scales->dtype), mlxc_dtype_name(b->dtype));
        l->q.biases = b->data;
    } else if (scales->dtype != MLXC_U8) {
        return mlxc_errf(e, MLXC_EFORMAT, "'%s': %s scales must be U8, got %s", path, mlxc_qmode_name(q.mode),
                         mlxc_dtype_name(scales->dtype));
    }
    return 0;
}

int mlxc_linear_load(struct mlxc_linear *l, const struct mlxc_weights *w, const struct mlxc_config *cfg,
                     const char *path, int64_t rows, int64_t cols, int want_bias, struct mlxc_err *e)
{
    memset(l, 0, sizeof *l);
    l->rows = rows;
    l->cols = cols;
    char name[512];
    snprintf(name, sizeof name, "%s.weight", path);
    const struct mlxc_tensor *wt = need(w, name, e);
    if (!wt)
        return e->code;
    snprintf(name, sizeof name, "%s.scales", path);
    const struct mlxc_tensor *scales = mlxc_weights_get(w, name);
    int rc;
    if (scales) {
        rc = load_quantized(l, w, cfg, path, wt, scales, rows, cols, e);
    } else {
        rc = check_shape2(wt, rows, cols, e);
        l->w = wt->data;
        switch (wt->dtype) {
        case MLXC_F32: l->kind = MLXC_W_F32; break;
        case MLXC_F16: l->kind = MLXC_W_F16; break;
        case MLXC_BF16: l->kind = MLXC_W_BF16; break;
        default:
            if (!rc)
                rc = mlxc_errf(e, MLXC_EFORMAT, "tensor '%s': dtype %s is not supported for weights", wt->name,
                               mlxc_dtype_name(wt->dtype));
        }
    }
    if (!rc && want_bias) {
        snprintf(name, sizeof name, "%s.bias", path);
        if (!(l->bias = mlxc_load_vector(w, name, rows, e)))
            rc = e->code;
    }
    return rc;
}

void mlxc_linear_free(struct mlxc_linear *l)
{
    free(l->bias);
    l->bias = NULL;
}

uint64_t mlxc_linear_nbytes(const struct mlxc_linear *l)
{
    uint64_t n = (uint64_t)l->rows * (uint64_t)l->cols;
    switch (l->kind) {
    case MLXC_W_F32: return n * 4;
    case MLXC_W_F16:
    case MLXC_W_BF16: return n * 2;
    case MLXC_W_QUANT: {
        uint64_t groups = n / (uint64_t)l->q.q.group_size;
        uint64_t ss = mlxc_dtype_size(l->q.scale_dtype);
        return n * (uint64_t)l->q.q.bits / 8 + groups * ss * (l->q.biases ? 2 : 1);
    }
    }
    return 0;
}

void mlxc_linear_row(const struct mlxc_linear *l, int64_t row, float *out)
{
    const unsigned char *p = (const unsigned char *)l->w;
    switch (l->kind) {
    case MLXC_W_F32: memcpy(out, p + row * l->cols * 4, (size_t)l->cols * 4); break;
    case MLXC_W_F16: {
        const unsigned char *r = p + row * l->cols * 2;
        for (int64_t i = 0; i < l->cols; i++) {
            uint16_t h;
            memcpy(&h, r + 2 * i, 2);
            out[i] = mlxc_f16_to_f32(h);
        }
        break;
    }
    case MLXC_W_BF16: {
        const unsigned char *r = p + row * l->cols * 2;
        for (int64_t i = 0; i < l->cols; i++) {
            uint16_t h;
            memcpy(&h, r + 2 * i, 2);
            out[i] = mlxc_bf16_to_f32(h);
        }
        break;
    }
    case MLXC_W_QUANT: mlxc_dequantize_rows(&l->q, row, 1, out); break;
    }
}

/* ---- forward ---- */

struct linear_job {
    const struct mlxc_linear *l;
    const float *x;
    int64_t T;
    float *y;
    int rowwise;           /* mlxc_linear_forward_rowwise */
    int64_t chunk;         /* > 0: rows handed out in chunks of this size to whichever thread is free */
    void *prep;            /* quantized weights: activations prepared once for all chunks, or NULL */
    int quantize;          /* the pass that prepares them, each thread a share of the tokens */
    int quant_sgemm;       /* quantized weights through dequantized tiles and SGEMM (quant_sgemm) */
    int amx;               /* bf16 or quantized weights through AMX tiles (amx_path) */
    int gemm;              /* weights as f32 panels through the AVX2 kernels (gemm_path) */
    uint32_t *xp;          /* amx: the activations in bf16 pairs (core/matmul_amx.h) */
    int pack;              /* amx: the pass that packs them, each thread a share of the tokens */
    _Atomic int64_t next;  /* the next chunk's first row */
};

/* Many tokens with float weights: convert tiles of W rows to f32 and let OpenBLAS do the product. The
 * tiles are the MLXC_SGEMM_TILE-row stretches at multiples of MLXC_SGEMM_TILE (callers' ranges start at
 * one), so an output element always comes from the same sgemm shape, whoever asks for which rows: with
 * some OpenBLAS kernels (AVX2, AVX-512) the rounding depends on the product's width, and a grouped
 * prefill (core/linear_group.c) must give each request what its own prefill gives. */
static void forward_sgemm(const struct mlxc_linear *l, const float *x, int64_t T, float *y, int64_t r0, int64_t r1)
{
    float *tile = l->kind == MLXC_W_F32 ? NULL : mlxc_thread_scratch(MLXC_SCRATCH_TILE, (size_t)MLXC_SGEMM_TILE * (size_t)l->cols * sizeof(float));
    const unsigned char *p = (const unsigned char *)l->w;
    for (int64_t r = r0, next; r < r1; r = next) {
        next = (r / MLXC_SGEMM_TILE + 1) * MLXC_SGEMM_TILE;
        next = next < r1 ? next : r1;
        const int64_t nr = next - r;
        if (l->kind == MLXC_W_F32) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)nr, (int)l->cols, 1.0f, x,
                        (int)l->cols, (const float *)l->w + r * l->cols, (int)l->cols, 0.0f, y + r, (int)l->rows);
            continue;
        }
        if (!tile) { /* no memory for a tile: fall back to the row kernels */
            const struct mlxc_kernels *k = mlxc_kernels();
            if (l->kind == MLXC_W_QUANT)
                mlxc_qmatmul_rows(&l->q, x, T, y, l->rows, r, r + nr);
            else
                (l->kind == MLXC_W_F16 ? k->matmul_f16 : k->matmul_bf16)(l->w, l->cols, x, T, y, l->rows, r, r + nr);
            continue;
        }
        const uint16_t *src = (const uint16_t *)(p + r * l->cols * 2); /* f16, bf16 */
        if (l->kind == MLXC_W_QUANT)
            mlxc_dequantize_rows(&l->q, r, nr, tile);
        else if (l->kind == MLXC_W_F16)
            mlxc_f16_to_f32_row(src, tile, (size_t)(nr * l->cols));
        else
            mlxc_bf16_to_f32_row(src, tile, (size_t)(nr * l->cols));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)nr, (int)l->cols, 1.0f, x, (int)l->cols,
                    tile, (int)l->cols, 0.0f, y + r, (int)l->rows);
    }
}

/* Many tokens with quantized weights through dequantized tiles and OpenBLAS instead of the int8 kernels:
 * where OpenBLAS runs its AVX-512 kernels (mlxc_blas_wide_fma). There the integer multiplies issue half
 * as often as FMAs, and on the Llama-3.2-1B shape SGEMM on f32 tiles reached 48% of the FMA peak where
 * the 4-bit kernels reach 27-45% and the 8-bit ones 24-31% (bench/results/llama1b_session4.txt). A
 * fixed rule, not a timing: the same machine always computes the same numbers. */
static int quant_sgemm(const struct linear_job *j) /* once per product: linear_run keeps it in the job */
{
    return j->l->kind == MLXC_W_QUANT && j->T >= SGEMM_MIN_TOKENS && !j->rowwise && mlxc_blas_wide_fma();
}

/* Per-thread room for forward_amx and forward_gemm: 16 rows in f32 (quantized weights) and a panel
 * (bf16 for AMX, f32 for the AVX2 kernels). */
struct panel_scratch {
    float *tile;
    void *panel;
};

/* Many tokens with bf16 or quantized weights on a CPU with AMX (mlxc_amx_usable): the activations are
 * rounded to bf16 once per product, each panel of weight rows to bf16 (quantized ones
 * dequantized first, in f32), the sums are f32. Where MLX itself computes in bf16 (bf16 and quantized
 * models), this keeps f32 sums; f16 weights stay on SGEMM (bf16 has 3 mantissa bits fewer), f32 too.
 * Each output depends only on its row and token (core/matmul_amx.c), whatever the row ranges or T. */
static int amx_path(const struct linear_job *j)
{
#ifdef MLXC_HAVE_AMX
    return (j->l->kind == MLXC_W_QUANT || j->l->kind == MLXC_W_BF16) && j->T >= SGEMM_MIN_TOKENS && !j->rowwise &&
           mlxc_amx_usable();
#else
    (void)j;
    return 0;
#endif
}

/* Many tokens on a CPU with AVX2 and FMA whose OpenBLAS has no AVX-512 kernels (AMD Zen 1-3, Intel
 * client cores): weights as f32 panels through core/gemm_avx2.c, every kind but affine 4-bit, whose int8
 * kernels outran the panels there (54-65 against 45-49 tok/s). On the lent Xeon with AVX2 only, pp512
 * went 8-bit 38-43 -> 51-58 tok/s (int8 kernels before), bf16 49 -> 52-59 (OpenBLAS, which copied the
 * activations on every 64-row call; bench/results/llama1b_session6.txt). A fixed rule, not a timing. */
static int gemm_path(const struct linear_job *j)
{
#if defined(__x86_64__)
    const struct mlxc_linear *l = j->l;
    const int aff4 = l->kind == MLXC_W_QUANT && l->q.q.mode == MLXC_Q_AFFINE && l->q.q.bits == 4 &&
                     strcmp(mlxc_quant_isa(), "avx2") == 0;
    return j->T >= SGEMM_MIN_TOKENS && !j->rowwise && !aff4 && strcmp(mlxc_kernels()->isa, "avx2") == 0 &&
           !mlxc_blas_wide_fma();
#else
    (void)j;
    return 0;
#endif
}

#if defined(__x86_64__)
/* Rows [r0, r1) through f32 panels. */
static void forward_gemm(const struct linear_job *j, const struct panel_scratch *s, int64_t r0, int64_t r1)
{
    const struct mlxc_linear *l = j->l;
    for (int64_t r = r0; r < r1; r += MLXC_GEMM_ROWS) {
        const int64_t nr = r1 - r < MLXC_GEMM_ROWS ? r1 - r : MLXC_GEMM_ROWS, npad = mlxc_gemm_npad(nr);
        for (int64_t i = 0; i < nr; i += 16) {
            const int64_t m = nr - i < 16 ? nr - i : 16, row = r + i;
            switch (l->kind) {
            case MLXC_W_F32:
                mlxc_gemm_pack_f32((const float *)l->w + row * l->cols, l->cols, m, l->cols, i, npad, s->panel);
                break;
            case MLXC_W_BF16:
                mlxc_gemm_pack_bf16((const uint16_t *)l->w + row * l->cols, l->cols, m, l->cols, i, npad, s->panel);
                break;
            case MLXC_W_F16:
                mlxc_gemm_pack_f16((const uint16_t *)l->w + row * l->cols, l->cols, m, l->cols, i, npad, s->panel);
                break;
            case MLXC_W_QUANT: /* 16 rows at a time, still in L2 when packed */
                mlxc_dequantize_rows(&l->q, row, m, s->tile);
                mlxc_gemm_pack_f32(s->tile, l->cols, m, l->cols, i, npad, s->panel);
                break;
            }
        }
        mlxc_gemm_rows(j->x, j->T, l->cols, s->panel, nr, j->y + r, l->rows);
    }
}
#endif

#ifdef MLXC_HAVE_AMX
static void forward_amx(const struct linear_job *j, const struct panel_scratch *s, int64_t r0, int64_t r1)
{
    const struct mlxc_linear *l = j->l;
    for (int64_t r = r0; r < r1; r += MLXC_AMX_ROWS) {
        const int64_t nr = r1 - r < MLXC_AMX_ROWS ? r1 - r : MLXC_AMX_ROWS;
        if (l->kind == MLXC_W_BF16)
            mlxc_amx_pack_w_bf16((const uint16_t *)l->w + r * l->cols, 0, nr, l->cols, s->panel);
        else if (!mlxc_amx_pack_w_affine(&l->q, r, nr, s->panel)) /* affine 4 and 8 bits go straight in */
            /* other formats: 16 rows at a time, the f32 rows still in L2 when packed */
            for (int64_t i = 0; i < nr; i += 16) {
                const int64_t m = nr - i < 16 ? nr - i : 16;
                mlxc_dequantize_rows(&l->q, r + i, m, s->tile);
                mlxc_amx_pack_w_f32(s->tile, i, m, l->cols, s->panel);
            }
        mlxc_amx_pad_rows(s->panel, nr, l->cols);
        mlxc_amx_rows(j->xp, j->T, l->cols, s->panel, nr, j->y + r, l->rows);
    }
}
#endif

static void linear_rows(const struct linear_job *j, const struct panel_scratch *s, int64_t r0, int64_t r1)
{
    (void)s; /* without x86-64 */
    const struct mlxc_linear *l = j->l;
    const struct mlxc_kernels *k = mlxc_kernels();
#ifdef MLXC_HAVE_AMX
    if (j->amx && s)
        forward_amx(j, s, r0, r1);
    else
#endif
#if defined(__x86_64__)
    if (j->gemm && s)
        forward_gemm(j, s, r0, r1);
    else
#endif
    if (j->quant_sgemm)
        forward_sgemm(l, j->x, j->T, j->y, r0, r1);
    else if (l->kind == MLXC_W_QUANT && j->prep)
        mlxc_qmatmul_prepared(&l->q, j->prep, j->x, j->T, j->y, l->rows, r0, r1, j->rowwise);
    else if (l->kind == MLXC_W_QUANT)
        (j->rowwise ? mlxc_qmatmul_rows_exact : mlxc_qmatmul_rows)(&l->q, j->x, j->T, j->y, l->rows, r0, r1);
    else if (j->T >= SGEMM_MIN_TOKENS && !j->rowwise)
        forward_sgemm(l, j->x, j->T, j->y, r0, r1);
    else if (l->kind == MLXC_W_F32)
        k->matmul_f32(l->w, l->cols, j->x, j->T, j->y, l->rows, r0, r1);
    else if (l->kind == MLXC_W_F16)
        k->matmul_f16(l->w, l->cols, j->x, j->T, j->y, l->rows, r0, r1);
    else
        k->matmul_bf16(l->w, l->cols, j->x, j->T, j->y, l->rows, r0, r1);
    if (l->bias)
        for (int64_t t = 0; t < j->T; t++)
            for (int64_t r = r0; r < r1; r++)
                j->y[t * l->rows + r] += l->bias[r];
}

/* This thread's room for the panel paths, or NULL without memory (the caller falls back to the others). */
static struct panel_scratch *panel_scratch_get(const struct linear_job *j, struct panel_scratch *s)
{
    const size_t panel_bytes = j->gemm ? mlxc_gemm_panel_elems(j->l->cols) * sizeof(float)
                                       : mlxc_amx_panel_elems(j->l->cols) * sizeof(uint16_t);
    s->tile = j->l->kind == MLXC_W_QUANT
                  ? mlxc_thread_scratch(MLXC_SCRATCH_TILE, (size_t)16 * (size_t)j->l->cols * sizeof(float))
                  : NULL;
    s->panel = mlxc_thread_scratch(MLXC_SCRATCH_PANEL, panel_bytes);
    return s->panel && (s->tile || j->l->kind != MLXC_W_QUANT) ? s : NULL;
}

static void linear_task(void *ctx, int tid, int nth)
{
    struct linear_job *j = ctx;
    const int64_t rows = j->l->rows;
    if (j->quantize) {
        int64_t t0, t1;
        mlxc_split_range(j->T, tid, nth, 1, &t0, &t1);
        mlxc_qmatmul_prepare_tokens(j->prep, j->x, t0, t1);
        return;
    }
#ifdef MLXC_HAVE_AMX
    if (j->pack) {
        int64_t b0, b1;
        mlxc_split_range(mlxc_amx_tp(j->T) / 16, tid, nth, 1, &b0, &b1);
        mlxc_amx_pack_x(j->x, j->T, j->l->cols, b0, b1, j->xp);
        return;
    }
#endif
    struct panel_scratch room, *s = j->amx || j->gemm ? panel_scratch_get(j, &room) : NULL;
    if (j->chunk > 0) {
        int64_t r0;
        while ((r0 = atomic_fetch_add_explicit(&j->next, j->chunk, memory_order_relaxed)) < rows)
            linear_rows(j, s, r0, r0 + j->chunk < rows ? r0 + j->chunk : rows);
    } else {
        int64_t r0, r1;
        mlxc_split_range(rows, tid, nth, MLXC_SGEMM_TILE, &r0, &r1); /* forward_sgemm's tiles */
        if (r0 < r1)
            linear_rows(j, s, r0, r1);
    }
}

/* Rows in chunks of about an eighth of a thread's share, taken by whichever thread is free, so that a
 * thread the system delays holds the others back by one chunk at most. Quantized weights: the
 * activations are prepared (quantized) once for all chunks, by the caller for few tokens (decode), by
 * every thread for a share of many (prefill). AMX: the activations are packed once, by every thread for
 * a share of the tokens, and the rows go in chunks of one panel. Float weights with many tokens, or
 * activations the kernels cannot prepare: one range per thread. */
static void linear_run(struct linear_job *j, struct mlxc_pool *pool)
{
    const int nth = mlxc_pool_size(pool);
    const int few = j->T <= DYNAMIC_MAX_TOKENS;
    j->amx = amx_path(j) && (j->xp = mlxc_thread_scratch(MLXC_SCRATCH_ACT, mlxc_amx_x_words(j->T, j->l->cols) * sizeof(uint32_t)));
    j->gemm = !j->amx && gemm_path(j);
    j->quant_sgemm = !j->amx && !j->gemm && quant_sgemm(j);
    if (j->gemm) {
        j->chunk = MLXC_GEMM_ROWS;
    } else if (j->amx) {
        j->pack = 1;
        mlxc_pool_run(pool, linear_task, j);
        j->pack = 0;
        j->chunk = MLXC_AMX_ROWS;
    } else if (nth > 1 && j->l->kind == MLXC_W_QUANT && !j->quant_sgemm) {
        if (few) {
            j->prep = mlxc_qmatmul_prepare(&j->l->q, j->x, j->T);
        } else if ((j->prep = mlxc_qmatmul_prepare_alloc(&j->l->q, j->T))) {
            j->quantize = 1;
            mlxc_pool_run(pool, linear_task, j);
            j->quantize = 0;
        }
    }
    if (nth > 1 && (few || j->prep)) {
        int64_t c = j->l->rows / ((int64_t)nth * 8);
        c = c < 64 ? 64 : (c + 15) / 16 * 16;
        j->chunk = c;
    }
    atomic_init(&j->next, 0);
    mlxc_pool_run(pool, linear_task, j);
    mlxc_qmatmul_release(j->prep);
}

const char *mlxc_linear_prefill_kernel(const struct mlxc_linear *l)
{
    const struct linear_job j = {.l = l, .T = SGEMM_MIN_TOKENS};
    if (amx_path(&j))
        return "amx-bf16";
    if (gemm_path(&j))
        return "f32-avx2";
    if (l->kind != MLXC_W_QUANT || quant_sgemm(&j))
        return "sgemm";
    return strcmp(mlxc_quant_isa(), "ref") == 0 ? "int8-ref" : "int8-avx2";
}

void mlxc_linear_forward(const struct mlxc_linear *l, const float *x, int64_t T, float *y, struct mlxc_pool *pool)
{
    struct linear_job j = {.l = l, .x = x, .T = T, .y = y};
    linear_run(&j, pool);
}

/* The float row kernels loop over tokens inside each block of 4 weight rows, with one accumulator set
 * per (row, token): a token's sums do not depend on the others. */
void mlxc_linear_forward_rowwise(const struct mlxc_linear *l, const float *x, int64_t T, float *y,
                                 struct mlxc_pool *pool)
{
    struct linear_job j = {.l = l, .x = x, .T = T, .y = y, .rowwise = 1};
    linear_run(&j, pool);
}

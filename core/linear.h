/* A linear layer y = x W^T + b whose weight W (out, in) stays where the file put it: f32, f16 or bf16
 * straight from the mapping, or MLX-quantized (quant/quant.h). Only the small bias is copied (to f32). */
#ifndef MLXC_LINEAR_H
#define MLXC_LINEAR_H

#include <stdint.h>

#include "core/err.h"
#include "core/pool.h"
#include "core/weights.h"
#include "quant/quant.h"

enum mlxc_wkind { MLXC_W_F32, MLXC_W_F16, MLXC_W_BF16, MLXC_W_QUANT };

/* Float weights with many tokens go to OpenBLAS in stretches of this many rows at its multiples (rows
 * converted to f32 per call: 2 MB a thread at 8,192 columns); row ranges handed to threads and to grouped
 * prefill start at one. */
enum { MLXC_SGEMM_TILE = 64 };

struct mlxc_linear {
    enum mlxc_wkind kind;
    int64_t rows, cols;     /* out, in */
    const void *w;          /* float kinds: (rows, cols) row-major, possibly unaligned */
    struct mlxc_qmatrix q;  /* MLXC_W_QUANT */
    float *bias;            /* (rows) owned, or NULL */
};

/* Loads "<path>.weight" (and .scales/.biases when quantized, and "<path>.bias" when want_bias) and
 * checks it is (rows, cols). A quantized layer is recognised by its .scales tensor; its params come from
 * the config (per-layer entry or top level). */
struct mlxc_config;
int mlxc_linear_load(struct mlxc_linear *l, const struct mlxc_weights *w, const struct mlxc_config *cfg,
                     const char *path, int64_t rows, int64_t cols, int want_bias, struct mlxc_err *e);
void mlxc_linear_free(struct mlxc_linear *l);

/* y (T, rows) = x (T, cols) W^T + b, split across the pool's threads by output rows. */
void mlxc_linear_forward(const struct mlxc_linear *l, const float *x, int64_t T, float *y, struct mlxc_pool *pool);

/* The same product with each of the T output rows bitwise equal to what T = 1 gives for that row
 * (batched decode: a request's result must not depend on the rest of the batch). Float weights always
 * take the row kernels (never OpenBLAS), quantized ones mlxc_qmatmul_rows_exact. */
void mlxc_linear_forward_rowwise(const struct mlxc_linear *l, const float *x, int64_t T, float *y,
                                 struct mlxc_pool *pool);

/* Which kernels take l's products with many tokens (prefill) on this machine: "amx-bf16" (AMX tiles),
 * "f32-avx2" (f32 panels, core/gemm.h), "sgemm" (OpenBLAS on f32 tiles), or "int8-avx2" / "int8-ref"
 * (quantized weights, int8 activations).
 * After mlxc_blas_setup (a model open does it). */
const char *mlxc_linear_prefill_kernel(const struct mlxc_linear *l);

/* Row `row` of W (an embedding lookup) as f32 into out (cols). */
void mlxc_linear_row(const struct mlxc_linear *l, int64_t row, float *out);

/* Loads a 1-D float tensor of n elements (norm weights, biases) into a new f32 array. */
float *mlxc_load_vector(const struct mlxc_weights *w, const char *name, int64_t n, struct mlxc_err *e);

/* Bytes of W (and scales/biases) read per full forward of one token. */
uint64_t mlxc_linear_nbytes(const struct mlxc_linear *l);

#endif

/* MLX quantization formats (../shared/reference/mlx-lm-facts.md §3) and the kernels that read them.
 *
 * A quantized matrix W of shape (rows, cols) is stored as MLX stores a QuantizedLinear:
 *   packed  uint32 (rows, cols*bits/32)  each row an LSB-first bit stream of `bits`-wide codes
 *   scales  (rows, cols/group_size)      affine: source dtype (F32/F16/BF16); mx/nv fp modes: U8
 *   biases  (rows, cols/group_size)      affine only, same dtype as scales
 * Affine:  w = scale * q + bias per group.   mxfp4/nvfp4/mxfp8: w = element * decoded scale.
 *
 * Pointers may be unaligned (they point into mmapped safetensors files). */
#ifndef MLXC_QUANT_H
#define MLXC_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "core/dtype.h"
#include "core/err.h"

enum mlxc_qmode { MLXC_Q_AFFINE, MLXC_Q_MXFP4, MLXC_Q_NVFP4, MLXC_Q_MXFP8 };

struct mlxc_qparams {
    enum mlxc_qmode mode;
    int bits;        /* affine: 2,3,4,5,6,8; mxfp4/nvfp4: 4; mxfp8: 8 */
    int group_size;  /* affine: 32,64,128; mxfp4/mxfp8: 32; nvfp4: 16 */
};

struct mlxc_qmatrix {
    struct mlxc_qparams q;
    int64_t rows, cols;
    const void *packed;           /* rows * cols*bits/32 uint32 words */
    const void *scales;           /* rows * cols/group_size, scale_dtype */
    const void *biases;           /* affine only; NULL otherwise */
    enum mlxc_dtype scale_dtype;  /* F32/F16/BF16 (affine) or U8 (fp modes) */
};

/* "affine", "mxfp4", ...; parse returns -1 for an unknown name. */
const char *mlxc_qmode_name(enum mlxc_qmode m);
int mlxc_qmode_parse(const char *s, enum mlxc_qmode *m);
/* The mode's default (group_size, bits) as mlx_lm's quantize_model uses them. */
struct mlxc_qparams mlxc_qparams_default(enum mlxc_qmode m);
/* Checks a (mode, bits, group_size) combination; the message says what is supported. */
int mlxc_qparams_check(struct mlxc_qparams q, struct mlxc_err *e);

/* Quantizes w (rows, cols) float32 row-major into the MLX layout, bit-exact with MLX's CPU algorithm.
 * out_dtype is the source dtype (F32, F16 or BF16), and w holds the source values converted to f32:
 * affine scales/biases are stored in it, and the fp modes round their scale arithmetic to it as MLX does
 * (quant/fp.c), so a bf16 checkpoint quantizes exactly as MLX quantizes the bf16 array.
 * packed needs rows*cols*bits/8 bytes, scales and biases rows*cols/group_size elements (fp scales: U8).
 * Refuses non-finite weights. */
int mlxc_quantize(const float *w, int64_t rows, int64_t cols, struct mlxc_qparams q, enum mlxc_dtype out_dtype,
                  void *packed, void *scales, void *biases, struct mlxc_err *e);

/* Checks a quantized matrix's description: parameters, cols a multiple of the group size, scale dtype
 * (F32/F16/BF16 for affine, U8 otherwise), biases present for affine only. The kernels below assume it
 * passed. */
int mlxc_qmatrix_check(const struct mlxc_qmatrix *m, struct mlxc_err *e);

/* out (nrows, cols) = dequantized rows [row0, row0+nrows) of m, in float32, exactly:
 * affine w = fl(fl(scale * q) + bias) (MLX multiplies, then adds); fp modes w = element * scale (exact).
 * E4M3 code 0x7F decodes as 480 (MLX's Metal decoding; see quant/qformat.h). */
void mlxc_dequantize_rows(const struct mlxc_qmatrix *m, int64_t row0, int64_t nrows, float *out);

/* y[t, r] = sum_k W[r, k] * x[t, k]  for tokens t < n and rows r in [row0, row1).
 * x is (n, cols) row-major; y has row stride ldy (>= m->rows). The caller splits rows across threads.
 * Never dequantizes the matrix: decode (n = 1) reads every packed weight once. The AVX2 kernels for
 * affine (every width), mxfp4 and nvfp4 round x to int8 per block of 8 columns (like llama.cpp's Q8
 * activations, with the block scales themselves as 15-bit multiples of one scale per token:
 * quant/qact_avx2.h) and use integer dot products; they compute sum_k W[r, k] * xhat[t, k] up to f32
 * summation, with |x_k - xhat_k| <= max|x over k's block| / 254 + max|x_t| / 65534, so |y - y_f32| <=
 * sum_k |W[r, k]| * |x_k - xhat_k| (plus summation). The normalized mean square error against the f32
 * result is about 1e-5 for Gaussian activations and stays below 3e-4 with outliers
 * (tests/quant/test_qkernels.c). The reference and the mxfp8 kernel keep x in f32. */
void mlxc_qmatmul_rows(const struct mlxc_qmatrix *m, const float *x, int64_t n, float *y, int64_t ldy,
                       int64_t row0, int64_t row1);
/* Like mlxc_qmatmul_rows, with each token's output row bitwise equal to what n = 1 gives for that token
 * (batched decode must not depend on what else is in the batch). The weights are still read once per
 * block of rows for all n tokens. Affine 4/8-bit (AVX2) are exact in every case; other formats use
 * passes of at most two tokens, which compute like one. */
void mlxc_qmatmul_rows_exact(const struct mlxc_qmatrix *m, const float *x, int64_t n, float *y, int64_t ldy,
                             int64_t row0, int64_t row1);

/* The activations x (n, cols) prepared (quantized) once for several calls over row ranges of m, as
 * threads taking chunks of rows in decode make them; NULL when the kernels in use prepare nothing (then
 * call mlxc_qmatmul_rows / _exact). mlxc_qmatmul_prepared gives bitwise what those give for the same rows
 * (exact: what mlxc_qmatmul_rows_exact gives); m must be the matrix prepare was given (or one of the same
 * format and columns), x the same activations. The preparation lives in the calling thread's scratch
 * (core/sys.h), so a thread holds one at a time: it stays valid, for every thread to read, until the
 * same thread prepares again. */
void *mlxc_qmatmul_prepare(const struct mlxc_qmatrix *m, const float *x, int64_t n);
/* The same in two steps, for threads that quantize parts of x in parallel: room for n tokens (NULL as
 * above, or for more tokens than the kernels prepare at once), then tokens [t0, t1) of x (n, cols); every
 * token must be done before the first mlxc_qmatmul_prepared. */
void *mlxc_qmatmul_prepare_alloc(const struct mlxc_qmatrix *m, int64_t n);
void mlxc_qmatmul_prepare_tokens(void *prep, const float *x, int64_t t0, int64_t t1);
void mlxc_qmatmul_prepared(const struct mlxc_qmatrix *m, const void *prep, const float *x, int64_t n, float *y,
                           int64_t ldy, int64_t row0, int64_t row1, int exact);
void mlxc_qmatmul_release(void *prep); /* the end of a preparation's use (nothing to free today) */

/* The kernel set chosen at first use: "avx2" when the CPU has AVX2, FMA and F16C, else "ref".
 * The environment variable MLXC_ISA=ref|avx2 overrides the choice (an unavailable one falls back to ref). */
const char *mlxc_quant_isa(void);

#endif

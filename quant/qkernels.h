/* Internal to quant/ and its tests: one table of quantized kernels per ISA (docs: style.md §5.3).
 *
 *   qmatmul_ref.c   plain C, every mode and width; the specification the others are tested against
 *   qmatmul_avx2.c  AVX2 + FMA + F16C (own static library, own flags); formats it lacks go to ref
 *
 * qdispatch.c picks one table at first use from the CPU's features, or from MLXC_ISA=ref|avx2. */
#ifndef MLXC_QKERNELS_H
#define MLXC_QKERNELS_H

#include "quant/quant.h"

struct mlxc_qkernels {
    const char *name; /* "ref", "avx2" */
    /* 1 if this table has its own kernel for m's format; else callers use the reference. */
    int (*has)(const struct mlxc_qmatrix *m);
    /* Same contracts as mlxc_qmatmul_rows and mlxc_dequantize_rows (quant.h). */
    void (*qmatmul_rows)(const struct mlxc_qmatrix *m, const float *x, int64_t n, float *y, int64_t ldy,
                         int64_t row0, int64_t row1);
    /* Same, but each token's output row is bitwise what a call with that token alone gives
     * (mlxc_qmatmul_rows_exact). */
    void (*qmatmul_rows_exact)(const struct mlxc_qmatrix *m, const float *x, int64_t n, float *y, int64_t ldy,
                               int64_t row0, int64_t row1);
    void (*dequantize_rows)(const struct mlxc_qmatrix *m, int64_t row0, int64_t nrows, float *out);
    /* mlxc_qmatmul_prepare_alloc and friends; NULL prepare_alloc: nothing to prepare. */
    void *(*prepare_alloc)(const struct mlxc_qmatrix *m, int64_t n);
    void (*prepare_tokens)(void *prep, const float *x, int64_t t0, int64_t t1);
    void (*qmatmul_prepared)(const struct mlxc_qmatrix *m, const void *prep, const float *x, int64_t n, float *y,
                             int64_t ldy, int64_t row0, int64_t row1, int exact);
    void (*release)(void *prep);
};

extern const struct mlxc_qkernels mlxc_qkernels_ref;
#if defined(__x86_64__)
extern const struct mlxc_qkernels mlxc_qkernels_avx2;
#endif

/* The table named name ("ref", "avx2") if it is compiled in and the CPU can run it; else NULL. */
const struct mlxc_qkernels *mlxc_qkernels_get(const char *name);
/* The table in use (chosen once, thread-safe). */
const struct mlxc_qkernels *mlxc_qkernels_active(void);

#endif

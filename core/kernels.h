/* Float kernels behind one dispatch table, filled once from the CPU's features:
 * kernels_ref.c (plain C, the spec, always built) and kernels_avx2.c (AVX2+FMA+F16C, its own static
 * library built with those flags). MLXC_ISA=ref forces the reference (tests compare the two). */
#ifndef MLXC_KERNELS_H
#define MLXC_KERNELS_H

#include <stdint.h>

/* y[t*ldy + r] = sum_k W[r, k] * x[t*cols + k]  for rows r in [r0, r1) and tokens t < n.
 * W is (rows, cols) row-major in the kernel's dtype, possibly unaligned. Accumulation in f32. */
typedef void (*mlxc_matmul_fn)(const void *w, int64_t cols, const float *x, int64_t n, float *y, int64_t ldy,
                               int64_t r0, int64_t r1);

struct mlxc_kernels {
    const char *isa;            /* "ref", "avx2" */
    mlxc_matmul_fn matmul_f32, matmul_f16, matmul_bf16;
    float (*dot)(const float *a, const float *b, int64_t n);        /* sum a[i] b[i] */
    void (*axpy)(float a, const float *x, float *y, int64_t n);     /* y += a x */
};

/* The table for this CPU (or for $MLXC_ISA). */
const struct mlxc_kernels *mlxc_kernels(void);
/* A specific table by name ("ref", "avx2"), or NULL when this CPU or build lacks it. */
const struct mlxc_kernels *mlxc_kernels_named(const char *isa);

extern const struct mlxc_kernels mlxc_kernels_ref;
#if defined(__x86_64__)
extern const struct mlxc_kernels mlxc_kernels_avx2;
#endif

#endif

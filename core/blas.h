/* OpenBLAS set-up for the library's SGEMM calls (float prefill: core/linear.c). */
#ifndef MLXC_BLAS_H
#define MLXC_BLAS_H

/* One OpenBLAS thread per call (the library's pool splits the work), and, once per process, kernels
 * for this CPU when OpenBLAS's own detection fell back to old ones (blas.c says when). Call before
 * the first SGEMM, from one thread. */
void mlxc_blas_setup(void);

/* 1 when OpenBLAS runs its AVX-512 kernels (SkylakeX, Cooperlake, Sapphirerapids): core/linear.c then
 * prefills quantized weights through dequantized tiles and SGEMM. After mlxc_blas_setup. */
int mlxc_blas_wide_fma(void);

/* The OpenBLAS core type in use ("Haswell", "SkylakeX", ...). */
const char *mlxc_blas_core(void);

#endif

/* Prefill products on AVX2 + FMA (core/gemm_avx2.c): y[t, r] = sum_k x[t, k] w[r, k] with the weights
 * converted to f32 once per product, a panel of up to MLXC_GEMM_ROWS rows at a time, and read by a
 * register-blocked kernel of 6 tokens x 16 rows. Where no AMX tiles are (AMD Zen, older Intel), this is
 * the prefill path of every weight kind: on OpenBLAS, 64-row stretches re-packed the activations for each
 * call; here they are read in place.
 *
 * Each output is one chain of multiply-adds in k order, acc = fmaf(x[t, k], w[r, k], acc) from 0: the
 * value of the plain loop over the f32 weights, whatever T, the panel or the thread (grouped prefill
 * gives each request its own run's bits).
 *
 * Panel layout, for npad = n rounded up to 16 (zero rows past n): blocks of MLXC_GEMM_KC columns (the
 * last one shorter), each holding its npad / 16 slivers of 16 rows column by column: within a block of kb
 * columns starting at k0, sliver s is kb rows of 16 floats, row k holding w[16 s + i, k0 + k], i < 16. */
#ifndef MLXC_GEMM_H
#define MLXC_GEMM_H

#include <stddef.h>
#include <stdint.h>

enum {
    MLXC_GEMM_ROWS = 64, /* rows per panel */
    MLXC_GEMM_KC = 256,  /* columns per block: 6 tokens of it (6 KB) stay in L1, the panel's block (64 KB) in L2 */
};

/* Rows of a panel of n rows as stored: n rounded up to a sliver (16). */
static inline int64_t mlxc_gemm_npad(int64_t n) { return (n + 15) / 16 * 16; }

/* A panel's size in floats for `cols` columns. */
static inline size_t mlxc_gemm_panel_elems(int64_t cols) { return (size_t)MLXC_GEMM_ROWS * (size_t)cols; }

/* n rows (n <= 16) of f32 weights w (row i at w + i * ldw) into panel rows r0 .. r0 + 15 (r0 a multiple
 * of 16) of a panel of npad rows; rows n .. 15 of the sliver become zeros. */
void mlxc_gemm_pack_f32(const float *w, int64_t ldw, int64_t n, int64_t cols, int64_t r0, int64_t npad, float *panel);
/* The same from bf16 or f16 rows (exact conversions). */
void mlxc_gemm_pack_bf16(const uint16_t *w, int64_t ldw, int64_t n, int64_t cols, int64_t r0, int64_t npad,
                         float *panel);
void mlxc_gemm_pack_f16(const uint16_t *w, int64_t ldw, int64_t n, int64_t cols, int64_t r0, int64_t npad,
                        float *panel);

/* y[t * ldy + r] = sum_k x[t * cols + k] panel[r, k] for t < T, r < n (the panel's rows, n <= MLXC_GEMM_ROWS). */
void mlxc_gemm_rows(const float *x, int64_t T, int64_t cols, const float *panel, int64_t n, float *y, int64_t ldy);

#endif

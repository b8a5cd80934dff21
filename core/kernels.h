/* Float kernels behind one dispatch table, filled once from the CPU's features:
 * kernels_ref.c (plain C, the spec, always built) and kernels_avx2.c (AVX2+FMA+F16C, its own static
 * library built with those flags). MLXC_ISA=ref forces the reference (tests compare the two). */
#ifndef MLXC_KERNELS_H
#define MLXC_KERNELS_H

#include <stdint.h>

#include "core/dtype.h"

/* y[t*ldy + r] = sum_k W[r, k] * x[t*cols + k]  for rows r in [r0, r1) and tokens t < n.
 * W is (rows, cols) row-major in the kernel's dtype, possibly unaligned. Accumulation in f32. */
typedef void (*mlxc_matmul_fn)(const void *w, int64_t cols, const float *x, int64_t n, float *y, int64_t ldy,
                               int64_t r0, int64_t r1);

/* Affine-quantized cache rows (cache/kv.h's quantized storage, MLX packing): row p's kv head h is hd codes
 * of `bits` bits at byte codes + p*codes_ld + h*hd*bits/8, with a scale and a bias per group of gs codes
 * at element p*sb_ld + h*hd/gs + g of scales and biases (dtype sdt: F32, F16 or BF16);
 * value = scale * code + bias. */
struct mlxc_qkv_rows {
    const void *codes, *scales, *biases;
    size_t codes_ld;
    int64_t sb_ld;
    int bits, gs;
    enum mlxc_dtype sdt;
};

struct mlxc_kernels {
    const char *isa;            /* "ref", "avx2" */
    mlxc_matmul_fn matmul_f32, matmul_f16, matmul_bf16;
    float (*dot)(const float *a, const float *b, int64_t n);        /* sum a[i] b[i] */
    void (*axpy)(float a, const float *x, float *y, int64_t n);     /* y += a x */
    float (*max)(const float *x, int64_t n);                        /* max x[i] (-inf for n = 0) */
    /* sum_i exp(x[i] - m), storing the terms into y unless y is NULL (y may be x) */
    float (*exp_sum)(float *y, const float *x, int64_t n, float m);
    /* gate[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g)); each element alike wherever it lies
     * (no separate tail path), so any split of the array gives the same values */
    void (*swiglu)(float *gate, const float *up, int64_t n);
    /* The machine's f32 multiply-add rate as these kernels can use it (mlxc-bench's yardstick for
     * prefill): n rounds of FMA_PROBE_FLOPS / 2 independent multiply-adds; returns a value that depends
     * on all of them. */
    float (*fma_probe)(int64_t n);
    /* Attention over n cached rows, row p at kv + p*ld elements of dtype dt (F32, F16 or BF16), for nq
     * queries of head_dim hd (q: (nq, hd) contiguous) in runs of `group` that share a kv head (nq a
     * multiple of group): query i reads the hd elements at (i / group) * hd of each row,
     *   att_scores: s[i*lds + p] = scale * sum_d q[i*hd + d] * k_p[(i / group)*hd + d]
     *   att_values: out[i*hd + d] = sum_p w[i*lds + p] * v_p[(i / group)*hd + d]   (out overwritten)
     * Decode passes every kv head of a slot-major cache at once (group = the GQA group); prefill one kv
     * head with its tokens x query heads (group = nq). */
    void (*att_scores)(const void *k, enum mlxc_dtype dt, int64_t ld, int64_t n, const float *q, int nq, int group,
                       int hd, float scale, float *s, int64_t lds);
    void (*att_values)(const void *v, enum mlxc_dtype dt, int64_t ld, int64_t n, const float *w, int nq, int group,
                       int64_t lds, int hd, float *out);
    /* Decode's partials over n cached rows (flash-decoding; rows as for att_scores and att_values), per
     * query i, with s_p = cap(scale * q_i . k_p), cap(x) = tanh(x / softcap) * softcap (x if softcap is 0):
     *   m[i] = max_p s_p,  l[i] = sum_p exp(s_p - m[i]),
     *   out[i*hd + d] = sum_p exp(s_p - m[i]) v_p[(i / group)*hd + d]
     * scratch: nq * n floats the kernel may use. */
    void (*att_decode)(const void *k, const void *v, enum mlxc_dtype dt, int64_t ld, int64_t n, const float *q,
                       int nq, int group, int hd, float scale, float softcap, float *scratch, float *m, float *l,
                       float *out);
    /* The same two over quantized rows (decode on a quantized cache). The reference dequantizes each
     * value as MLX does, fl(fl(scale * code) + bias); the others may sum per group in MLX
     * quantized_matmul's form, scale * sum(x * code) + bias * sum(x), and round the queries (see
     * kernels_attq_avx2.c). */
    void (*att_scores_q)(const struct mlxc_qkv_rows *k, int64_t n, const float *q, int nq, int group, int hd,
                         float scale, float *s, int64_t lds);
    void (*att_values_q)(const struct mlxc_qkv_rows *v, int64_t n, const float *w, int nq, int group, int64_t lds,
                         int hd, float *out);
    /* att_decode over quantized rows (scores and values as att_scores_q and att_values_q; the AVX2 one
     * also rounds the weights to int16 per block of rows, see kernels_attq_decode_avx2.c). */
    void (*att_decode_q)(const struct mlxc_qkv_rows *k, const struct mlxc_qkv_rows *v, int64_t n, const float *q,
                         int nq, int group, int hd, float scale, float softcap, float *scratch, float *m, float *l,
                         float *out);
};

enum { FMA_PROBE_FLOPS = 12 * 8 * 2 }; /* per round: 12 chains of 8 lanes, a multiply and an add each */

/* att_decode from a table's att_scores, max, exp_sum and att_values: the scores of every row into scratch,
 * then the weights, then the values (two passes over the rows). */
void mlxc_att_decode_two_pass(const struct mlxc_kernels *k, const void *kr, const void *vr, enum mlxc_dtype dt,
                              int64_t ld, int64_t n, const float *q, int nq, int group, int hd, float scale,
                              float softcap, float *scratch, float *m, float *l, float *out);
/* att_decode_q the same way, from att_scores_q, max, exp_sum and att_values_q. */
void mlxc_att_decode_q_two_pass(const struct mlxc_kernels *k, const struct mlxc_qkv_rows *kr,
                                const struct mlxc_qkv_rows *vr, int64_t n, const float *q, int nq, int group, int hd,
                                float scale, float softcap, float *scratch, float *m, float *l, float *out);

/* The table for this CPU (or for $MLXC_ISA). */
const struct mlxc_kernels *mlxc_kernels(void);
/* A specific table by name ("ref", "avx2"), or NULL when this CPU or build lacks it. */
const struct mlxc_kernels *mlxc_kernels_named(const char *isa);

extern const struct mlxc_kernels mlxc_kernels_ref;
#if defined(__x86_64__)
extern const struct mlxc_kernels mlxc_kernels_avx2;
/* its attention kernels (kernels_att_avx2.c) */
void mlxc_att_scores_avx2(const void *k, enum mlxc_dtype dt, int64_t ld, int64_t n, const float *q, int nq,
                          int group, int hd, float scale, float *s, int64_t lds);
void mlxc_att_decode_avx2(const void *k, const void *v, enum mlxc_dtype dt, int64_t ld, int64_t n, const float *q,
                          int nq, int group, int hd, float scale, float softcap, float *scratch, float *m, float *l,
                          float *out);
void mlxc_att_values_avx2(const void *v, enum mlxc_dtype dt, int64_t ld, int64_t n, const float *w, int nq,
                          int group, int64_t lds, int hd, float *out);
/* and over quantized rows (kernels_attq_avx2.c) */
void mlxc_att_scores_q_avx2(const struct mlxc_qkv_rows *k, int64_t n, const float *q, int nq, int group, int hd,
                            float scale, float *s, int64_t lds);
void mlxc_att_values_q_avx2(const struct mlxc_qkv_rows *v, int64_t n, const float *w, int nq, int group,
                            int64_t lds, int hd, float *out);
void mlxc_att_decode_q_avx2(const struct mlxc_qkv_rows *k, const struct mlxc_qkv_rows *v, int64_t n, const float *q,
                            int nq, int group, int hd, float scale, float softcap, float *scratch, float *m, float *l,
                            float *out);
#endif

#endif

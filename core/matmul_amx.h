/* Products through Intel AMX tiles (Xeon Sapphire Rapids and later): y[t, r] = sum_k x[t, k] w[r, k]
 * with x and w rounded to bf16 and the sums in f32 (TDPBF16PS), for prefill with bf16 or quantized
 * weights (core/linear.c). One TDPBF16PS does 16 x 16 x 32 multiply-adds: on such a machine about ten
 * times what AVX-512 FMAs do on f32.
 *
 * Layouts, with kp = cols rounded up to 32 (zeros past cols):
 *   activations: blocks of 16 tokens, each kp/2 rows of 16 uint32, row i holding for every token the
 *                bf16 pair (x[t, 2i], x[t, 2i+1]) (low, high half): a tile B of 32 k x 16 tokens is 16
 *                consecutive rows. Tokens past T are zeros, up to a multiple of 32.
 *   weights:     a panel of up to MLXC_AMX_ROWS rows in bf16, tile by tile (matmul_amx.c),
 *                zero rows up to a multiple of 32. */
#ifndef MLXC_MATMUL_AMX_H
#define MLXC_MATMUL_AMX_H

#include <stddef.h>
#include <stdint.h>

/* Rows per panel. Taller ones read the activations fewer times, but 256 rows were no faster end to end
 * (Llama-3.2-1B shape, pp512, on the lent Xeon: 248-277 tok/s against 268-294 with 64). */
enum { MLXC_AMX_ROWS = 64 };

/* 1 when the library has the AMX kernels, the CPU has AMX-BF16 and AVX512-BF16, the kernel lets this
 * process use the tile registers (asked once), and $MLXC_ISA is unset (MLXC_ISA=avx2 or ref keeps to
 * those kernels). Thread-safe. */
int mlxc_amx_usable(void);

static inline int64_t mlxc_amx_kp(int64_t cols) { return (cols + 31) / 32 * 32; }
/* Tokens rounded up to a multiple of 32, and the activations' size in uint32 for T tokens. */
static inline int64_t mlxc_amx_tp(int64_t T) { return (T + 31) / 32 * 32; }
static inline size_t mlxc_amx_x_words(int64_t T, int64_t cols)
{
    return (size_t)mlxc_amx_tp(T) * (size_t)mlxc_amx_kp(cols) / 2;
}
/* A panel's size in uint16. */
static inline size_t mlxc_amx_panel_elems(int64_t cols) { return (size_t)MLXC_AMX_ROWS * (size_t)mlxc_amx_kp(cols); }

/* The token blocks [b0, b1) (16 tokens each, up to mlxc_amx_tp(T) / 16) of x (T, cols) into xp. */
void mlxc_amx_pack_x(const float *x, int64_t T, int64_t cols, int64_t b0, int64_t b1, uint32_t *xp);
/* The n rows of w (n, cols), f32 or bf16, into rows r0 .. r0 + n - 1 of a panel (r0 a multiple of 16,
 * r0 + n <= MLXC_AMX_ROWS); then mlxc_amx_pad_rows with the panel's row count zeroes the rows up to a
 * multiple of 32. */
void mlxc_amx_pack_w_f32(const float *w, int64_t r0, int64_t n, int64_t cols, uint16_t *panel);
void mlxc_amx_pack_w_bf16(const uint16_t *w, int64_t r0, int64_t n, int64_t cols, uint16_t *panel);
void mlxc_amx_pad_rows(uint16_t *panel, int64_t n, int64_t cols);
/* Rows [row0, row0 + n) of affine 4- or 8-bit weights (group size a multiple of 32) dequantized straight
 * into panel rows 0 .. n - 1: the values mlxc_dequantize_rows gives (scale * q, then + bias, in f32),
 * packed as mlxc_amx_pack_w_f32 packs them. 0 for other formats (the caller dequantizes first). */
struct mlxc_qmatrix;
int mlxc_amx_pack_w_affine(const struct mlxc_qmatrix *m, int64_t row0, int64_t n, uint16_t *panel);

/* y[t * ldy + r] = sum_k x[t, k] panel[r, k] for t < T, r < n (the panel's rows). */
void mlxc_amx_rows(const uint32_t *xp, int64_t T, int64_t cols, const uint16_t *panel, int64_t n, float *y,
                   int64_t ldy);

/* Attention on a bf16 KV cache (core/attention.c, prefill): the contracts of the kernel table's att_scores
 * and att_values (core/kernels.h) for BF16 rows, with q and w rounded to bf16 and f32 sums, for head
 * sizes hd that are multiples of 32. `scratch` holds mlxc_amx_att_scratch(n, nq, hd) bytes (64-aligned).
 *   scores: s[i * lds + p] = scale * sum_d q[i * hd + d] k_p[d]         (k_p at k + p * ld)
 *   values: out[i * hd + d] = sum_p w[i * lds + p] v_p[d]                (out overwritten)
 * An output depends only on its query and on the keys' positions counted from k (v): the same alone or
 * among other queries. */
#ifdef MLXC_HAVE_AMX
size_t mlxc_amx_att_scratch(int64_t n, int nq, int hd);
void mlxc_amx_att_scores(const uint16_t *k, int64_t ld, int64_t n, const float *q, int nq, int hd, float scale,
                         float *s, int64_t lds, void *scratch);
void mlxc_amx_att_values(const uint16_t *v, int64_t ld, int64_t n, const float *w, int nq, int64_t lds, int hd,
                         float *out, void *scratch);
#else /* a compiler without the AMX flags: mlxc_amx_usable() is 0, so the callers never reach these */
static inline size_t mlxc_amx_att_scratch(int64_t n, int nq, int hd) { return (void)n, (void)nq, (void)hd, 0; }
static inline void mlxc_amx_att_scores(const uint16_t *k, int64_t ld, int64_t n, const float *q, int nq, int hd,
                                       float scale, float *s, int64_t lds, void *scratch)
{
    (void)k, (void)ld, (void)n, (void)q, (void)nq, (void)hd, (void)scale, (void)s, (void)lds, (void)scratch;
}
static inline void mlxc_amx_att_values(const uint16_t *v, int64_t ld, int64_t n, const float *w, int nq, int64_t lds,
                                       int hd, float *out, void *scratch)
{
    (void)v, (void)ld, (void)n, (void)w, (void)nq, (void)lds, (void)hd, (void)out, (void)scratch;
}
#endif

#endif

/* The reference quantized kernels: plain C for every mode and width (style.md §5.3). They are the
 * specification the SIMD variants are tested against, and the fallback for formats those lack.
 *
 *   dequantize   affine: w = fl(fl(scale * q) + bias)     (MLX's affine_dequantize: multiply, then add)
 *                fp:     w = element * scale              (exact in f32)
 *   qmatmul      y[t, r] = sum over groups g of (sum_{k in g} w[r, k] * x[t, k]), f32 accumulators
 *
 * Built in its own static library with -ffp-contract=off, so that scale * q + bias is never fused into
 * one rounding on targets with FMA: dequantization must be exact and the same everywhere. */
#include "quant/qformat.h"
#include "quant/qkernels.h"

/* Group g of row r of m, dequantized into w[group_size]. */
static void dequantize_group(const struct mlxc_qmatrix *m, int64_t r, int64_t g, float *w)
{
    const int gs = m->q.group_size, bits = m->q.bits;
    const int64_t groups = m->cols / gs, gi = r * groups + g;
    const uint8_t *row = (const uint8_t *)m->packed + r * mlxc_qrow_bytes(m);
    uint8_t codes[128];
    mlxc_qunpack(row, g * gs, gs, bits, codes);
    switch (m->q.mode) {
    case MLXC_Q_AFFINE: {
        float scale = mlxc_load_scalar(m->scales, gi, m->scale_dtype);
        float bias = mlxc_load_scalar(m->biases, gi, m->scale_dtype);
        for (int j = 0; j < gs; j++) {
            float t = scale * (float)codes[j];
            w[j] = t + bias;
        }
        break;
    }
    case MLXC_Q_MXFP4:
    case MLXC_Q_NVFP4: {
        uint8_t sb = ((const uint8_t *)m->scales)[gi];
        float scale = m->q.mode == MLXC_Q_MXFP4 ? mlxc_e8m0_value(sb) : mlxc_e4m3_value(sb);
        for (int j = 0; j < gs; j++)
            w[j] = mlxc_fp4_values[codes[j]] * scale;
        break;
    }
    case MLXC_Q_MXFP8: {
        float scale = mlxc_e8m0_value(((const uint8_t *)m->scales)[gi]);
        for (int j = 0; j < gs; j++)
            w[j] = mlxc_e4m3_value(codes[j]) * scale;
        break;
    }
    }
}

static void ref_dequantize_rows(const struct mlxc_qmatrix *m, int64_t row0, int64_t nrows, float *out)
{
    const int gs = m->q.group_size;
    const int64_t groups = m->cols / gs;
    for (int64_t r = 0; r < nrows; r++)
        for (int64_t g = 0; g < groups; g++)
            dequantize_group(m, row0 + r, g, out + r * m->cols + g * gs);
}

enum { TOKENS = 8 }; /* tokens per pass over the rows: with n <= 8 every weight is read once */

static void ref_qmatmul_rows(const struct mlxc_qmatrix *m, const float *x, int64_t n, float *y, int64_t ldy,
                             int64_t row0, int64_t row1)
{
    const int gs = m->q.group_size;
    const int64_t cols = m->cols, groups = cols / gs;
    float w[128];
    for (int64_t t0 = 0; t0 < n; t0 += TOKENS) {
        int nt = n - t0 < TOKENS ? (int)(n - t0) : TOKENS;
        for (int64_t r = row0; r < row1; r++) {
            float acc[TOKENS] = {0};
            for (int64_t g = 0; g < groups; g++) {
                dequantize_group(m, r, g, w);
                for (int t = 0; t < nt; t++) {
                    const float *xt = x + (t0 + t) * cols + g * gs;
                    float s = 0.0f;
                    for (int j = 0; j < gs; j++)
                        s += w[j] * xt[j];
                    acc[t] += s;
                }
            }
            for (int t = 0; t < nt; t++)
                y[(t0 + t) * ldy + r] = acc[t];
        }
    }
}

static int ref_has(const struct mlxc_qmatrix *m)
{
    (void)m;
    return 1;
}

const struct mlxc_qkernels mlxc_qkernels_ref = {
    .name = "ref",
    .has = ref_has,
    .qmatmul_rows = ref_qmatmul_rows,
    .qmatmul_rows_exact = ref_qmatmul_rows, /* every token has its own accumulator, whatever nt */
    .dequantize_rows = ref_dequantize_rows,
};

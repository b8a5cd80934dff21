/* Affine quantization, bit-exact with MLX's CPU kernel (mlx: backend/cpu/quantized.cpp quantize<T, U>;
 * mlx-lm-facts.md §3.1). Per group of group_size consecutive elements of a row, in float32:
 *
 *   n_bins = 2^bits - 1, eps = 1e-7
 *   mask   = |w_min| > |w_max|                      (the endpoint of larger magnitude is the "edge")
 *   scale  = max((w_max - w_min) / n_bins, eps), negated unless mask
 *   edge   = mask ? w_min : w_max
 *   q0     = rint(edge / scale)
 *   if q0 != 0: scale = edge / q0, bias = edge      (so the edge is exactly q = 0)
 *   else:       bias = 0                            (scale keeps its value)
 *   q      = clamp(rint((w - bias) / scale), 0, n_bins)      rint: half to even
 *
 * The codes come from the float32 scale and bias; only afterwards are scale and bias rounded to the
 * source dtype and stored. Dequantization is w = scale * q + bias with the stored scale and bias.
 * There is no multiply-add here, so FP contraction cannot change a result. */
#include <math.h>

#include "quant/qformat.h"

/* Stores v in element i of an F32/F16/BF16 array. */
static void store_scalar(void *p, int64_t i, float v, enum mlxc_dtype t)
{
    uint8_t *b = (uint8_t *)p;
    if (t == MLXC_F32) {
        memcpy(b + 4 * i, &v, 4);
        return;
    }
    uint16_t h = t == MLXC_BF16 ? mlxc_f32_to_bf16(v) : mlxc_f32_to_f16(v);
    memcpy(b + 2 * i, &h, 2);
}

/* One group: codes[group_size] and the float32 scale and bias. */
static void quantize_group(const float *w, int group_size, int bits, uint8_t *codes, float *scale_out,
                           float *bias_out)
{
    const float n_bins = (float)((1 << bits) - 1);
    const float eps = 1e-7f;
    float w_min = INFINITY, w_max = -INFINITY;
    for (int j = 0; j < group_size; j++) { /* std::max / std::min on non-NaN input */
        w_max = w_max < w[j] ? w[j] : w_max;
        w_min = w[j] < w_min ? w[j] : w_min;
    }
    int mask = fabsf(w_min) > fabsf(w_max);
    float scale = (w_max - w_min) / n_bins;
    scale = scale < eps ? eps : scale; /* std::max(scale, eps) */
    scale = mask ? scale : -scale;
    float edge = mask ? w_min : w_max;
    float q0 = rintf(edge / scale);
    float bias = 0.0f;
    if (q0 != 0.0f) {
        scale = edge / q0;
        bias = edge;
    }
    for (int j = 0; j < group_size; j++) {
        /* clamp(rint(v), 0, n_bins) == rint(clamp(v, 0, n_bins)): the bounds are integers and rint is
         * monotonic. On [0, 255], adding and subtracting 2^23 rounds to an integer, half to even, as rint
         * does in the default rounding mode (and without a libm call on baseline x86-64). */
        float v = (w[j] - bias) / scale; /* f32 arithmetic (FLT_EVAL_METHOD 0), never reassociated */
        float q = v < 0.0f ? 0.0f : v;
        q = n_bins < q ? n_bins : q;
        q = (q + 0x1p23f) - 0x1p23f;
        codes[j] = (uint8_t)q;
    }
    *scale_out = scale;
    *bias_out = bias;
}

void mlxc_affine_quantize(const float *w, int64_t rows, int64_t cols, int bits, int group_size,
                          enum mlxc_dtype out_dtype, uint8_t *packed, void *scales, void *biases)
{
    uint8_t codes[128];
    int64_t groups = cols / group_size;
    int64_t group_bytes = (int64_t)group_size * bits / 8;
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t g = 0; g < groups; g++) {
            int64_t gi = r * groups + g;
            float scale, bias;
            quantize_group(w + r * cols + g * group_size, group_size, bits, codes, &scale, &bias);
            mlxc_qpack(codes, group_size, bits, packed + gi * group_bytes);
            store_scalar(scales, gi, scale, out_dtype);
            store_scalar(biases, gi, bias, out_dtype);
        }
    }
}

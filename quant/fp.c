/* Microscaling FP quantization (mxfp4, nvfp4, mxfp8), bit-exact with MLX's CPU path, which is the graph
 * fallback of fp_quantize in mlx/ops.cpp (mlx-lm-facts.md §3.3). MLX evaluates that graph in the source
 * dtype T (F32, F16 or BF16), so every intermediate below is rounded to T as MLX's ops round it; the
 * rounding is written out as round_T(). Per group of G elements (G = 32, or 16 for nvfp4):
 *
 *   s = round_T(max|w| / maxval)                  maxval = 6 (FP4 elements) or 448 (FP8 elements)
 *   nvfp4 (E4M3 scale):
 *       sb = ToFP8(s)                              mlxc_e4m3_encode
 *       d  = FromFP8(sb)  (MLX's CPU decoder: NaN for 0x7F)
 *       wq = round_T(w / d)
 *   mxfp4, mxfp8 (E8M0 scale):
 *       e  = s == 0 ? 0 : rint(round_T(log2(s)))   log2 in f32 (computed in double, then rounded)
 *       wq = round_T(w / round_T(2^e))
 *       sb = e + 127
 *   FP4 element: argmin_i |round_T(wq - LUT[i])| over MLX's 16-entry table, first minimum wins: ties go
 *       to the smaller magnitude, 0 and tiny negatives to +0 (code 0), NaN and +-inf to code 0, and so do
 *       huge values whose rounded differences are all equal.
 *   FP8 element: ToFP8(wq).
 *
 * One deviation: MLX stores e + 127 as uint8 without a range check, so a group whose max|w| is below
 * about 2^-124 wraps around. mlxc clamps e to -127 there (as MLX's Metal kernel does); such groups dequantize
 * to ~0 either way. Non-finite input is refused before we get here (mlxc_quantize). */
#include <math.h>

#include "quant/qformat.h"

const float mlxc_fp4_values[16] = {
    +0.0f, +0.5f, +1.0f, +1.5f, +2.0f, +3.0f, +4.0f, +6.0f,
    -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f,
};

uint8_t mlxc_e4m3_encode(float f)
{
    uint32_t u = mlxc_f32_bits(f);
    uint32_t sign = u & 0x80000000u;
    uint8_t r;
    u ^= sign;
    if (u >= 0x43F00000u) {
        /* |f| >= 480 (and inf, NaN): saturate to 448 */
        r = 0x7E;
    } else if (u < 0x3C800000u) {
        /* |f| < 2^-6, the subnormal range (steps of 2^-9): adding 2^14, whose ulp is 2^-9, makes the
         * FPU round |f| to a multiple of 2^-9 (ties to even); the low bits are then the code (0..8). */
        r = (uint8_t)(mlxc_f32_bits(mlxc_bits_f32(u) + 16384.0f) - 0x46800000u);
    } else {
        /* Normal: rebias the exponent (127 -> 7) and round the 23-bit mantissa to 3 bits, ties to even:
         * add 0x7FFFF plus the lowest kept bit, then drop 20 bits. Rounding may carry into the exponent. */
        uint32_t odd = (u >> 20) & 1u;
        u = u - (120u << 23) + 0x7FFFFu + odd;
        r = (uint8_t)(u >> 20);
    }
    return (uint8_t)(r | (sign >> 24));
}

/* FP4 code of wq, a value of the source dtype t: MLX's argmin_i |round_T(wq - LUT[i])|, first minimum
 * winning (NaN and +-inf give code 0: every difference is NaN or inf). Written out literally for large
 * |wq|, where rounding makes differences equal and index 0 can win: wq is far beyond 6 when an nvfp4
 * scale saturates at 448 (max|w| > 2688), and MLX then writes code 0. */
static uint8_t fp4_argmin(float wq, enum mlxc_dtype t)
{
    uint8_t best = 0;
    float bv = fabsf(mlxc_round_to(wq - mlxc_fp4_values[0], t));
    for (uint8_t i = 1; i < 16; i++) {
        float v = fabsf(mlxc_round_to(wq - mlxc_fp4_values[i], t));
        if (v < bv) { /* strict: a tie keeps the lower index; NaN never wins */
            bv = v;
            best = i;
        }
    }
    return best;
}

/* The same for |wq| <= 8, the range of every group whose scale represents its maximum, by midpoints:
 * the nearest table value, ties to the smaller magnitude.
 *  - a negative wq is never nearer to a positive entry, and ties with +0 / -0 go to +0 (index 0);
 *  - for the two entries lo <= |wq| <= hi that bracket it, |wq| - lo and hi - |wq| are exact in any dtype
 *    (neighbouring entries are within a factor of 2, so Sterbenz's lemma applies; lo = 0 is trivial), so
 *    rounding to t cannot reorder them, and farther entries are at least 0.5 farther.
 * tests/gen/make_quant_cases.py computes the literal argmin, with t rounding, over ties of both signs. */
static uint8_t fp4_encode(float wq, enum mlxc_dtype t)
{
    float a = fabsf(wq);
    if (!(a <= 8.0f))
        return fp4_argmin(wq, t);
    uint8_t c = a <= 0.25f ? 0 : a <= 0.75f ? 1 : a <= 1.25f ? 2 : a <= 1.75f ? 3
              : a <= 2.5f  ? 4 : a <= 3.5f  ? 5 : a <= 5.0f  ? 6 : 7;
    return c && signbit(wq) ? (uint8_t)(c | 8) : c;
}

/* The group's divisor and scale byte, as described at the top. */
static float group_scale(const float *w, int group_size, int nvfp4, float maxval, enum mlxc_dtype t,
                         uint8_t *sb)
{
    float amax = 0.0f;
    for (int j = 0; j < group_size; j++)
        amax = fmaxf(amax, fabsf(w[j]));
    float s = mlxc_round_to(amax / maxval, t);
    if (nvfp4) {
        *sb = mlxc_e4m3_encode(s);
        if ((*sb & 0x7F) == 0x7F) /* MLX's CPU FromFP8 decodes 0x7F as NaN: every element becomes code 0 */
            return NAN;
        return mlxc_e4m3_value(*sb);
    }
    int e = 0;
    if (s != 0.0f)
        e = (int)rintf(mlxc_round_to((float)log2((double)s), t));
    if (e < -127)
        e = -127;
    *sb = (uint8_t)(e + 127);
    return mlxc_round_to(ldexpf(1.0f, e), t);
}

void mlxc_fp_quantize(const float *w, int64_t rows, int64_t cols, struct mlxc_qparams q, enum mlxc_dtype src,
                      uint8_t *packed, uint8_t *scales)
{
    const int gs = q.group_size, fp8 = q.mode == MLXC_Q_MXFP8, nvfp4 = q.mode == MLXC_Q_NVFP4;
    const float maxval = fp8 ? 448.0f : 6.0f;
    const int64_t groups = cols / gs;
    const int64_t group_bytes = (int64_t)gs * q.bits / 8;
    uint8_t codes[32];
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t g = 0; g < groups; g++) {
            const float *wg = w + r * cols + g * gs;
            int64_t gi = r * groups + g;
            float d = group_scale(wg, gs, nvfp4, maxval, src, &scales[gi]);
            if (!(d > 0.0f)) {
                /* nvfp4 scale 0 (max|w| below 2^-10 * 6) or NaN: MLX divides by it and its argmin maps the
                 * resulting NaN and +-inf to code 0. */
                memset(codes, 0, sizeof codes);
                mlxc_qpack(codes, gs, q.bits, packed + gi * group_bytes);
                continue;
            }
            for (int j = 0; j < gs; j++) {
                float wq = mlxc_round_to(wg[j] / d, src);
                codes[j] = fp8 ? mlxc_e4m3_encode(wq) : fp4_encode(wq, src);
            }
            mlxc_qpack(codes, gs, q.bits, packed + gi * group_bytes);
        }
    }
}

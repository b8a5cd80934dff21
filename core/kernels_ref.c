/* Reference float kernels: plain C, no intrinsics. The spec the SIMD variants are tested against. */
#include <string.h>

#include "core/half.h"
#include "core/kernels.h"

static void matmul_f32(const void *w, int64_t cols, const float *x, int64_t n, float *y, int64_t ldy, int64_t r0,
                       int64_t r1)
{
    const unsigned char *wb = w;
    for (int64_t r = r0; r < r1; r++) {
        for (int64_t t = 0; t < n; t++) {
            float acc = 0.0f;
            for (int64_t k = 0; k < cols; k++) {
                float wv;
                memcpy(&wv, wb + (r * cols + k) * 4, 4);
                acc += wv * x[t * cols + k];
            }
            y[t * ldy + r] = acc;
        }
    }
}

static void matmul_16(const void *w, int64_t cols, const float *x, int64_t n, float *y, int64_t ldy, int64_t r0,
                      int64_t r1, float (*cvt)(uint16_t))
{
    const unsigned char *wb = w;
    for (int64_t r = r0; r < r1; r++) {
        for (int64_t t = 0; t < n; t++) {
            float acc = 0.0f;
            for (int64_t k = 0; k < cols; k++) {
                uint16_t h;
                memcpy(&h, wb + (r * cols + k) * 2, 2);
                acc += cvt(h) * x[t * cols + k];
            }
            y[t * ldy + r] = acc;
        }
    }
}

static void matmul_f16(const void *w, int64_t cols, const float *x, int64_t n, float *y, int64_t ldy, int64_t r0,
                       int64_t r1)
{
    matmul_16(w, cols, x, n, y, ldy, r0, r1, mlxc_f16_to_f32);
}

static void matmul_bf16(const void *w, int64_t cols, const float *x, int64_t n, float *y, int64_t ldy, int64_t r0,
                        int64_t r1)
{
    matmul_16(w, cols, x, n, y, ldy, r0, r1, mlxc_bf16_to_f32);
}

static float dot(const float *a, const float *b, int64_t n)
{
    float acc = 0.0f;
    for (int64_t i = 0; i < n; i++)
        acc += a[i] * b[i];
    return acc;
}

static void axpy(float a, const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

const struct mlxc_kernels mlxc_kernels_ref = {
    .isa = "ref",
    .matmul_f32 = matmul_f32,
    .matmul_f16 = matmul_f16,
    .matmul_bf16 = matmul_bf16,
    .dot = dot,
    .axpy = axpy,
};

/* Reference float kernels: plain C, no intrinsics. The spec the SIMD variants are tested against. */
#include <math.h>
#include <string.h>

#include "core/half.h"
#include "core/kernels.h"
#include "quant/qformat.h"

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

static float max_f32(const float *x, int64_t n)
{
    float m = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        m = x[i] > m ? x[i] : m;
    return m;
}

static float exp_sum(float *y, const float *x, int64_t n, float m)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) {
        float e = expf(x[i] - m);
        if (y)
            y[i] = e;
        s += e;
    }
    return (float)s;
}

static void swiglu(float *gate, const float *up, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float g = gate[i];
        gate[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

/* Element i of a row of dtype dt (F32, F16, BF16). */
static float elem(const void *row, enum mlxc_dtype dt, int64_t i)
{
    const unsigned char *b = row;
    uint16_t h;
    float f;
    switch (dt) {
    case MLXC_F16: memcpy(&h, b + 2 * i, 2); return mlxc_f16_to_f32(h);
    case MLXC_BF16: memcpy(&h, b + 2 * i, 2); return mlxc_bf16_to_f32(h);
    default: memcpy(&f, b + 4 * i, 4); return f;
    }
}

static void att_scores(const void *k, enum mlxc_dtype dt, int64_t ld, int64_t n, const float *q, int nq, int group,
                       int hd, float scale, float *s, int64_t lds)
{
    const size_t es = mlxc_dtype_size(dt);
    for (int i = 0; i < nq; i++)
        for (int64_t p = 0; p < n; p++) {
            const unsigned char *row = (const unsigned char *)k + (size_t)(p * ld + i / group * hd) * es;
            float acc = 0.0f;
            for (int d = 0; d < hd; d++)
                acc += q[i * hd + d] * elem(row, dt, d);
            s[i * lds + p] = scale * acc;
        }
}

static void att_values(const void *v, enum mlxc_dtype dt, int64_t ld, int64_t n, const float *w, int nq, int group,
                       int64_t lds, int hd, float *out)
{
    const size_t es = mlxc_dtype_size(dt);
    for (int i = 0; i < nq; i++) {
        float *o = out + (int64_t)i * hd;
        memset(o, 0, (size_t)hd * sizeof *o);
        for (int64_t p = 0; p < n; p++) {
            const unsigned char *row = (const unsigned char *)v + (size_t)(p * ld + i / group * hd) * es;
            for (int d = 0; d < hd; d++)
                o[d] += w[i * lds + p] * elem(row, dt, d);
        }
    }
}

/* Row p's kv head h of quantized rows, dequantized as MLX does: fl(fl(scale * code) + bias). */
static void qkv_row(const struct mlxc_qkv_rows *r, int64_t p, int h, int hd, float *out)
{
    uint8_t codes[1024]; /* head_dim cap of core/config.c */
    mlxc_qunpack((const uint8_t *)r->codes + (size_t)p * r->codes_ld, (int64_t)h * hd, hd, r->bits, codes);
    const int64_t g0 = p * r->sb_ld + (int64_t)h * (hd / r->gs);
    for (int d = 0; d < hd; d++) {
        const float t = mlxc_load_scalar(r->scales, g0 + d / r->gs, r->sdt) * (float)codes[d];
        out[d] = t + mlxc_load_scalar(r->biases, g0 + d / r->gs, r->sdt);
    }
}

static void att_scores_q(const struct mlxc_qkv_rows *k, int64_t n, const float *q, int nq, int group, int hd,
                         float scale, float *s, int64_t lds)
{
    float row[1024];
    for (int i = 0; i < nq; i++)
        for (int64_t p = 0; p < n; p++) {
            qkv_row(k, p, i / group, hd, row);
            s[i * lds + p] = scale * dot(q + (int64_t)i * hd, row, hd);
        }
}

static void att_values_q(const struct mlxc_qkv_rows *v, int64_t n, const float *w, int nq, int group, int64_t lds,
                         int hd, float *out)
{
    float row[1024];
    memset(out, 0, (size_t)nq * (size_t)hd * sizeof *out);
    for (int i = 0; i < nq; i++)
        for (int64_t p = 0; p < n; p++) {
            qkv_row(v, p, i / group, hd, row);
            axpy(w[i * lds + p], row, out + (int64_t)i * hd, hd);
        }
}

/* Plain C: whatever the compiler makes of 12 x 8 independent chains (each from its own value, or the
 * compiler may see one chain). */
static float fma_probe(int64_t n)
{
    float a[12][8];
    for (int j = 0; j < 12; j++)
        for (int l = 0; l < 8; l++)
            a[j][l] = 1.0f + (float)(8 * j + l) / 1024;
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < 12; j++)
            for (int l = 0; l < 8; l++)
                a[j][l] = a[j][l] * 0.999f + 0.001f;
    float s = 0.0f;
    for (int j = 0; j < 12; j++)
        for (int l = 0; l < 8; l++)
            s += a[j][l];
    return s;
}

static void att_decode(const void *k, const void *v, enum mlxc_dtype dt, int64_t ld, int64_t n, const float *q, int nq,
                       int group, int hd, float scale, float softcap, float *scratch, float *m, float *l, float *out)
{
    mlxc_att_decode_two_pass(&mlxc_kernels_ref, k, v, dt, ld, n, q, nq, group, hd, scale, softcap, scratch, m, l, out);
}

static void att_decode_q(const struct mlxc_qkv_rows *k, const struct mlxc_qkv_rows *v, int64_t n, const float *q,
                         int nq, int group, int hd, float scale, float softcap, float *scratch, float *m, float *l,
                         float *out)
{
    mlxc_att_decode_q_two_pass(&mlxc_kernels_ref, k, v, n, q, nq, group, hd, scale, softcap, scratch, m, l, out);
}

const struct mlxc_kernels mlxc_kernels_ref = {
    .isa = "ref",
    .matmul_f32 = matmul_f32,
    .matmul_f16 = matmul_f16,
    .matmul_bf16 = matmul_bf16,
    .dot = dot,
    .axpy = axpy,
    .max = max_f32,
    .exp_sum = exp_sum,
    .swiglu = swiglu,
    .fma_probe = fma_probe,
    .att_scores = att_scores,
    .att_values = att_values,
    .att_decode = att_decode,
    .att_scores_q = att_scores_q,
    .att_values_q = att_values_q,
    .att_decode_q = att_decode_q,
};

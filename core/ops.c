#include "core/ops.h"

#include <math.h>

#include "core/config.h"
#include "core/kernels.h"
#include "core/pool.h"

void mlxc_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps)
{
    double ss = 0.0; /* sum of squares in double: exact enough that f32 rounding decides */
    for (int64_t i = 0; i < n; i++)
        ss += (double)x[i] * x[i];
    float r = (float)(1.0 / sqrt(ss / (double)n + (double)eps));
    for (int64_t i = 0; i < n; i++)
        out[i] = x[i] * r * w[i];
}

void mlxc_rmsnorm_rows(float *x, int64_t rows, int64_t n, const float *w, float eps)
{
    for (int64_t i = 0; i < rows; i++)
        mlxc_rmsnorm(x + i * n, x + i * n, w, n, eps);
}

void mlxc_layernorm(float *out, const float *x, const float *w, const float *b, int64_t n, float eps)
{
    double sum = 0.0, ss = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += x[i];
    double mean = sum / (double)n;
    for (int64_t i = 0; i < n; i++)
        ss += ((double)x[i] - mean) * ((double)x[i] - mean);
    float r = (float)(1.0 / sqrt(ss / (double)n + (double)eps)), m = (float)mean;
    for (int64_t i = 0; i < n; i++)
        out[i] = (x[i] - m) * r * w[i] + (b ? b[i] : 0.0f);
}

static inline float act1(float g, int act)
{
    switch (act) {
    case MLXC_ACT_GELU_TANH: /* mlx_lm gelu_approx */
        return 0.5f * g * (1.0f + tanhf(0.7978845608028654f * (g + 0.044715f * g * g * g)));
    case MLXC_ACT_GELU_ERF: /* mlx nn.gelu */
        return 0.5f * g * (1.0f + erff(g * 0.7071067811865476f));
    default:
        return g / (1.0f + expf(-g));
    }
}

void mlxc_activate(float *x, int64_t n, int act)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = act1(x[i], act);
}

void mlxc_gated_act(float *gate, const float *up, int64_t n, int act)
{
    if (act == MLXC_ACT_SILU) {
        mlxc_swiglu(gate, up, n);
        return;
    }
    if (act == MLXC_ACT_SWIGLU_OAI) { /* mlx_lm gpt_oss swiglu: limit 7, alpha 1.702 */
        for (int64_t i = 0; i < n; i++) {
            float g = gate[i] < 7.0f ? gate[i] : 7.0f, u = up[i] < -7.0f ? -7.0f : up[i] > 7.0f ? 7.0f : up[i];
            gate[i] = g / (1.0f + expf(-1.702f * g)) * (u + 1.0f);
        }
        return;
    }
    for (int64_t i = 0; i < n; i++)
        gate[i] = act1(gate[i], act) * up[i];
}

void mlxc_softcap(float *x, int64_t n, float cap)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = tanhf(x[i] / cap) * cap;
}

void mlxc_swiglu(float *gate, const float *up, int64_t n) { mlxc_kernels()->swiglu(gate, up, n); }

struct act_job {
    float *gate;
    const float *up;
    int64_t n;
    int act;
};

static void act_task(void *ctx, int tid, int nth)
{
    const struct act_job *j = ctx;
    int64_t i0, i1;
    mlxc_split_range(j->n, tid, nth, 64, &i0, &i1);
    if (i0 < i1)
        mlxc_gated_act(j->gate + i0, j->up + i0, i1 - i0, j->act);
}

void mlxc_gated_act_pool(float *gate, const float *up, int64_t n, int act, struct mlxc_pool *pool)
{
    struct act_job j = {gate, up, n, act};
    if (n < (1 << 15)) /* a decode step: not worth waking the threads */
        mlxc_gated_act(gate, up, n, act);
    else
        mlxc_pool_run(pool, act_task, &j);
}

void mlxc_softmax(float *x, int64_t n)
{
    const struct mlxc_kernels *k = mlxc_kernels();
    float inv = 1.0f / k->exp_sum(x, x, n, k->max(x, n));
    for (int64_t i = 0; i < n; i++)
        x[i] *= inv;
}

void mlxc_softmax_sink(float *x, int64_t n, float sink)
{
    const struct mlxc_kernels *k = mlxc_kernels();
    float m = k->max(x, n);
    m = sink > m ? sink : m;
    float inv = 1.0f / (expf(sink - m) + k->exp_sum(x, x, n, m));
    for (int64_t i = 0; i < n; i++)
        x[i] *= inv;
}

void mlxc_add(float *y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += x[i];
}

void mlxc_log_softmax(float *out, const float *x, int64_t n)
{
    const struct mlxc_kernels *k = mlxc_kernels();
    float m = k->max(x, n);
    float lse = m + logf(k->exp_sum(NULL, x, n, m));
    for (int64_t i = 0; i < n; i++)
        out[i] = x[i] - lse;
}

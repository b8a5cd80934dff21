/* Prefill products on f32 weight panels (core/gemm_avx2.c), on a CPU with AVX2 and FMA (skipped elsewhere).
 * The reference is the plain loop acc = fmaf(x[t, k], w[r, k], acc) over k from 0, which the contract
 * (core/gemm.h) says each output equals bit for bit, and the product in double within f32 rounding:
 *  - mlxc_gemm_rows on shapes off the 6 x 16 tiles and the column blocks, slivers packed one by one;
 *    outputs outside the rows and tokens asked for stay untouched;
 *  - bf16 and f16 rows pack to the panel of their exact f32 values;
 *  - where linears take this path (no AMX, OpenBLAS without AVX-512 kernels; meson also runs this test as
 *    gemm-avx2only, with MLXC_ISA=avx2 and OpenBLAS's Haswell kernels, as on the Zen 3 class):
 *    bf16 and every quantized format but affine 4-bit, two threads, a bias, against the loop over the
 *    weights that mlxc_dequantize_rows gives; a token's outputs are the same alone or among others. */
#include "tests/test_util.h"

#include <math.h>

#include "core/cpu.h"
#include "core/gemm.h"
#include "core/half.h"
#include "core/linear.h"
#include "core/sys.h"
#include "quant/quant.h"
#include "tests/quant_fixture.h"


static int have_kernels(void)
{
#if defined(__x86_64__)
    return mlxc_cpu_avx2_fma_f16c();
#else
    return 0;
#endif
}

/* y (T, ldy) + bias against the fmaf loop (bit for bit) and the double product (within f32 rounding). */
static void check_product(const float *x, const float *w, const float *bias, int64_t T, int64_t n, int64_t cols,
                          const float *y, int64_t ldy, const char *what)
{
    for (int64_t t = 0; t < T; t++)
        for (int64_t r = 0; r < n; r++) {
            float acc = 0.0f;
            double s = 0, mag = 0;
            for (int64_t k = 0; k < cols; k++) {
                acc = fmaf(x[t * cols + k], w[r * cols + k], acc);
                s += (double)x[t * cols + k] * w[r * cols + k];
                mag += fabs((double)x[t * cols + k] * w[r * cols + k]);
            }
            if (bias) {
                acc += bias[r];
                s += bias[r];
            }
            const float got = y[t * ldy + r];
            if (got != acc || fabs(got - s) > 2e-6 * mag + 1e-6)
                fail_msg("%s (T %lld, rows %lld, cols %lld): y[%lld, %lld] = %.9g, the fmaf loop %.9g, in double %.9g",
                         what, (long long)T, (long long)n, (long long)cols, (long long)t, (long long)r, got, acc, s);
        }
}

static void test_rows_shapes(void **state)
{
    (void)state;
    /* T, rows, cols: partial token tiles, partial slivers, columns off 8 and past one or two blocks */
    static const int64_t shapes[][3] = {{37, 50, 300}, {1, 1, 1}, {6, 16, 256}, {13, 64, 520}, {9, 17, 31}, {8, 33, 257}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const int64_t T = shapes[i][0], n = shapes[i][1], cols = shapes[i][2], ldy = n + 3, npad = mlxc_gemm_npad(n);
        float *x = malloc(sizeof(float) * T * cols), *w = malloc(sizeof(float) * n * cols);
        float *y = malloc(sizeof(float) * T * ldy), *panel = mlxc_alloc_aligned(sizeof(float) * mlxc_gemm_panel_elems(cols));
        for (int64_t k = 0; k < T * cols; k++)
            x[k] = test_value(k, 401) * 3.0f;
        for (int64_t k = 0; k < n * cols; k++)
            w[k] = test_value(k + 17, 397) * 0.25f;
        for (int64_t k = 0; k < T * ldy; k++)
            y[k] = -12345.0f;
        for (int64_t r = 0; r < n; r += 16) /* one sliver per call, as core/linear.c packs them */
            mlxc_gemm_pack_f32(w + r * cols, cols, n - r < 16 ? n - r : 16, cols, r, npad, panel);
        mlxc_gemm_rows(x, T, cols, panel, n, y, ldy);
        check_product(x, w, NULL, T, n, cols, y, ldy, "f32 panel");
        for (int64_t t = 0; t < T; t++)
            for (int64_t r = n; r < ldy; r++)
                assert_true(y[t * ldy + r] == -12345.0f);
        free(x);
        free(w);
        free(y);
        mlxc_free_aligned(panel);
    }
}

static void test_half_packs(void **state)
{
    (void)state;
    enum { N = 13, C = 300 };
    const size_t elems = mlxc_gemm_panel_elems(C);
    uint16_t hb[N * C], hf[N * C];
    static float wb[N * C], wf[N * C];
    float *want = mlxc_alloc_aligned(sizeof(float) * elems), *got = mlxc_alloc_aligned(sizeof(float) * elems);
    for (int k = 0; k < N * C; k++) {
        hb[k] = mlxc_f32_to_bf16(test_value(k, 389) * 7.0f);
        hf[k] = mlxc_f32_to_f16(test_value(k, 389) * 7.0f);
        wb[k] = mlxc_bf16_to_f32(hb[k]);
        wf[k] = mlxc_f16_to_f32(hf[k]);
    }
    memset(want, 0, sizeof(float) * elems);
    memset(got, 0, sizeof(float) * elems);
    mlxc_gemm_pack_f32(wb, C, N, C, 0, 16, want);
    mlxc_gemm_pack_bf16(hb, C, N, C, 0, 16, got);
    assert_memory_equal(want, got, sizeof(float) * elems);
    mlxc_gemm_pack_f32(wf, C, N, C, 0, 16, want);
    mlxc_gemm_pack_f16(hf, C, N, C, 0, 16, got);
    assert_memory_equal(want, got, sizeof(float) * elems);
    mlxc_free_aligned(want);
    mlxc_free_aligned(got);
}

enum { LR = 200, LC = 384, LT = 45 }; /* 4 panels, the last partial; two column blocks; tokens off the tiles */

static int linears_checked;

/* l's prefill on LT tokens with two threads, where it takes this path, against its dequantized weights. */
static void check_linear(const struct mlxc_linear *l, struct mlxc_pool *pool, const char *what)
{
    if (strcmp(mlxc_linear_prefill_kernel(l), "f32-avx2") != 0)
        return;
    linears_checked++;
    float *x = malloc(sizeof(float) * LT * LC), *y = malloc(sizeof(float) * LT * LR);
    float *w = malloc(sizeof(float) * LR * LC), *alone = malloc(sizeof(float) * 9 * LR);
    for (int64_t k = 0; k < (int64_t)LT * LC; k++)
        x[k] = test_value(k + 5, 409);
    if (l->kind == MLXC_W_QUANT)
        mlxc_dequantize_rows(&l->q, 0, LR, w);
    else
        mlxc_bf16_to_f32_row(l->w, w, (size_t)LR * LC);
    mlxc_linear_forward(l, x, LT, y, pool);
    check_product(x, w, l->bias, LT, LR, LC, y, LR, what);
    mlxc_linear_forward(l, x + 30 * LC, 9, alone, NULL); /* 9 tokens: still many enough for the path */
    assert_memory_equal(alone, y + 30 * LR, sizeof(float) * 9 * LR);
    free(x);
    free(y);
    free(w);
    free(alone);
}

static void test_linears(void **state)
{
    (void)state;
    static float w[LR * LC], bias[LR];
    static uint16_t wb[LR * LC];
    for (int64_t k = 0; k < (int64_t)LR * LC; k++)
        w[k] = test_value(k, 389) * 0.5f;
    for (int r = 0; r < LR; r++)
        bias[r] = (float)(r % 5) - 2.0f;
    mlxc_f32_to_bf16_row(w, wb, (size_t)LR * LC);
    struct mlxc_pool *pool = mlxc_pool_create(2);
    linears_checked = 0;
    const struct mlxc_linear bl = {.kind = MLXC_W_BF16, .rows = LR, .cols = LC, .w = wb, .bias = bias};
    check_linear(&bl, pool, "bf16");
    fixture_each_quant(w, LR, LC, bias, pool, check_linear);
    mlxc_pool_free(pool);
    assert_int_equal(linears_checked, 7); /* bf16 and every quantized format but affine 4-bit */
}

/* Whether bf16 weights take this path here (no AMX, OpenBLAS without AVX-512 kernels): then every format
 * but affine 4-bit does. */
static int linears_on_path(void)
{
    const struct mlxc_linear l = {.kind = MLXC_W_BF16, .rows = LR, .cols = LC};
    return strcmp(mlxc_linear_prefill_kernel(&l), "f32-avx2") == 0;
}

int main(void)
{
    if (!have_kernels())
        return test_skip_all("this CPU lacks AVX2, FMA or F16C");
    const struct CMUnitTest kernels[] = {
        cmocka_unit_test(test_rows_shapes),
        cmocka_unit_test(test_half_packs),
    };
    const struct CMUnitTest with_linears[] = {
        cmocka_unit_test(test_rows_shapes),
        cmocka_unit_test(test_half_packs),
        cmocka_unit_test(test_linears),
    };
    /* elsewhere other kernels take the linears (test_amx, test_blas, test_forward) */
    return linears_on_path() ? cmocka_run_group_tests(with_linears, NULL, NULL)
                             : cmocka_run_group_tests(kernels, NULL, NULL);
}

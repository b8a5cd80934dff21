/* OpenBLAS set-up (core/blas.c): after mlxc_blas_setup, a CPU with AVX2 and FMA runs OpenBLAS kernels that
 * use them whenever the library can be told to (its DYNAMIC_ARCH entry points exist and the user did not
 * choose a core), and SGEMM still computes the product: checked against a plain triple loop in double.
 * Then prefill-sized products of quantized linears (through AMX tiles where the CPU has them, else through
 * dequantized tiles and SGEMM where OpenBLAS runs AVX-512 kernels, the int8 kernels elsewhere) against the
 * dequantized weights times x in double. */
#include "tests/test_util.h"

#include <cblas.h>
#include <dlfcn.h>
#include <math.h>
#include <stdlib.h>
#include <strings.h>

#include "core/blas.h"
#include "core/linear.h"
#include "tests/quant_fixture.h"

static void test_core_and_sgemm(void **state)
{
    (void)state;
    const int can_choose = !getenv("OPENBLAS_CORETYPE") && dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init");
    mlxc_blas_setup();
    const char *core = mlxc_blas_core();
    print_message("OpenBLAS core: %s\n", core);
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (can_choose && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        static const char *const wide[] = {"Haswell", "Zen", "SkylakeX", "Cooperlake", "Excavator", "Sapphirerapids"};
        int ok = 0;
        for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++)
            ok |= strcasecmp(core, wide[i]) == 0;
        if (!ok)
            fail_msg("an AVX2 + FMA CPU left with OpenBLAS core '%s'", core);
    }
#endif
    enum { M = 37, N = 130, K = 300 };
    float *a = malloc(sizeof(float) * M * K), *b = malloc(sizeof(float) * N * K), *c = malloc(sizeof(float) * M * N);
    for (int i = 0; i < M * K; i++)
        a[i] = (float)((int)((long)i * 7919 % 201) - 100) / 100.0f;
    for (int i = 0; i < N * K; i++)
        b[i] = (float)((int)((long)i * 104729 % 199) - 99) / 99.0f;
    /* as core/linear.c calls it: C (M, N) = A (M, K) B (N, K)^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a, K, b, K, 0.0f, c, N);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0, mag = 0;
            for (int k = 0; k < K; k++) {
                s += (double)a[i * K + k] * b[j * K + k];
                mag += fabs((double)a[i * K + k] * b[j * K + k]);
            }
            if (fabs(c[i * N + j] - s) > 1e-5 * mag + 1e-6)
                fail_msg("C[%d, %d] = %g, the product is %g", i, j, c[i * N + j], s);
        }
    free(a);
    free(b);
    free(c);
}

enum { QR = 200, QC = 256, QT = 24 }; /* rows past a multiple of 64; tokens past SGEMM's threshold */

static void check_quant(const struct mlxc_linear *l, struct mlxc_pool *pool, const char *what)
{
    float *x = malloc(sizeof(float) * QT * QC), *y = malloc(sizeof(float) * QT * QR), *w = malloc(sizeof(float) * QC);
    for (int i = 0; i < QT * QC; i++)
        x[i] = (float)((int)((long)i * 7919 % 201) - 100) / 100.0f;
    mlxc_linear_forward(l, x, QT, y, pool);
    for (int r = 0; r < QR; r++) {
        mlxc_linear_row(l, r, w); /* the dequantized row */
        for (int t = 0; t < QT; t++) {
            double s = l->bias ? l->bias[r] : 0, mag = 0;
            for (int k = 0; k < QC; k++) {
                s += (double)w[k] * x[t * QC + k];
                mag += fabs((double)w[k] * x[t * QC + k]);
            }
            /* int8 activations: about 1/254 of each block's largest |x| per element (bf16 ones on AMX: 1/256) */
            if (fabs(y[t * QR + r] - s) > 1e-2 * mag + 1e-5)
                fail_msg("%s (%s): y[%d, %d] = %g, the product is %g", what,
                         mlxc_linear_prefill_kernel(l), t, r, y[t * QR + r], s);
        }
    }
    free(x);
    free(y);
    free(w);
}

static void test_quant_prefill(void **state)
{
    (void)state;
    mlxc_blas_setup();
    struct mlxc_pool *pool = mlxc_pool_create(2);
    float *w = malloc(sizeof(float) * QR * QC), bias[QR];
    for (int i = 0; i < QR * QC; i++)
        w[i] = (float)((int)((long)i * 104729 % 199) - 99) / 990.0f;
    for (int r = 0; r < QR; r++)
        bias[r] = (float)(r % 7) - 3.0f;
    fixture_each_quant(w, QR, QC, bias, pool, check_quant);
    mlxc_pool_free(pool);
    free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_core_and_sgemm),
        cmocka_unit_test(test_quant_prefill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Run-time choice of the quantized kernels (style.md §5.3): the best table the CPU can run, unless
 * MLXC_ISA names another. Chosen once, at first use, under pthread_once. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "quant/qkernels.h"

static int ref_ok(void) { return 1; }

#if defined(__x86_64__)
static int avx2_ok(void)
{
    return mlxc_cpu_avx2_fma_f16c();
}
#define AVX2_ROW {&mlxc_qkernels_avx2, avx2_ok},
#else
#define AVX2_ROW
#endif

/* Every table compiled into this build, best first, with the check that the CPU can run it. */
static const struct {
    const struct mlxc_qkernels *k;
    int (*cpu_ok)(void);
} tables[] = {
    AVX2_ROW
    {&mlxc_qkernels_ref, ref_ok},
};
#define NTABLES (sizeof tables / sizeof tables[0])

const struct mlxc_qkernels *mlxc_qkernels_get(const char *name)
{
    for (size_t i = 0; i < NTABLES; i++)
        if (name && strcmp(tables[i].k->name, name) == 0)
            return tables[i].cpu_ok() ? tables[i].k : NULL;
    return NULL;
}

static const struct mlxc_qkernels *active;
static pthread_once_t active_once = PTHREAD_ONCE_INIT;

static void choose(void)
{
    const char *want = getenv("MLXC_ISA");
    if (want && *want) {
        /* An unknown or unavailable name falls back to the reference: the library does not print. */
        active = mlxc_qkernels_get(want);
        if (!active)
            active = &mlxc_qkernels_ref;
        return;
    }
    for (size_t i = 0; i < NTABLES; i++) {
        if (tables[i].cpu_ok()) {
            active = tables[i].k;
            return;
        }
    }
    active = &mlxc_qkernels_ref;
}

const struct mlxc_qkernels *mlxc_qkernels_active(void)
{
    pthread_once(&active_once, choose);
    return active;
}

const char *mlxc_quant_isa(void)
{
    return mlxc_qkernels_active()->name;
}

void mlxc_qmatmul_rows(const struct mlxc_qmatrix *m, const float *x, int64_t n, float *y, int64_t ldy,
                       int64_t row0, int64_t row1)
{
    if (n <= 0 || row1 <= row0)
        return;
    const struct mlxc_qkernels *k = mlxc_qkernels_active();
    if (!k->has(m))
        k = &mlxc_qkernels_ref;
    k->qmatmul_rows(m, x, n, y, ldy, row0, row1);
}

void mlxc_qmatmul_rows_exact(const struct mlxc_qmatrix *m, const float *x, int64_t n, float *y, int64_t ldy,
                             int64_t row0, int64_t row1)
{
    if (n <= 0 || row1 <= row0)
        return;
    const struct mlxc_qkernels *k = mlxc_qkernels_active();
    if (!k->has(m))
        k = &mlxc_qkernels_ref;
    k->qmatmul_rows_exact(m, x, n, y, ldy, row0, row1);
}

void *mlxc_qmatmul_prepare_alloc(const struct mlxc_qmatrix *m, int64_t n)
{
    const struct mlxc_qkernels *k = mlxc_qkernels_active();
    if (n <= 0 || !k->has(m) || !k->prepare_alloc)
        return NULL;
    return k->prepare_alloc(m, n);
}

void mlxc_qmatmul_prepare_tokens(void *prep, const float *x, int64_t t0, int64_t t1)
{
    if (t1 > t0)
        mlxc_qkernels_active()->prepare_tokens(prep, x, t0, t1);
}

void *mlxc_qmatmul_prepare(const struct mlxc_qmatrix *m, const float *x, int64_t n)
{
    void *prep = mlxc_qmatmul_prepare_alloc(m, n);
    if (prep)
        mlxc_qmatmul_prepare_tokens(prep, x, 0, n);
    return prep;
}

void mlxc_qmatmul_prepared(const struct mlxc_qmatrix *m, const void *prep, const float *x, int64_t n, float *y,
                           int64_t ldy, int64_t row0, int64_t row1, int exact)
{
    if (row1 > row0)
        mlxc_qkernels_active()->qmatmul_prepared(m, prep, x, n, y, ldy, row0, row1, exact);
}

void mlxc_qmatmul_release(void *prep)
{
    if (prep)
        mlxc_qkernels_active()->release(prep);
}

void mlxc_dequantize_rows(const struct mlxc_qmatrix *m, int64_t row0, int64_t nrows, float *out)
{
    if (nrows <= 0)
        return;
    const struct mlxc_qkernels *k = mlxc_qkernels_active();
    if (!k->has(m))
        k = &mlxc_qkernels_ref;
    k->dequantize_rows(m, row0, nrows, out);
}

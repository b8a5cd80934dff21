/* Every quantized kernel table the CPU can run (ref, avx2) against the float reference: dequantize the
 * matrix exactly (checked bit for bit in test_quant.c), multiply in double. Random matrices quantized by
 * mlxc_quantize, awkward sizes (rows 1, 7, 67, 300; columns a few groups up to 4096 + a group; n = 1, 3,
 * 8, 17), row ranges, a wide ldy and odd addresses. Two checks (style.md §5.3):
 *
 *  - every output within a hard bound. Kernels that keep x in f32 differ from the reference only by f32
 *    summation: |y - y_ref| <= cols * 2^-23 * sum_k |w_k x_k|. Kernels that round x to int8 per block of 8
 *    (quant/qact_avx2.h: |x_k - xhat_k| <= max|x_block| / 254 + max|x_token| / 65534) compute sum w xhat:
 *    |y - y_ref| <= sum_k |w_k| (max|x_block(k)| / 254 + max|x_token| / 65534), plus the summation term.
 *  - activations prepared once (mlxc_qmatmul_prepare, decode's chunks of rows) give bitwise what the
 *    plain calls give, also for the exact variant.
 *  - the normalized mean square error NMSE = sum (y - y_ref)^2 / sum_{t,r,k} (w_rk x_tk)^2 (the energy of
 *    the products: it cannot be near zero by chance, as a single sum can) on cases with at least 2^16
 *    products, where the statistic is stable; bounded per kernel family below.
 * On failure the message names format, ISA, rows, cols, n, the output and the bound. */
#include "tests/test_util.h"

#include <math.h>
#include <sys/wait.h>

#include "quant/qformat.h"
#include "quant/qkernels.h"
#include "quant/quant.h"

/* NMSE bounds, applied from 2^16 products. f32 paths: summation order only (measured <= 2e-13).
 * int8 activations: the rounding of x, about 1.2e-5 for Gaussian x; these tests' x has 1% outliers at
 * 30 sigma, which coarsen their blocks: measured median 3e-5, max 9e-5. */
#define NMSE_F32 1e-11        /* ref (every format), avx2 mxfp8 */
#define NMSE_INT8_AFFINE 3e-4 /* avx2 affine, every width */
#define NMSE_INT8_FP4 3e-4    /* avx2 mxfp4, nvfp4 */

/* 1 if the table rounds x to int8 for this format. */
static int int8_activations(const char *isa, const struct mlxc_qmatrix *m)
{
    if (strcmp(isa, "avx2") != 0 || m->q.mode == MLXC_Q_MXFP8)
        return 0;
    return 1;
}

static double nmse_bound(const char *isa, const struct mlxc_qmatrix *m)
{
    if (!int8_activations(isa, m))
        return NMSE_F32;
    return m->q.mode == MLXC_Q_AFFINE ? NMSE_INT8_AFFINE : NMSE_INT8_FP4;
}

/* xorshift64*, uniform in [0, 1) and normal by Box-Muller */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static double uniform(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 0x2545F4914F6CDD1Dull) >> 11) * 0x1p-53;
}

static float normal(void)
{
    double u = uniform() + 1e-300, v = uniform();
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

struct qmat {
    struct mlxc_qmatrix m;
    uint8_t *mem[3];
};

/* A random (rows, cols) matrix of weights ~ N(0, 0.05) with a few outliers, quantized in format q with
 * source dtype dt; the buffers start at odd addresses. */
static void make_qmat(struct qmat *Q, struct mlxc_qparams q, enum mlxc_dtype dt, int64_t rows, int64_t cols)
{
    memset(Q, 0, sizeof *Q);
    float *w = malloc((size_t)(rows * cols) * sizeof(float));
    assert_non_null(w);
    for (int64_t i = 0; i < rows * cols; i++) {
        float v = 0.05f * normal();
        if (uniform() < 0.002)
            v *= 20.0f;
        w[i] = mlxc_round_to(v, dt);
    }
    int fp = q.mode != MLXC_Q_AFFINE;
    size_t pb = (size_t)(rows * cols * q.bits / 8), ng = (size_t)(rows * cols / q.group_size);
    size_t sb = ng * (fp ? 1 : mlxc_dtype_size(dt));
    for (int i = 0; i < 3; i++) {
        Q->mem[i] = malloc((i == 0 ? pb : sb) + 1);
        assert_non_null(Q->mem[i]);
    }
    struct mlxc_err e = {0};
    int rc = mlxc_quantize(w, rows, cols, q, dt, Q->mem[0] + 1, Q->mem[1] + 1, fp ? NULL : Q->mem[2] + 1, &e);
    if (rc)
        fail_msg("quantize: %s", e.msg);
    Q->m = (struct mlxc_qmatrix){q, rows, cols, Q->mem[0] + 1, Q->mem[1] + 1, fp ? NULL : Q->mem[2] + 1,
                                 fp ? MLXC_U8 : dt};
    assert_int_equal(mlxc_qmatrix_check(&Q->m, &e), 0);
    free(w);
}

static void free_qmat(struct qmat *Q)
{
    for (int i = 0; i < 3; i++)
        free(Q->mem[i]);
}

static const char *fmt_name(const struct mlxc_qmatrix *m, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s b%d g%d scales %s", mlxc_qmode_name(m->q.mode), m->q.bits, m->q.group_size,
             mlxc_dtype_name(m->scale_dtype));
    return buf;
}

/* Runs every kernel table on one case and checks it against the dequantize-then-f64 reference. */
static void check_case(struct mlxc_qparams q, enum mlxc_dtype dt, int64_t rows, int64_t cols, int64_t n)
{
    static const char *isas[] = {"ref", "avx2"};
    /* keep a case under ~3e5 products (seconds for the whole file under ASan at -O0): fewer tokens, then
     * fewer rows, never fewer columns */
    while (rows * cols * n > 300000 && n > 3)
        n = n == 17 ? 8 : 3;
    while (rows * cols * n > 300000 && rows > 7)
        rows = rows == 300 ? 67 : 7;
    struct qmat Q;
    make_qmat(&Q, q, dt, rows, cols);
    const struct mlxc_qmatrix *m = &Q.m;
    float *x = malloc((size_t)(n * cols) * sizeof(float)), *wd = malloc((size_t)(rows * cols) * sizeof(float));
    float *xmax = malloc((size_t)(n * cols) * sizeof(float));
    /* per output: the reference, sum |w x| and sum |w| max|x_block| */
    double *ref = malloc((size_t)(n * rows) * 3 * sizeof(double)), energy = 0;
    const int64_t ldy = rows + 5;
    float *y = malloc((size_t)(n * ldy) * sizeof(float));
    assert_true(x && wd && xmax && ref && y);
    for (int64_t i = 0; i < n * cols; i++)
        x[i] = normal() * (uniform() < 0.01 ? 30.0f : 1.0f); /* activations with outliers */
    for (int64_t i = 0; i < n * cols; i += 8) {                /* cols is a multiple of 16 */
        float a = 0;
        for (int j = 0; j < 8; j++)
            a = fmaxf(a, fabsf(x[i + j]));
        for (int j = 0; j < 8; j++)
            xmax[i + j] = a;
    }
    mlxc_qkernels_ref.dequantize_rows(m, 0, rows, wd);
    for (int64_t t = 0; t < n; t++) {
        double tmax = 0;
        for (int64_t k = 0; k < cols; k++)
            tmax = fmax(tmax, xmax[t * cols + k]);
        for (int64_t r = 0; r < rows; r++) {
            double sum = 0, sabs = 0, sq = 0;
            for (int64_t k = 0; k < cols; k++) {
                double w = wd[r * cols + k], p = w * x[t * cols + k];
                sum += p;
                sabs += fabs(p);
                sq += fabs(w) * (xmax[t * cols + k] / 254.0 + tmax / 65534.0);
                energy += p * p;
            }
            double *o = ref + 3 * (t * rows + r);
            o[0] = sum;
            o[1] = sabs;
            o[2] = sq;
        }
    }
    char name[96];
    for (size_t k = 0; k < 2; k++) {
        const struct mlxc_qkernels *kt = mlxc_qkernels_get(isas[k]);
        if (!kt)
            continue;
        const int i8 = int8_activations(isas[k], m);
        /* the rows in two calls, as two threads would split them: [0, mid) and [mid, rows) */
        int64_t mid = rows / 3;
        for (int64_t i = 0; i < n * ldy; i++)
            y[i] = -12345.0f;
        kt->qmatmul_rows(m, x, n, y, ldy, 0, mid);
        kt->qmatmul_rows(m, x, n, y, ldy, mid, rows);
        double num = 0;
        for (int64_t t = 0; t < n; t++) {
            for (int64_t r = 0; r < rows; r++) {
                const double *o = ref + 3 * (t * rows + r);
                double d = (double)y[t * ldy + r] - o[0];
                double bound = (double)cols * 0x1p-23 * o[1] + (i8 ? o[2] * 1.0001 : 0.0);
                if (!(fabs(d) <= bound))
                    fail_msg("%s isa=%s rows=%lld cols=%lld n=%lld: y[%lld, %lld] = %.9g, reference %.9g: error "
                             "%.3g exceeds the bound %.3g",
                             fmt_name(m, name, sizeof name), isas[k], (long long)rows, (long long)cols, (long long)n,
                             (long long)t, (long long)r, (double)y[t * ldy + r], o[0], fabs(d), bound);
                num += d * d;
            }
            for (int64_t r = rows; r < ldy; r++)
                if (y[t * ldy + r] != -12345.0f)
                    fail_msg("%s isa=%s rows=%lld cols=%lld n=%lld: wrote y[%lld, %lld] beyond the rows",
                             fmt_name(m, name, sizeof name), isas[k], (long long)rows, (long long)cols,
                             (long long)n, (long long)t, (long long)r);
        }
        /* prepared activations: the same bits, plain and exact */
        /* in two parts, as threads prepare them */
        void *prep = kt->prepare_alloc && kt->has(m) ? kt->prepare_alloc(m, n) : NULL;
        if (prep) {
            kt->prepare_tokens(prep, x, n / 2, n);
            kt->prepare_tokens(prep, x, 0, n / 2);
        }
        if (prep) {
            float *y2 = malloc((size_t)(n * ldy) * sizeof(float)), *y3 = malloc((size_t)(n * ldy) * sizeof(float));
            assert_true(y2 && y3);
            kt->qmatmul_prepared(m, prep, x, n, y2, ldy, 0, mid, 0);
            kt->qmatmul_prepared(m, prep, x, n, y2, ldy, mid, rows, 0);
            kt->qmatmul_rows_exact(m, x, n, y3, ldy, 0, rows);
            for (int64_t t = 0; t < n; t++)
                for (int64_t r = 0; r < rows; r++)
                    if (mlxc_f32_bits(y2[t * ldy + r]) != mlxc_f32_bits(y[t * ldy + r]))
                        fail_msg("%s isa=%s rows=%lld cols=%lld n=%lld: prepared y[%lld, %lld] differs",
                                 fmt_name(m, name, sizeof name), isas[k], (long long)rows, (long long)cols,
                                 (long long)n, (long long)t, (long long)r);
            kt->qmatmul_prepared(m, prep, x, n, y2, ldy, 0, rows, 1);
            for (int64_t t = 0; t < n; t++)
                for (int64_t r = 0; r < rows; r++)
                    if (mlxc_f32_bits(y2[t * ldy + r]) != mlxc_f32_bits(y3[t * ldy + r]))
                        fail_msg("%s isa=%s rows=%lld cols=%lld n=%lld: prepared exact y[%lld, %lld] differs",
                                 fmt_name(m, name, sizeof name), isas[k], (long long)rows, (long long)cols,
                                 (long long)n, (long long)t, (long long)r);
            kt->release(prep);
            free(y2);
            free(y3);
        }
        double nmse = energy > 0 ? num / energy : num, tol = nmse_bound(isas[k], m);
        if (getenv("MLXC_TEST_VERBOSE"))
            print_message("nmse %s isa=%s rows=%lld cols=%lld n=%lld: %.3g\n", fmt_name(m, name, sizeof name),
                          isas[k], (long long)rows, (long long)cols, (long long)n, nmse);
        if (rows * cols * n >= (1 << 16) && !(nmse <= tol))
            fail_msg("%s isa=%s rows=%lld cols=%lld n=%lld: NMSE %.3g exceeds %.3g", fmt_name(m, name, sizeof name),
                     isas[k], (long long)rows, (long long)cols, (long long)n, nmse, tol);
        /* dequantization is exact in every table */
        float *d2 = malloc((size_t)(rows * cols) * sizeof(float));
        assert_non_null(d2);
        kt->dequantize_rows(m, 0, rows, d2);
        for (int64_t i = 0; i < rows * cols; i++)
            if (mlxc_f32_bits(d2[i]) != mlxc_f32_bits(wd[i]))
                fail_msg("%s isa=%s rows=%lld cols=%lld: dequantized element %lld differs from ref",
                         fmt_name(m, name, sizeof name), isas[k], (long long)rows, (long long)cols, (long long)i);
        free(d2);
    }
    free(x);
    free(xmax);
    free(wd);
    free(ref);
    free(y);
    free_qmat(&Q);
}

static const int64_t ROWS[] = {1, 7, 67, 300};
static const int64_t NS[] = {1, 3, 8, 17};

/* Four cases per format: every row count once, columns from a few groups to 4096 + one group, and the
 * token counts rotated so every format meets several. */
static void run_format(struct mlxc_qparams q, enum mlxc_dtype dt, int salt)
{
    const int64_t gs = q.group_size;
    const int64_t colss[] = {3 * gs, gs * 5 + (gs == 16 ? 16 : 0), 4096 + gs};
    for (int i = 0; i < 4; i++) {
        check_case(q, dt, ROWS[i], colss[(salt + i) % 3], NS[(salt + 2 * i + i / 2) % 4]);
    }
}

static void test_affine_kernels(void **state)
{
    (void)state;
    static const int bits[] = {2, 3, 4, 5, 6, 8}, gss[] = {32, 64, 128};
    static const enum mlxc_dtype dts[] = {MLXC_F32, MLXC_F16, MLXC_BF16};
    int salt = 0;
    for (size_t b = 0; b < 6; b++)
        for (size_t g = 0; g < 3; g++)
            for (size_t d = 0; d < 3; d++)
                run_format((struct mlxc_qparams){MLXC_Q_AFFINE, bits[b], gss[g]}, dts[d], salt++);
}

static void test_fp_kernels(void **state)
{
    (void)state;
    static const enum mlxc_qmode modes[] = {MLXC_Q_MXFP4, MLXC_Q_NVFP4, MLXC_Q_MXFP8};
    static const enum mlxc_dtype dts[] = {MLXC_F32, MLXC_BF16};
    int salt = 0;
    for (size_t i = 0; i < 3; i++)
        for (size_t d = 0; d < 2; d++)
            run_format(mlxc_qparams_default(modes[i]), dts[d], salt++);
}

/* The 4-bit and 8-bit paths of the fast kernels against ref on every combination of the sizes. */
static void test_fast_paths_all_sizes(void **state)
{
    (void)state;
    static const struct mlxc_qparams fmts[] = {
        {MLXC_Q_AFFINE, 4, 32}, {MLXC_Q_AFFINE, 4, 64}, {MLXC_Q_AFFINE, 4, 128}, {MLXC_Q_AFFINE, 8, 32},
        {MLXC_Q_AFFINE, 8, 64}, {MLXC_Q_AFFINE, 8, 128}, {MLXC_Q_MXFP4, 4, 32},  {MLXC_Q_NVFP4, 4, 16},
        {MLXC_Q_MXFP8, 8, 32},
    };
    for (size_t f = 0; f < sizeof fmts / sizeof fmts[0]; f++)
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                check_case(fmts[f], MLXC_BF16, ROWS[i], fmts[f].group_size * (j + 1) + 4096 * (j == 3), NS[(i + j) % 4]);
    /* a prompt longer than the 256 tokens the AVX2 kernels quantize at a time */
    check_case((struct mlxc_qparams){MLXC_Q_AFFINE, 4, 64}, MLXC_F16, 7, 128, 300);
    check_case((struct mlxc_qparams){MLXC_Q_AFFINE, 3, 32}, MLXC_F32, 5, 96, 261);
}

/* The ISA that a fresh process chooses with MLXC_ISA set to env (NULL: unset), checked in a child. */
static void check_choice(const char *env, const char *want)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (env)
            setenv("MLXC_ISA", env, 1);
        else
            unsetenv("MLXC_ISA");
        _exit(strcmp(mlxc_quant_isa(), want) == 0 ? 0 : 1);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("MLXC_ISA=%s: the kernels chosen are not '%s'", env ? env : "(unset)", want);
}

static void test_dispatch(void **state)
{
    (void)state;
    const char *best = mlxc_qkernels_get("avx2") ? "avx2" : "ref";
    check_choice(NULL, best);
    check_choice("ref", "ref");
    check_choice("avx2", best); /* unavailable: the reference */
    check_choice("nonsense", "ref");
    const char *env = getenv("MLXC_ISA");
    if (!env || !*env)
        assert_string_equal(mlxc_quant_isa(), best);
    assert_non_null(mlxc_qkernels_get("ref"));
    assert_null(mlxc_qkernels_get("nonsense"));
    /* the public entry point: a 1 x 64 affine row times x = 1 gives the sum of the dequantized row */
    struct qmat Q;
    make_qmat(&Q, (struct mlxc_qparams){MLXC_Q_AFFINE, 3, 64}, MLXC_F16, 2, 64);
    float x[64], w[128], y[2] = {0, 0};
    for (int i = 0; i < 64; i++)
        x[i] = 1.0f;
    mlxc_dequantize_rows(&Q.m, 0, 2, w);
    mlxc_qmatmul_rows(&Q.m, x, 1, y, 2, 1, 2);
    double s = 0;
    for (int i = 64; i < 128; i++)
        s += w[i];
    assert_true(y[0] == 0.0f && fabs(y[1] - s) < 1e-5);
    free_qmat(&Q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dispatch),
        cmocka_unit_test(test_affine_kernels),
        cmocka_unit_test(test_fp_kernels),
        cmocka_unit_test(test_fast_paths_all_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* AMX bf16 products (core/matmul_amx.c) on a CPU that has them (skipped elsewhere):
 *  - mlxc_amx_rows on shapes that are not multiples of the tiles (tokens, rows, columns), with f32 and
 *    bf16 weight panels, against the product in double of the bf16-rounded inputs: only the f32 sums
 *    differ, so the bound is f32's; outputs outside the rows and tokens asked for stay untouched;
 *  - a bf16 linear's prefill (core/linear.c: packing shared by two threads, rows in panels, a bias)
 *    against the same double product;
 *  - a token's outputs are bitwise the same alone or among others (grouped prefill relies on it);
 *  - affine 4- and 8-bit weights dequantized straight into a panel equal, bit for bit, the panel packed
 *    from mlxc_dequantize_rows (every scale dtype and group size of the quantized fixtures);
 *  - the attention products on bf16 key/value rows strided as in the cache, head sizes 64 and 128, key
 *    counts off the tiles, against the double products of the bf16-rounded queries and weights;
 *  - decode attention (core/att_amx.h) on slot-major rows of several kv heads, groups of 1 to 12 query
 *    heads, head sizes 32 to 128, key counts off the tiles, against the double products of the f32
 *    queries and weights (no rounding: within f32 sums), and the gap between score rows untouched;
 *    the softmax partials between them against libm's double exp. */
#include "tests/test_util.h"

#include <math.h>

#include "core/att_amx.h"
#include "core/half.h"
#include "core/linear.h"
#include "core/matmul_amx.h"
#include "core/sys.h"
#include "quant/quant.h"
#include "tests/quant_fixture.h"

#ifdef MLXC_HAVE_AMX /* else the kernels are not in the library: see main */

static double bf(float f) { return mlxc_bf16_to_f32(mlxc_f32_to_bf16(f)); }

/* y (T, ldy) against sum_k bf16(x[t, k]) bf16(w[r, k]) in double, within f32 rounding of the sums. */
static void check_product(const float *x, const float *w, const float *bias, int64_t T, int64_t n, int64_t cols,
                          const float *y, int64_t ldy, const char *what)
{
    for (int64_t t = 0; t < T; t++)
        for (int64_t r = 0; r < n; r++) {
            double s = bias ? bias[r] : 0, mag = 0;
            for (int64_t k = 0; k < cols; k++) {
                s += bf(x[t * cols + k]) * bf(w[r * cols + k]);
                mag += fabs(bf(x[t * cols + k]) * bf(w[r * cols + k]));
            }
            if (fabs(y[t * ldy + r] - s) > 2e-6 * mag + 1e-7)
                fail_msg("%s (T %lld, rows %lld, cols %lld): y[%lld, %lld] = %.9g, the product is %.9g", what,
                         (long long)T, (long long)n, (long long)cols, (long long)t, (long long)r, y[t * ldy + r], s);
        }
}

static void test_rows_shapes(void **state)
{
    (void)state;
    static const int64_t shapes[][3] = {{37, 50, 300}, {1, 1, 1}, {32, 64, 64}, {9, 17, 31}, {70, 33, 1000}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const int64_t T = shapes[i][0], n = shapes[i][1], cols = shapes[i][2], ldy = n + 3;
        float *x = malloc(sizeof(float) * T * cols), *w = malloc(sizeof(float) * n * cols);
        float *y = malloc(sizeof(float) * T * ldy);
        uint16_t *wb = malloc(sizeof(uint16_t) * n * cols), *panel = malloc(sizeof(uint16_t) * mlxc_amx_panel_elems(cols));
        uint32_t *xp = malloc(sizeof(uint32_t) * mlxc_amx_x_words(T, cols));
        for (int64_t k = 0; k < T * cols; k++)
            x[k] = test_value(k, 401) * 3.0f;
        for (int64_t k = 0; k < n * cols; k++)
            w[k] = test_value(k + 17, 397) * 0.25f;
        mlxc_f32_to_bf16_row(w, wb, (size_t)(n * cols));
        mlxc_amx_pack_x(x, T, cols, 0, mlxc_amx_tp(T) / 16, xp);
        for (int from_bf16 = 0; from_bf16 < 2; from_bf16++) {
            for (int64_t k = 0; k < T * ldy; k++)
                y[k] = -12345.0f;
            if (from_bf16) {
                mlxc_amx_pack_w_bf16(wb, 0, n, cols, panel);
            } else { /* in two calls where n > 16, as core/linear.c packs dequantized rows */
                const int64_t h = n > 16 ? 16 : n;
                mlxc_amx_pack_w_f32(w, 0, h, cols, panel);
                mlxc_amx_pack_w_f32(w + h * cols, h, n - h, cols, panel);
            }
            mlxc_amx_pad_rows(panel, n, cols);
            mlxc_amx_rows(xp, T, cols, panel, n, y, ldy);
            check_product(x, w, NULL, T, n, cols, y, ldy, from_bf16 ? "bf16 panel" : "f32 panel");
            for (int64_t t = 0; t < T; t++)
                for (int64_t r = n; r < ldy; r++)
                    assert_true(y[t * ldy + r] == -12345.0f);
        }
        free(x);
        free(w);
        free(y);
        free(wb);
        free(panel);
        free(xp);
    }
}

enum { LR = 600, LC = 328, LT = 45 }; /* panels of 64 rows, the last partial; tokens past a tile's */

static void make_linear(struct mlxc_linear *l, uint16_t *wb, float *w, float *bias)
{
    for (int64_t k = 0; k < (int64_t)LR * LC; k++)
        w[k] = test_value(k, 389) * 0.5f;
    mlxc_f32_to_bf16_row(w, wb, (size_t)LR * LC);
    for (int r = 0; r < LR; r++)
        bias[r] = (float)(r % 5) - 2.0f;
    *l = (struct mlxc_linear){.kind = MLXC_W_BF16, .rows = LR, .cols = LC, .w = wb, .bias = bias};
}

static void test_linear_bf16(void **state)
{
    (void)state;
    static uint16_t wb[LR * LC];
    static float w[LR * LC], x[LT * LC], y[LT * LR], bias[LR];
    struct mlxc_linear l;
    make_linear(&l, wb, w, bias);
    for (int64_t k = 0; k < (int64_t)LT * LC; k++)
        x[k] = test_value(k + 5, 409);
    assert_string_equal(mlxc_linear_prefill_kernel(&l), "amx-bf16");
    struct mlxc_pool *pool = mlxc_pool_create(2);
    mlxc_linear_forward(&l, x, LT, y, pool);
    check_product(x, w, bias, LT, LR, LC, y, LR, "bf16 linear, 2 threads");
    mlxc_pool_free(pool);
}

static void test_token_alone_or_not(void **state)
{
    (void)state;
    static uint16_t wb[LR * LC];
    static float w[LR * LC], x[LT * LC], all[LT * LR], few[LT * LR], bias[LR];
    struct mlxc_linear l;
    make_linear(&l, wb, w, bias);
    for (int64_t k = 0; k < (int64_t)LT * LC; k++)
        x[k] = test_value(k + 11, 401);
    mlxc_linear_forward(&l, x, LT, all, NULL);
    enum { FROM = 30, N = 9 }; /* 9 tokens: still many enough for the AMX path */
    mlxc_linear_forward(&l, x + FROM * LC, N, few, NULL);
    assert_memory_equal(few, all + FROM * LR, sizeof(float) * N * LR);
}

static int affine_panels;

static void check_affine_panel(const struct mlxc_linear *l, struct mlxc_pool *pool, const char *what)
{
    (void)pool;
    const int64_t n = l->rows < 40 ? l->rows : 40; /* rows from 3: not at a panel's start */
    uint16_t *direct = malloc(sizeof(uint16_t) * mlxc_amx_panel_elems(l->cols));
    uint16_t *packed = malloc(sizeof(uint16_t) * mlxc_amx_panel_elems(l->cols));
    float *rows = malloc(sizeof(float) * n * l->cols);
    memset(direct, 0, sizeof(uint16_t) * mlxc_amx_panel_elems(l->cols));
    memset(packed, 0, sizeof(uint16_t) * mlxc_amx_panel_elems(l->cols));
    if (!mlxc_amx_pack_w_affine(&l->q, 3, n - 3, direct))
        goto out;
    affine_panels++;
    mlxc_dequantize_rows(&l->q, 3, n - 3, rows);
    mlxc_amx_pack_w_f32(rows, 0, n - 3, l->cols, packed);
    if (memcmp(direct, packed, sizeof(uint16_t) * mlxc_amx_panel_elems(l->cols)) != 0)
        fail_msg("%s: the panel dequantized straight differs from the one packed from mlxc_dequantize_rows", what);
out:
    free(direct);
    free(packed);
    free(rows);
}

static void test_affine_panels(void **state)
{
    (void)state;
    enum { R = 64, C = 256 };
    float *w = malloc(sizeof(float) * R * C);
    for (int i = 0; i < R * C; i++)
        w[i] = test_value(i, 383) * 0.1f;
    affine_panels = 0;
    fixture_each_quant(w, R, C, NULL, NULL, check_affine_panel);
    assert_true(affine_panels >= 2); /* 4 and 8 bits at least */
    free(w);
}

static void test_attention_products(void **state)
{
    (void)state;
    static const int cases[][3] = {{64, 37, 45}, {128, 5, 300}, {64, 16, 1}}; /* hd, queries, keys */
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const int hd = cases[c][0], nq = cases[c][1];
        const int64_t n = cases[c][2], ld = 3 * hd, lds = n + 7;
        uint16_t *kv = malloc(sizeof(uint16_t) * n * ld);
        float *q = malloc(sizeof(float) * nq * hd), *w = malloc(sizeof(float) * nq * lds);
        float *s = malloc(sizeof(float) * nq * lds), *out = malloc(sizeof(float) * nq * hd);
        void *scratch = mlxc_alloc_aligned(mlxc_amx_att_scratch(n, nq, hd));
        for (int64_t i = 0; i < n * ld; i++)
            kv[i] = mlxc_f32_to_bf16(test_value(i, 389) * 2.0f);
        for (int64_t i = 0; i < (int64_t)nq * hd; i++)
            q[i] = test_value(i + 3, 401);
        for (int64_t i = 0; i < (int64_t)nq * lds; i++)
            w[i] = test_value(i + 7, 409) + 0.5f;
        mlxc_amx_att_scores(kv, ld, n, q, nq, hd, 0.125f, s, lds, scratch);
        mlxc_amx_att_values(kv + hd, ld, n, w, nq, lds, hd, out, scratch); /* values: the next hd of each row */
        for (int i = 0; i < nq; i++) {
            for (int64_t p = 0; p < n; p++) {
                double d = 0, mag = 0;
                for (int k = 0; k < hd; k++) {
                    const double t = bf(q[i * hd + k]) * mlxc_bf16_to_f32(kv[p * ld + k]);
                    d += t;
                    mag += fabs(t);
                }
                if (fabs(s[i * lds + p] - 0.125 * d) > 0.125 * (2e-6 * mag + 1e-7))
                    fail_msg("scores hd %d: s[%d, %lld] = %.9g, the product is %.9g", hd, i, (long long)p,
                             s[i * lds + p], 0.125 * d);
            }
            for (int k = 0; k < hd; k++) {
                double d = 0, mag = 0;
                for (int64_t p = 0; p < n; p++) {
                    const double t = bf(w[i * lds + p]) * mlxc_bf16_to_f32(kv[p * ld + hd + k]);
                    d += t;
                    mag += fabs(t);
                }
                if (fabs(out[i * hd + k] - d) > 2e-6 * mag + 1e-7)
                    fail_msg("values hd %d: out[%d, %d] = %.9g, the product is %.9g", hd, i, k, out[i * hd + k], d);
            }
        }
        free(kv);
        free(q);
        free(w);
        free(s);
        free(out);
        mlxc_free_aligned(scratch);
    }
}

/* One decode shape: kvh kv heads of head size hd per slot, group queries each, n keys. */
static void check_decode(int hd, int kvh, int group, int64_t n)
{
    const int nq = kvh * group;
    const int64_t ld = kvh * hd + 16, lds = n + 5; /* rows strided as a cache's, a gap after each score row */
    uint16_t *k = malloc(sizeof(uint16_t) * n * ld), *v = malloc(sizeof(uint16_t) * n * ld);
    float *q = malloc(sizeof(float) * nq * hd), *w = malloc(sizeof(float) * nq * lds);
    float *s = malloc(sizeof(float) * nq * lds), *out = malloc(sizeof(float) * nq * hd);
    void *scratch = mlxc_alloc_aligned(mlxc_amx_decode_scratch(nq, group, hd));
    for (int64_t i = 0; i < n * ld; i++) {
        k[i] = mlxc_f32_to_bf16(test_value(i, 419) * 2.0f);
        v[i] = mlxc_f32_to_bf16(test_value(i + 5, 421));
    }
    for (int64_t i = 0; i < (int64_t)nq * hd; i++)
        q[i] = test_value(i + 3, 431) * 1.7f;
    for (int64_t i = 0; i < (int64_t)nq * lds; i++) {
        w[i] = test_value(i + 7, 433) + 0.5f;
        s[i] = 7.0f;
    }
    mlxc_amx_decode_scores(k, ld, n, q, nq, group, hd, 0.125f, s, lds, scratch);
    mlxc_amx_decode_values(v, ld, n, w, nq, group, lds, hd, out);
    for (int i = 0; i < nq; i++) {
        const int64_t off = (int64_t)(i / group) * hd;
        for (int64_t p = 0; p < lds; p++) {
            double d = 0, mag = 0;
            for (int c = 0; p < n && c < hd; c++) {
                const double t = (double)q[i * hd + c] * mlxc_bf16_to_f32(k[p * ld + off + c]);
                d += t;
                mag += fabs(t);
            }
            const double want = p < n ? 0.125 * d : 7.0;
            if (fabs(s[i * lds + p] - want) > 0.125 * (2e-6 * mag + 1e-7))
                fail_msg("decode scores hd %d group %d n %lld: s[%d, %lld] = %.9g, want %.9g", hd, group, (long long)n,
                         i, (long long)p, s[i * lds + p], want);
        }
        for (int c = 0; c < hd; c++) {
            double d = 0, mag = 0;
            for (int64_t p = 0; p < n; p++) {
                const double t = (double)w[i * lds + p] * mlxc_bf16_to_f32(v[p * ld + off + c]);
                d += t;
                mag += fabs(t);
            }
            if (fabs(out[i * hd + c] - d) > 2e-6 * mag + 1e-7)
                fail_msg("decode values hd %d group %d n %lld: out[%d, %d] = %.9g, want %.9g", hd, group,
                         (long long)n, i, c, out[i * hd + c], d);
        }
    }
    free(k);
    free(v);
    free(q);
    free(w);
    free(s);
    free(out);
    mlxc_free_aligned(scratch);
}

static void test_decode_attention(void **state)
{
    (void)state;
    static const int shapes[][4] = {{64, 8, 4, 256}, {64, 2, 4, 17}, {128, 2, 8, 300}, {32, 3, 1, 16},
                                    {96, 1, 12, 1},  {64, 4, 7, 45}, {128, 1, 5, 33}, {64, 2, 2, 15}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        check_decode(shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3]);
}

/* Keys with a single 1 or -2 each: every score is one query element times that, exactly, as the three
 * bf16 parts of a query add up to the f32 query (two parts would leave its last 8 bits out). */
static void test_decode_scores_exact(void **state)
{
    (void)state;
    enum { HD = 64, KVH = 2, GROUP = 4, NQ = KVH * GROUP, N = 40 };
    uint16_t k[N * KVH * HD] = {0};
    float q[NQ * HD], s[NQ * N];
    void *scratch = mlxc_alloc_aligned(mlxc_amx_decode_scratch(NQ, GROUP, HD));
    for (int p = 0; p < N; p++)
        for (int h = 0; h < KVH; h++)
            k[(p * KVH + h) * HD + (p * 7 + h) % HD] = mlxc_f32_to_bf16(p % 3 ? 1.0f : -2.0f);
    for (int i = 0; i < NQ * HD; i++)
        q[i] = test_value(i, 439) * 3.0f + 1e-3f;
    mlxc_amx_decode_scores(k, KVH * HD, N, q, NQ, GROUP, HD, 0.125f, s, N, scratch);
    for (int i = 0; i < NQ; i++)
        for (int p = 0; p < N; p++) {
            const float want = 0.125f * (p % 3 ? 1.0f : -2.0f) * q[i * HD + (p * 7 + i / GROUP) % HD];
            if (s[i * N + p] != want)
                fail_msg("exact scores: s[%d, %d] = %.9g, want %.9g", i, p, s[i * N + p], want);
        }
    mlxc_free_aligned(scratch);
}

/* The chunk softmax partials against libm's double exp: the max exactly, each exp(s - m) and their sum
 * to a few f32 ulps of exp of the f32 difference (the polynomial is Cephes' expf), 0 far below the max;
 * lengths around the 16 lanes. */
static void test_decode_exp(void **state)
{
    (void)state;
    static const int64_t lengths[] = {1, 7, 16, 17, 31, 256, 300};
    for (size_t li = 0; li < sizeof lengths / sizeof lengths[0]; li++) {
        const int64_t n = lengths[li];
        float s[300], x[300];
        for (int64_t p = 0; p < n; p++)
            x[p] = s[p] = p % 11 == 5 ? -200.0f : test_value(p, 443) * 40.0f;
        float m;
        const float sum = mlxc_amx_decode_exp(s, n, &m);
        double want_m = -INFINITY, want_sum = 0;
        for (int64_t p = 0; p < n; p++)
            want_m = x[p] > want_m ? x[p] : want_m;
        if (m != (float)want_m)
            fail_msg("exp n %lld: max %.9g, want %.9g", (long long)n, m, want_m);
        for (int64_t p = 0; p < n; p++) {
            const double e = exp((double)(x[p] - m)); /* the f32 difference, as softmax takes it */
            want_sum += e;
            if (fabs(s[p] - e) > 4e-7 * e + (x[p] - want_m < -87.0 ? 1e-38 : 0.0))
                fail_msg("exp n %lld: s[%lld] = %.9g, want %.9g", (long long)n, (long long)p, s[p], e);
        }
        if (fabs(sum - want_sum) > 1e-6 * want_sum)
            fail_msg("exp n %lld: sum %.9g, want %.9g", (long long)n, sum, want_sum);
    }
}

int main(void)
{
    if (!mlxc_amx_usable())
        return test_skip_all("no AMX-BF16 and AVX512-BF16 here, or MLXC_ISA keeps to other kernels");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_shapes),
        cmocka_unit_test(test_linear_bf16),
        cmocka_unit_test(test_token_alone_or_not),
        cmocka_unit_test(test_affine_panels),
        cmocka_unit_test(test_attention_products),
        cmocka_unit_test(test_decode_attention),
        cmocka_unit_test(test_decode_scores_exact),
        cmocka_unit_test(test_decode_exp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#else
int main(void) { return test_skip_all("built without the AMX kernels (the compiler lacks their flags)"); }
#endif

/* Every float kernel variant this CPU runs (avx2) against the plain-C reference, on random inputs with
 * awkward sizes, plus the thread pool's range split. NMSE tolerance per kernel; the case is printed on
 * failure. */
#include "tests/test_util.h"

#include <sched.h>

#include <math.h>

#include "core/half.h"
#include "core/kernels.h"
#include "core/pool.h"

#define MAX_NMSE 1e-10
/* Queries rounded to int16 per group: each element off by up to step / 2, step = the group's largest / 32767.
 * A group holding one of the test's 8x elements has step 2.4e-4 (variance step^2 / 12 = 5e-9 per element
 * against about 0.4 for q^2); one query has no others to average with (1.2e-8 seen, hd 128, gs 32). */
#define MAX_NMSE_INT16_QUERIES 4e-8

static uint64_t rng = 88172645463325252ull;
static float frand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}

static double nmse(const float *a, const float *b, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return den > 0 ? num / den : num;
}

static void check_matmul(const struct mlxc_kernels *k, int dtype)
{
    static const int64_t sizes[][3] = {{1, 1, 1}, {7, 9, 1}, {31, 67, 3}, {67, 128, 2}, {5, 4099, 1}, {33, 260, 5}};
    for (size_t c = 0; c < sizeof sizes / sizeof sizes[0]; c++) {
        int64_t rows = sizes[c][0], cols = sizes[c][1], n = sizes[c][2];
        float *wf = malloc((size_t)(rows * cols) * 4), *x = malloc((size_t)(n * cols) * 4);
        uint16_t *wh = malloc((size_t)(rows * cols) * 2 + 2);
        float *y0 = calloc((size_t)(n * rows), 4), *y1 = calloc((size_t)(n * rows), 4);
        for (int64_t i = 0; i < rows * cols; i++) {
            wf[i] = frand();
            wh[i] = dtype == 1 ? mlxc_f32_to_f16(wf[i]) : mlxc_f32_to_bf16(wf[i]);
        }
        for (int64_t i = 0; i < n * cols; i++)
            x[i] = frand();
        /* an unaligned weight pointer (odd address), as in a mapped safetensors file */
        size_t wbytes = (size_t)(rows * cols) * (dtype == 0 ? 4 : 2);
        char *raw = malloc(wbytes + 1);
        memcpy(raw + 1, dtype == 0 ? (const void *)wf : (const void *)wh, wbytes);
        const void *w = raw + 1;
        mlxc_matmul_fn ref = dtype == 0 ? mlxc_kernels_ref.matmul_f32 : dtype == 1 ? mlxc_kernels_ref.matmul_f16
                                                                                    : mlxc_kernels_ref.matmul_bf16;
        mlxc_matmul_fn fast = dtype == 0 ? k->matmul_f32 : dtype == 1 ? k->matmul_f16 : k->matmul_bf16;
        ref(w, cols, x, n, y0, rows, 0, rows);
        fast(w, cols, x, n, y1, rows, 0, rows);
        double err = nmse(y1, y0, n * rows);
        if (err > MAX_NMSE)
            fail_msg("%s matmul dtype %d rows %lld cols %lld n %lld: nmse %g", k->isa, dtype, (long long)rows,
                     (long long)cols, (long long)n, err);
        /* a partial row range writes only its rows */
        for (int64_t i = 0; i < n * rows; i++)
            y1[i] = 12345.0f;
        fast(w, cols, x, n, y1, rows, rows / 3, rows / 3 + 1);
        for (int64_t t = 0; t < n; t++)
            for (int64_t r = 0; r < rows; r++)
                if (r != rows / 3)
                    assert_true(y1[t * rows + r] == 12345.0f);
        free(raw);
        free(wf);
        free(wh);
        free(x);
        free(y0);
        free(y1);
    }
}

/* The table compared with the reference: avx2, or the reference itself on a CPU without AVX2 (said once). */
static const struct mlxc_kernels *kernels_under_test(void)
{
    static int said;
    const struct mlxc_kernels *k = mlxc_kernels_named("avx2");
    if (k)
        return k;
    if (!said++)
        print_message("# this CPU has no AVX2: only the reference runs\n");
    return &mlxc_kernels_ref;
}

static void test_matmul_variants(void **state)
{
    (void)state;
    const struct mlxc_kernels *k = kernels_under_test();
    for (int dtype = 0; dtype < 3; dtype++)
        check_matmul(k, dtype);
}

static void test_dot_axpy(void **state)
{
    (void)state;
    const struct mlxc_kernels *k = kernels_under_test();
    for (int64_t n = 0; n < 70; n++) {
        float a[70], b[70], y0[70], y1[70];
        for (int64_t i = 0; i < n; i++) {
            a[i] = frand();
            b[i] = frand();
            y0[i] = y1[i] = frand();
        }
        float d0 = mlxc_kernels_ref.dot(a, b, n), d1 = k->dot(a, b, n);
        assert_true(fabsf(d0 - d1) <= 1e-5f * (1 + fabsf(d0)));
        mlxc_kernels_ref.axpy(0.5f, a, y0, n);
        k->axpy(0.5f, a, y1, n);
        for (int64_t i = 0; i < n; i++)
            assert_true(fabsf(y0[i] - y1[i]) <= 1e-6f);
    }
}

/* max and exp_sum against the reference: values from -100 to 10 (the sum's terms below exp(-87.3) count as
 * zero in the vector kernel), every tail length, with and without storing the terms. */
static void test_max_exp_sum(void **state)
{
    (void)state;
    const struct mlxc_kernels *k = kernels_under_test();
    for (int64_t n = 1; n < 300; n += 7) {
        float x[300], y0[300], y1[300];
        for (int64_t i = 0; i < n; i++)
            x[i] = frand() * 55.0f - 45.0f;
        if (n > 1)
            x[n / 2] = -INFINITY; /* a masked logit */
        assert_true(k->max(x, n) == mlxc_kernels_ref.max(x, n));
        float m = mlxc_kernels_ref.max(x, n);
        float s0 = mlxc_kernels_ref.exp_sum(y0, x, n, m), s1 = k->exp_sum(y1, x, n, m);
        if (fabsf(s0 - s1) > 1e-5f * s0)
            fail_msg("%s exp_sum n %lld: %.9g vs %.9g", k->isa, (long long)n, s1, s0);
        assert_true(k->exp_sum(NULL, x, n, m) == s1);
        for (int64_t i = 0; i < n; i++)
            if (fabsf(y0[i] - y1[i]) > 2e-7f * y0[i] + 1e-37f)
                fail_msg("%s exp_sum n %lld term %lld: %g vs %g", k->isa, (long long)n, (long long)i, y1[i], y0[i]);
    }
}

/* swiglu against the reference (expf), within 5e-7 relative (the vector exp and the quotient: 3.6e-7 was the
 * worst of 2e7 random gates in [-20, 20]): gates from -100 to 100 (e^-g overflows past 88 in the naive form;
 * below -87.3 the vector kernel's e^g is 0 where expf's is subnormal, so |silu| < 1e-34 counts as 0),
 * every tail length; an element's value does not depend on where the array starts or ends. */
static void test_swiglu(void **state)
{
    (void)state;
    const struct mlxc_kernels *k = kernels_under_test();
    for (int64_t n = 1; n < 300; n += 7) {
        float g[300], u[300], y0[300], y1[300], y2[300];
        for (int64_t i = 0; i < n; i++) {
            g[i] = i % 11 == 3 ? frand() * 200.0f - 100.0f : frand() * 20.0f - 10.0f;
            u[i] = frand() * 4.0f - 2.0f;
        }
        memcpy(y0, g, sizeof(float) * n);
        memcpy(y1, g, sizeof(float) * n);
        memcpy(y2, g, sizeof(float) * n);
        mlxc_kernels_ref.swiglu(y0, u, n);
        k->swiglu(y1, u, n);
        for (int64_t i = 0; i < n; i++)
            if (fabsf(y0[i] - y1[i]) > 5e-7f * fabsf(y0[i]) + 1e-34f) /* worst seen: 3.6e-7 in 2e7 gates */
                fail_msg("%s swiglu n %lld [%lld] g %g: %.9g vs %.9g", k->isa, (long long)n, (long long)i, g[i],
                         y1[i], y0[i]);
        const int64_t h = n / 3; /* in two calls split at h */
        k->swiglu(y2, u, h);
        k->swiglu(y2 + h, u + h, n - h);
        assert_memory_equal(y1, y2, sizeof(float) * n);
    }
}

/* att_decode (decode's partials m, l, out in one call; the AVX2 one in a single pass over blocks of rows)
 * against the reference's, which composes att_scores, max, exp_sum and att_values: the keys and values
 * are the same rows here (the formula does not care). */
static void check_att_decode(const struct mlxc_kernels *k, const void *kv, enum mlxc_dtype dt, int64_t ld, int64_t n,
                             const float *q, int nq, int group, int hd, float softcap)
{
    float *scratch = malloc((size_t)(nq * n) * 4), *o0 = malloc((size_t)(nq * hd) * 4), *o1 = malloc((size_t)(nq * hd) * 4);
    float *m0 = malloc((size_t)nq * 4 * 4), *l0 = m0 + nq, *m1 = l0 + nq, *l1 = m1 + nq;
    mlxc_kernels_ref.att_decode(kv, kv, dt, ld, n, q, nq, group, hd, 0.125f, softcap, scratch, m0, l0, o0);
    k->att_decode(kv, kv, dt, ld, n, q, nq, group, hd, 0.125f, softcap, scratch, m1, l1, o1);
    double em = 0; /* the maxima: absolute error (a score may be near 0), within the rounding of hd O(1) products */
    for (int i = 0; i < nq; i++)
        em = fmax(em, fabs((double)m1[i] - m0[i]));
    const double el = nmse(l1, l0, nq), eo = nmse(o1, o0, nq * hd);
    if (em > 1e-7 * hd || el > MAX_NMSE || eo > MAX_NMSE)
        fail_msg("%s att_decode hd %d n %lld dtype %d nq %d group %d softcap %g: max error m %g, nmse l %g out %g", k->isa, hd,
                 (long long)n, (int)dt, nq, group, softcap, em, el, eo);
    free(scratch);
    free(o0);
    free(o1);
    free(m0);
}

/* The attention kernels against the reference: key/value rows strided as in the cache (ld > heads * hd),
 * every cache dtype, head sizes with and without a vector path (hd % 16), block and prefetch edges of the
 * key loops, one kv head (prefill: group = nq) and several (decode), GQA groups that quads of 4 do not
 * divide, and bf16 query passes split by the kernel's buffer (hd 1024: whole heads do not fit); then
 * att_decode on the same rows, with and without a softcap (more than 16 rows: several blocks). */
static void test_attention_kernels(void **state)
{
    (void)state;
    const struct mlxc_kernels *k = kernels_under_test();
    static const int hds[] = {8, 36, 64, 80, 128, 256, 1024};
    static const int64_t ns[] = {1, 7, 8, 9, 16, 17, 100, 130};
    static const enum mlxc_dtype dts[] = {MLXC_F32, MLXC_F16, MLXC_BF16};
    static const int shapes[][2] = {{1, 1}, {3, 3}, {5, 5}, {8, 4}, {14, 7}, {12, 2}, {40, 4}, {24, 12}, {32, 1}, {6, 2}}; /* nq, group */
    for (size_t a = 0; a < sizeof hds / sizeof hds[0]; a++)
        for (size_t b = 0; b < sizeof ns / sizeof ns[0]; b++)
            for (size_t c = 0; c < 3; c++)
                for (size_t g = 0; g < sizeof shapes / sizeof shapes[0]; g++) {
                    const int hd = hds[a], nq = shapes[g][0], group = shapes[g][1];
                    if (hd == 1024 && b % 3) /* the big head on a few row counts */
                        continue;
                    const int64_t n = ns[b], ld = (nq / group + 1) * hd, lds = n + 3;
                    const enum mlxc_dtype dt = dts[c];
                    size_t es = mlxc_dtype_size(dt);
                    unsigned char *kv = malloc((size_t)(n * ld) * es);
                    for (int64_t i = 0; i < n * ld; i++) {
                        float f = frand();
                        uint16_t h = dt == MLXC_F16 ? mlxc_f32_to_f16(f) : mlxc_f32_to_bf16(f);
                        if (dt == MLXC_F32)
                            memcpy(kv + 4 * i, &f, 4);
                        else
                            memcpy(kv + 2 * i, &h, 2);
                    }
                    float *q = malloc((size_t)(nq * hd) * 4), *s0 = malloc((size_t)(nq * lds) * 4);
                    float *s1 = malloc((size_t)(nq * lds) * 4);
                    float *o0 = malloc((size_t)(nq * hd) * 4), *o1 = malloc((size_t)(nq * hd) * 4);
                    for (int64_t i = 0; i < nq * hd; i++)
                        q[i] = frand();
                    for (int64_t i = 0; i < nq * lds; i++)
                        s0[i] = s1[i] = 7.0f; /* the gap between rows stays untouched */
                    mlxc_kernels_ref.att_scores(kv, dt, ld, n, q, nq, group, hd, 0.125f, s0, lds);
                    k->att_scores(kv, dt, ld, n, q, nq, group, hd, 0.125f, s1, lds);
                    double err = nmse(s1, s0, nq * lds);
                    if (err > MAX_NMSE)
                        fail_msg("%s att_scores hd %d n %lld dtype %d nq %d group %d: nmse %g", k->isa, hd,
                                 (long long)n, (int)dt, nq, group, err);
                    for (int i = 0; i < nq; i++)
                        for (int64_t p = n; p < lds; p++)
                            assert_true(s1[i * lds + p] == 7.0f);
                    mlxc_kernels_ref.att_values(kv, dt, ld, n, s0, nq, group, lds, hd, o0);
                    k->att_values(kv, dt, ld, n, s0, nq, group, lds, hd, o1);
                    err = nmse(o1, o0, nq * hd);
                    if (err > MAX_NMSE)
                        fail_msg("%s att_values hd %d n %lld dtype %d nq %d group %d: nmse %g", k->isa, hd,
                                 (long long)n, (int)dt, nq, group, err);
                    check_att_decode(k, kv, dt, ld, n, q, nq, group, hd, b % 2 ? 2.0f : 0.0f);
                    free(kv);
                    free(q);
                    free(s0);
                    free(s1);
                    free(o0);
                    free(o1);
                }
}

/* att_decode_q against the reference's two passes (att_scores_q, max, exp_sum, att_values_q), keys and
 * values the same rows: l and out within what the int16 rounding of the queries does through exp (up to
 * 4e-8 here at scale 1/8, the same with the AVX2 two passes); and against the same table's two passes,
 * whose scores (att_scores_q, checked above) round the queries alike: the maxima within a few ulp of the
 * scores' sums (7.5e-7 seen), l as close as the float kernels, out within the AVX2 one pass's int16
 * rounding of the weights (per block and query, 2^-16 of the largest: 1.1e-9 seen). A large scale makes
 * the softmax peaky (whole blocks of weights near 0, subnormal or 0), where the int16 queries move the
 * scores too far for the reference bound, so only the two passes are compared then. */
static void check_att_decode_q(const struct mlxc_kernels *k, const struct mlxc_qkv_rows *r, int64_t n, const float *q,
                               int nq, int group, int hd, float scale, float softcap)
{
    float *scratch = malloc((size_t)(nq * n) * 4), *o0 = malloc((size_t)(nq * hd) * 4), *o1 = malloc((size_t)(nq * hd) * 4);
    float *m0 = malloc((size_t)nq * 4 * 4), *l0 = m0 + nq, *m1 = l0 + nq, *l1 = m1 + nq;
    mlxc_kernels_ref.att_decode_q(r, r, n, q, nq, group, hd, scale, softcap, scratch, m0, l0, o0);
    k->att_decode_q(r, r, n, q, nq, group, hd, scale, softcap, scratch, m1, l1, o1);
    const double el_ref = scale > 1.0f ? 0.0 : nmse(l1, l0, nq), eo_ref = scale > 1.0f ? 0.0 : nmse(o1, o0, nq * hd);
    mlxc_att_decode_q_two_pass(k, r, r, n, q, nq, group, hd, scale, softcap, scratch, m0, l0, o0);
    double em = 0;
    for (int i = 0; i < nq; i++)
        em = fmax(em, fabs((double)m1[i] - m0[i]) / (1.0 + fabs((double)m0[i])));
    const double el = nmse(l1, l0, nq), eo = nmse(o1, o0, nq * hd);
    const double lbound = scale > 1.0f ? 1e-8 : MAX_NMSE; /* scores in the hundreds: an ulp of one is ~1e-5 */
    /* a score's terms (scale and bias times a group's sums) grow with the scale, and so do their ulps,
     * whatever the score they cancel down to (at scale 20, a max of 0.134 off by 1.2e-5 was seen) */
    const double mbound = 2e-6 * fmax(1.0, scale / 0.125);
    if (el_ref > 1e-7 || eo_ref > 1e-7 || em > mbound || el > lbound || eo > 1e-8)
        fail_msg("%s att_decode_q hd %d n %lld bits %d gs %d nq %d group %d scale %g softcap %g: nmse l %g out %g "
                 "against the reference; relative error m %g, nmse l %g out %g against two passes",
                 k->isa, hd, (long long)n, r->bits, r->gs, nq, group, scale, softcap, el_ref, eo_ref, em, el, eo);
    free(scratch);
    free(o0);
    free(o1);
    free(m0);
}

/* The quantized-cache attention kernels against the reference, which dequantizes every value as MLX does:
 * random codes of every width (any byte string is valid codes), scales and biases of each dtype, rows
 * strided as in the cache, group sizes 32 to 128 (one or several groups per head), the same head sizes,
 * row counts and query shapes as above (heads past the kernels' buffers go to the reference); then
 * att_decode_q on the same rows, with and without a softcap (130 rows: several blocks). The AVX2
 * scores round the queries to int16 per group (2^-16 of the group's largest element), hence their
 * looser bound. */
static void test_quantized_attention_kernels(void **state)
{
    (void)state;
    const struct mlxc_kernels *k = kernels_under_test();
    static const int hds[] = {64, 128, 96, 256};
    static const int64_t ns[] = {1, 2, 7, 33, 130};
    static const int bits[] = {8, 4, 2, 3, 5, 6};
    static const int gss[] = {32, 64, 128};
    static const enum mlxc_dtype dts[] = {MLXC_BF16, MLXC_F16, MLXC_F32};
    static const int shapes[][2] = {{1, 1}, {8, 4}, {14, 7}, {12, 2}, {40, 4}, {24, 12}, {8, 1}, {32, 1}}; /* nq, group */
    int cases = 0;
    for (size_t a = 0; a < sizeof hds / sizeof hds[0]; a++)
        for (size_t b = 0; b < sizeof ns / sizeof ns[0]; b++)
            for (size_t c = 0; c < sizeof bits / sizeof bits[0]; c++)
                for (size_t gi = 0; gi < sizeof gss / sizeof gss[0]; gi++)
                    for (size_t g = 0; g < sizeof shapes / sizeof shapes[0]; g++) {
                        const int hd = hds[a], gs = gss[gi], nq = shapes[g][0], group = shapes[g][1];
                        if (hd % gs || (c + g + b) % 3) /* a third of the combinations, every value of each */
                            continue;
                        const int heads = nq / group + 1; /* one more than the queries read, as in a cache */
                        const int64_t n = ns[b], lds = n + 3;
                        const enum mlxc_dtype sdt = dts[(a + c) % 3];
                        struct mlxc_qkv_rows r = {.bits = bits[c], .gs = gs, .sdt = sdt};
                        r.codes_ld = (size_t)heads * hd * bits[c] / 8 + 8;
                        r.sb_ld = heads * hd / gs + 1;
                        unsigned char *codes = malloc(r.codes_ld * (size_t)n);
                        unsigned char *scales = malloc((size_t)(r.sb_ld * n) * 4), *biases = malloc((size_t)(r.sb_ld * n) * 4);
                        for (size_t i = 0; i < r.codes_ld * (size_t)n; i++)
                            codes[i] = (unsigned char)(frand() * 128.0f + 128.0f);
                        for (int64_t i = 0; i < r.sb_ld * n; i++) {
                            const float sc = 0.01f + 0.02f * fabsf(frand()), bi = frand();
                            const uint16_t h0 = sdt == MLXC_F16 ? mlxc_f32_to_f16(sc) : mlxc_f32_to_bf16(sc);
                            const uint16_t h1 = sdt == MLXC_F16 ? mlxc_f32_to_f16(bi) : mlxc_f32_to_bf16(bi);
                            if (sdt == MLXC_F32) {
                                memcpy(scales + 4 * i, &sc, 4);
                                memcpy(biases + 4 * i, &bi, 4);
                            } else {
                                memcpy(scales + 2 * i, &h0, 2);
                                memcpy(biases + 2 * i, &h1, 2);
                            }
                        }
                        r.codes = codes;
                        r.scales = scales;
                        r.biases = biases;
                        float *q = malloc((size_t)(nq * hd) * 4), *s0 = malloc((size_t)(nq * lds) * 4);
                        float *s1 = malloc((size_t)(nq * lds) * 4);
                        float *o0 = malloc((size_t)(nq * hd) * 4), *o1 = malloc((size_t)(nq * hd) * 4);
                        for (int64_t i = 0; i < nq * hd; i++)
                            q[i] = frand() * (i % 17 == 0 ? 8.0f : 1.0f);
                        for (int64_t i = 0; i < nq * lds; i++)
                            s0[i] = s1[i] = 7.0f;
                        mlxc_kernels_ref.att_scores_q(&r, n, q, nq, group, hd, 0.125f, s0, lds);
                        k->att_scores_q(&r, n, q, nq, group, hd, 0.125f, s1, lds);
                        double err = nmse(s1, s0, nq * lds);
                        if (err > MAX_NMSE_INT16_QUERIES)
                            fail_msg("%s att_scores_q hd %d n %lld bits %d gs %d sdt %d nq %d group %d: nmse %g", k->isa,
                                     hd, (long long)n, bits[c], gs, (int)sdt, nq, group, err);
                        for (int i = 0; i < nq; i++)
                            for (int64_t p = n; p < lds; p++)
                                assert_true(s1[i * lds + p] == 7.0f);
                        for (int64_t i = 0; i < nq * lds; i++) /* weights of either sign, as a test of the sums */
                            s0[i] = frand();
                        mlxc_kernels_ref.att_values_q(&r, n, s0, nq, group, lds, hd, o0);
                        k->att_values_q(&r, n, s0, nq, group, lds, hd, o1);
                        err = nmse(o1, o0, nq * hd);
                        if (err > MAX_NMSE)
                            fail_msg("%s att_values_q hd %d n %lld bits %d gs %d sdt %d nq %d group %d: nmse %g", k->isa,
                                     hd, (long long)n, bits[c], gs, (int)sdt, nq, group, err);
                        check_att_decode_q(k, &r, n, q, nq, group, hd, 0.125f, b % 2 ? 2.0f : 0.0f);
                        if (n > 32)
                            check_att_decode_q(k, &r, n, q, nq, group, hd, 20.0f, 0.0f);
                        cases++;
                        free(codes);
                        free(scales);
                        free(biases);
                        free(q);
                        free(s0);
                        free(s1);
                        free(o0);
                        free(o1);
                    }
    assert_true(cases > 100);
}

struct sum_job {
    int64_t n;
    long long parts[8];
};

static void sum_task(void *ctx, int tid, int nth)
{
    struct sum_job *j = ctx;
    int64_t b, e;
    mlxc_split_range(j->n, tid, nth, 16, &b, &e);
    long long s = 0;
    for (int64_t i = b; i < e; i++)
        s += i;
    j->parts[tid] = s;
}

static void test_pool_and_split(void **state)
{
    (void)state;
    struct mlxc_pool *p = mlxc_pool_create(3);
    assert_non_null(p);
    for (int rep = 0; rep < 2000; rep++) {
        struct sum_job j = {.n = 1000 + rep};
        mlxc_pool_run(p, sum_task, &j);
        long long s = 0;
        for (int t = 0; t < mlxc_pool_size(p); t++)
            s += j.parts[t];
        assert_int_equal(s, (long long)j.n * (j.n - 1) / 2);
    }
    mlxc_pool_free(p);
    int64_t b, e;
    mlxc_split_range(100, 1, 2, 16, &b, &e); /* 7 blocks of 16: thread 1 gets blocks 3..6 */
    assert_int_equal(b, 48);
    assert_int_equal(e, 100);
    mlxc_split_range(3, 1, 4, 16, &b, &e);
    assert_true(b == e);
}

/* The default thread count follows the CPUs the process may use (as taskset sets them), not the machine's:
 * pinned to one CPU it is 1; MLXC_THREADS still wins. */
static void test_threads_follow_affinity(void **state)
{
    (void)state;
    cpu_set_t saved, one;
    assert_int_equal(sched_getaffinity(0, sizeof saved, &saved), 0);
    int first = 0;
    while (!CPU_ISSET(first, &saved))
        first++;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
    unsetenv("MLXC_THREADS");
    const int pinned = mlxc_threads_default();
    setenv("MLXC_THREADS", "3", 1);
    const int forced = mlxc_threads_default();
    unsetenv("MLXC_THREADS");
    assert_int_equal(sched_setaffinity(0, sizeof saved, &saved), 0);
    assert_int_equal(pinned, 1);
    assert_int_equal(forced, 3);
    assert_int_equal(mlxc_threads_default(), CPU_COUNT(&saved));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_variants),
        cmocka_unit_test(test_dot_axpy),
        cmocka_unit_test(test_attention_kernels),
        cmocka_unit_test(test_quantized_attention_kernels),
        cmocka_unit_test(test_max_exp_sum),
        cmocka_unit_test(test_swiglu),
        cmocka_unit_test(test_pool_and_split),
        cmocka_unit_test(test_threads_follow_affinity),
    };
    return cmocka_run_group_tests_name("kernels", tests, NULL, NULL);
}

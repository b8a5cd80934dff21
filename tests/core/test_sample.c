/* Sampling against hand-computed distributions (mlx_lm sample_utils.py semantics, facts §4) and the
 * Threefry-2x32 known-answer vectors (Random123 / JAX). */
#include "tests/test_util.h"

#include <math.h>

#include "core/random.h"
#include "core/sample.h"

static void set_probs(float *lp, const double *p, int n)
{
    for (int i = 0; i < n; i++)
        lp[i] = (float)log(p[i]);
}

static void assert_kept(const float *lp, const int *kept, int n)
{
    for (int i = 0; i < n; i++) {
        if (kept[i] && isinf(lp[i]))
            fail_msg("token %d was removed", i);
        if (!kept[i] && !isinf(lp[i]))
            fail_msg("token %d was kept", i);
    }
}

static void test_threefry_kat(void **state)
{
    (void)state;
    uint32_t out[2];
    mlxc_threefry2x32((const uint32_t[2]){0, 0}, (const uint32_t[2]){0, 0}, out);
    assert_int_equal(out[0], 0x6b200159u);
    assert_int_equal(out[1], 0x99ba4efeu);
    mlxc_threefry2x32((const uint32_t[2]){0xffffffffu, 0xffffffffu}, (const uint32_t[2]){0xffffffffu, 0xffffffffu}, out);
    assert_int_equal(out[0], 0x1cb996fcu);
    assert_int_equal(out[1], 0xbb002be7u);
    mlxc_threefry2x32((const uint32_t[2]){0x13198a2eu, 0x03707344u}, (const uint32_t[2]){0x243f6a88u, 0x85a308d3u}, out);
    assert_int_equal(out[0], 0xc4923a9cu);
    assert_int_equal(out[1], 0x483df7a0u);
}

/* seed(s) sets the key to (s >> 32, s & 0xffffffff); each draw splits the key first. */
static void test_rng_seed_and_split(void **state)
{
    (void)state;
    struct mlxc_rng r, r2;
    mlxc_rng_seed(&r, 0x0000000500000007ull);
    assert_int_equal(r.key[0], 5);
    assert_int_equal(r.key[1], 7);
    uint32_t a[2], b[2], sub[2], bits[2];
    mlxc_threefry2x32(r.key, (const uint32_t[2]){0, 2}, a);
    mlxc_threefry2x32(r.key, (const uint32_t[2]){1, 3}, b);
    sub[0] = a[1];
    sub[1] = b[1];
    mlxc_threefry2x32(sub, (const uint32_t[2]){0, 0}, bits);
    float want = (float)bits[0] / 4294967296.0f;
    float got = mlxc_rng_uniform(&r);
    assert_true(got == want);
    assert_int_equal(r.key[0], a[0]);
    assert_int_equal(r.key[1], b[0]);
    /* the same seed repeats the same stream */
    mlxc_rng_seed(&r, 42);
    mlxc_rng_seed(&r2, 42);
    for (int i = 0; i < 100; i++) {
        float u = mlxc_rng_uniform(&r);
        assert_true(u == mlxc_rng_uniform(&r2));
        assert_true(u >= 0.0f && u < 1.0f);
    }
}

static const double P[4] = {0.5, 0.3, 0.15, 0.05};

static void test_top_p(void **state)
{
    (void)state;
    float lp[4], tmp[4];
    int32_t order[4];
    set_probs(lp, P, 4);
    mlxc_apply_top_p(lp, 4, 0.75f, order, tmp); /* keep mass-from-below > 0.25: 0.3 and 0.5 */
    assert_kept(lp, (const int[]){1, 1, 0, 0}, 4);
    set_probs(lp, P, 4);
    mlxc_apply_top_p(lp, 4, 0.9f, order, tmp); /* > 0.1: 0.15 (0.2), 0.3, 0.5 */
    assert_kept(lp, (const int[]){1, 1, 1, 0}, 4);
}

static void test_min_p(void **state)
{
    (void)state;
    float lp[4];
    int32_t order[4];
    set_probs(lp, P, 4);
    mlxc_apply_min_p(lp, 4, 0.4f, 1, order); /* remove p < 0.5 * 0.4 = 0.2 */
    assert_kept(lp, (const int[]){1, 1, 0, 0}, 4);
    set_probs(lp, P, 4);
    mlxc_apply_min_p(lp, 4, 0.4f, 3, order); /* the top 3 are protected */
    assert_kept(lp, (const int[]){1, 1, 1, 0}, 4);
}

static void test_top_k(void **state)
{
    (void)state;
    float lp[4];
    int32_t order[4];
    const double shuffled[4] = {0.15, 0.5, 0.05, 0.3};
    set_probs(lp, shuffled, 4);
    mlxc_apply_top_k(lp, 4, 2, order);
    assert_kept(lp, (const int[]){0, 1, 0, 1}, 4);
}

static void test_xtc(void **state)
{
    (void)state;
    float lp[4], tmp[4];
    set_probs(lp, P, 4);
    mlxc_apply_xtc(lp, 4, 0.1f, 0.5f, 0.7f, NULL, 0, tmp); /* coin 0.7 > probability 0.5: unchanged */
    assert_kept(lp, (const int[]){1, 1, 1, 1}, 4);
    mlxc_apply_xtc(lp, 4, 0.1f, 0.5f, 0.3f, NULL, 0, tmp); /* above 0.1: .5 .3 .15; all but .15 removed */
    assert_kept(lp, (const int[]){0, 0, 1, 1}, 4);
    set_probs(lp, P, 4);
    const int32_t special[] = {0};
    mlxc_apply_xtc(lp, 4, 0.1f, 0.5f, 0.3f, special, 1, tmp); /* special token 0 survives */
    assert_kept(lp, (const int[]){1, 0, 1, 1}, 4);
}

/* cdf (exclusive) = [0, .5, .8]; the token is the last whose cdf <= u * total. */
static void test_categorical(void **state)
{
    (void)state;
    const double p[3] = {0.5, 0.3, 0.2};
    float lp[3], tmp[3];
    set_probs(lp, p, 3);
    assert_int_equal(mlxc_categorical(lp, 3, 1.0f, 0.49f, tmp), 0);
    assert_int_equal(mlxc_categorical(lp, 3, 1.0f, 0.6f, tmp), 1);
    assert_int_equal(mlxc_categorical(lp, 3, 1.0f, 0.85f, tmp), 2);
    assert_int_equal(mlxc_categorical(lp, 3, 1.0f, 0.0f, tmp), 0);
    /* temperature 0.5 squares the odds: w = [.25, .09, .04] / .38, cdf = [0, .658, .895] */
    assert_int_equal(mlxc_categorical(lp, 3, 0.5f, 0.65f, tmp), 0);
    assert_int_equal(mlxc_categorical(lp, 3, 0.5f, 0.66f, tmp), 1);
    /* filtered entries (-inf) are never drawn */
    lp[1] = -INFINITY;
    for (float u = 0.0f; u < 1.0f; u += 0.01f)
        assert_int_not_equal(mlxc_categorical(lp, 3, 1.0f, u, tmp), 1);
}

/* Draw frequencies follow the distribution, and seeded runs repeat exactly. */
static void test_sampler_seeded(void **state)
{
    (void)state;
    struct mlxc_sampler_params p = {.temp = 1.0f, .top_p = 1.0f, .min_tokens_to_keep = 1};
    struct mlxc_sampler s1, s2;
    struct mlxc_err e = {0};
    assert_int_equal(mlxc_sampler_init(&s1, &p, 4, &e), 0);
    assert_int_equal(mlxc_sampler_init(&s2, &p, 4, &e), 0);
    mlxc_rng_seed(&s1.rng, 7);
    mlxc_rng_seed(&s2.rng, 7);
    int counts[4] = {0};
    for (int i = 0; i < 20000; i++) {
        float a[4], b[4];
        set_probs(a, P, 4);
        set_probs(b, P, 4);
        int32_t x = mlxc_sampler_sample(&s1, a);
        assert_int_equal(x, mlxc_sampler_sample(&s2, b));
        counts[x]++;
    }
    for (int i = 0; i < 4; i++)
        assert_true(fabs(counts[i] / 20000.0 - P[i]) < 0.015);
    mlxc_sampler_free(&s1);
    mlxc_sampler_free(&s2);
}

static void test_sampler_greedy_and_checks(void **state)
{
    (void)state;
    struct mlxc_sampler s;
    struct mlxc_err e = {0};
    struct mlxc_sampler_params p = {.temp = 0.0f, .top_k = 1};
    assert_int_equal(mlxc_sampler_init(&s, &p, 4, &e), 0);
    float lp[4];
    const double q[4] = {0.1, 0.2, 0.6, 0.1};
    set_probs(lp, q, 4);
    assert_int_equal(mlxc_sampler_sample(&s, lp), 2);
    mlxc_sampler_free(&s);
    p = (struct mlxc_sampler_params){.temp = 1.0f, .top_k = 4};
    assert_int_equal(mlxc_sampler_init(&s, &p, 4, &e), MLXC_EINVAL);
    assert_str_contains(e.msg, "top_k");
    p = (struct mlxc_sampler_params){.temp = 1.0f, .min_p = 1.5f};
    assert_int_equal(mlxc_sampler_init(&s, &p, 4, &e), MLXC_EINVAL);
    p = (struct mlxc_sampler_params){.temp = 1.0f, .xtc_probability = 0.5f, .xtc_threshold = 0.7f};
    assert_int_equal(mlxc_sampler_init(&s, &p, 4, &e), MLXC_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threefry_kat),     cmocka_unit_test(test_rng_seed_and_split),
        cmocka_unit_test(test_top_p),            cmocka_unit_test(test_min_p),
        cmocka_unit_test(test_top_k),            cmocka_unit_test(test_xtc),
        cmocka_unit_test(test_categorical),      cmocka_unit_test(test_sampler_seeded),
        cmocka_unit_test(test_sampler_greedy_and_checks),
    };
    return cmocka_run_group_tests_name("sample", tests, NULL, NULL);
}

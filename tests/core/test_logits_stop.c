/* Logits processors against hand-computed values (mlx_lm sample_utils.py formulas, facts §4) and stop
 * strings that span token boundaries. */
#include "tests/test_util.h"

#include <math.h>

#include "core/logits.h"
#include "core/stop.h"

static void test_repetition_penalty(void **state)
{
    (void)state;
    float l[5] = {2.0f, -1.0f, 0.5f, 3.0f, -2.0f};
    int32_t seen[5] = {0};
    const int32_t hist[] = {3, 0, 1, 0, 4, 1};
    struct mlxc_logits_params p = {.repetition_penalty = 2.0f, .context_size = 4}; /* window: 1 0 4 1 */
    mlxc_logits_apply(&p, l, 5, hist, 6, seen);
    /* 0: 2/2, 1: -1*2, 4: -2*2 (each once, duplicates not compounded); 2 and 3 untouched (3 is outside) */
    assert_true(l[0] == 1.0f && l[1] == -2.0f && l[2] == 0.5f && l[3] == 3.0f && l[4] == -4.0f);
    for (int i = 0; i < 5; i++)
        assert_int_equal(seen[i], 0);
}

static void test_presence_frequency_bias(void **state)
{
    (void)state;
    float l[4] = {0, 0, 0, 0};
    int32_t seen[4] = {0};
    const int32_t hist[] = {1, 1, 1, 2};
    const int32_t ids[] = {3, 3};
    const float vals[] = {0.5f, 0.25f};
    struct mlxc_logits_params p = {.presence_penalty = 1.0f, .frequency_penalty = 0.5f, .context_size = 20,
                                   .bias_ids = ids, .bias_values = vals, .n_bias = 2};
    assert_true(mlxc_logits_active(&p));
    mlxc_logits_apply(&p, l, 4, hist, 4, seen);
    /* 1: -1 - 0.5*3; 2: -1 - 0.5*1; 3: +0.5 +0.25 (duplicates accumulate) */
    assert_true(l[0] == 0.0f && l[1] == -2.5f && l[2] == -1.5f && l[3] == 0.75f);
    struct mlxc_logits_params off = {.repetition_penalty = 1.0f, .context_size = 20};
    assert_false(mlxc_logits_active(&off));
}

static void test_logit_bias_parse(void **state)
{
    (void)state;
    int32_t *ids;
    float *v;
    int n;
    struct mlxc_err e = {0};
    assert_int_equal(mlxc_logit_bias_parse("5=1.5,7=-100", 10, &ids, &v, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_true(ids[1] == 7 && v[1] == -100.0f);
    free(ids);
    free(v);
    assert_int_equal(mlxc_logit_bias_parse("12=1", 10, &ids, &v, &n, &e), MLXC_EINVAL);
    free(ids);
    free(v);
    assert_int_equal(mlxc_logit_bias_parse("5:1", 10, &ids, &v, &n, &e), MLXC_EINVAL);
    assert_str_contains(e.msg, "ID=VALUE");
    free(ids);
    free(v);
}

/* Feeds pieces one by one and returns what was shown. */
static char *run_stop(char *const *stops, const char *const *pieces, int *matched)
{
    struct mlxc_stop s;
    struct mlxc_buf out = MLXC_BUF_INIT;
    mlxc_stop_init(&s, stops);
    *matched = 0;
    for (const char *const *p = pieces; *p && !*matched; p++)
        *matched = mlxc_stop_feed(&s, *p, strlen(*p), &out);
    mlxc_stop_flush(&s, &out);
    mlxc_stop_free(&s);
    char *r = mlxc_buf_take(&out);
    return r;
}

static void test_stop_strings(void **state)
{
    (void)state;
    char *const stops[] = {"END", "\n\n", NULL};
    int m;
    const char *const a[] = {"Hello wor", "ld E", "N", "D and more", NULL}; /* "END" split over 3 pieces */
    char *r = run_stop(stops, a, &m);
    assert_string_equal(r, "Hello world ");
    assert_int_equal(m, 1);
    free(r);
    const char *const b[] = {"line one\n", "\nline two", NULL};
    r = run_stop(stops, b, &m);
    assert_string_equal(r, "line one");
    free(r);
    const char *const c[] = {"no stop E", "N here", NULL}; /* a false start is shown in the end */
    r = run_stop(stops, c, &m);
    assert_string_equal(r, "no stop EN here");
    assert_int_equal(m, 0);
    free(r);
    const char *const d[] = {"trailing E", NULL}; /* held back, then flushed */
    r = run_stop(stops, d, &m);
    assert_string_equal(r, "trailing E");
    free(r);
    char *const none[] = {NULL};
    r = run_stop(none, c, &m);
    assert_string_equal(r, "no stop EN here");
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repetition_penalty),
        cmocka_unit_test(test_presence_frequency_bias),
        cmocka_unit_test(test_logit_bias_parse),
        cmocka_unit_test(test_stop_strings),
    };
    return cmocka_run_group_tests_name("logits_stop", tests, NULL, NULL);
}

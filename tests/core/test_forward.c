/* The llama-family forward pass against Hugging Face transformers (float32, eager attention): for every
 * fixture (tests/data/models, made by tests/gen/make_model_fixtures.py) and prompts of about 5, 60 and
 * 300 tokens, the first generated token's top-5 logprobs match within 1e-3 and the 32-token greedy
 * continuation is identical, except after a step where transformers' own top-two gap is under 1e-3
 * (a near-tie may flip; the test prints where). */
#include "tests/test_util.h"

#include <cjson/cJSON.h>
#include <math.h>

#include "core/forward.h"
#include "core/membw.h"
#include "core/ops.h"
#include "core/sys.h"
#include "tests/model_fixture.h"

#define LOGPROB_TOL 1e-3
#define NEAR_TIE 1e-3

static const char *const fixtures[] = {"llama3", "llama_linear", "llama_dynamic", "mistral", "qwen2", "qwen3",
                                       "gemma2", "gemma3_text", "phi3", "smollm3", "olmo2", "starcoder2",
                                       "mixtral", "qwen3_moe", "gpt_oss"};

static int64_t argmax(const float *x, int64_t n)
{
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

static cJSON *load_reference(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "models/%s/reference.json", name);
    char *text = mlxc_read_file(test_data(rel), 16u << 20, NULL, NULL);
    assert_non_null(text);
    cJSON *ref = cJSON_Parse(text);
    free(text);
    assert_non_null(ref);
    return ref;
}

static int32_t *ids_of(const cJSON *arr, int64_t *n)
{
    *n = cJSON_GetArraySize(arr);
    int32_t *ids = malloc((size_t)*n * sizeof *ids);
    int64_t i = 0;
    for (const cJSON *x = arr->child; x; x = x->next)
        ids[i++] = (int32_t)x->valuedouble;
    return ids;
}

/* Prefill the prompt in chunks of `chunk` tokens, then greedy decoding. Returns the number of steps
 * that matched before the first (tolerated) divergence; fails the test on an untolerated one. */
static void run_prompt(const struct mlxc_model *m, const char *fixture, const char *pname, const cJSON *p,
                       int64_t chunk, int check_logprobs, double flip_gap)
{
    struct mlxc_err e = {0};
    int64_t n;
    int32_t *ids = ids_of(cJSON_GetObjectItem(p, "input_ids"), &n);
    struct mlxc_state s;
    struct mlxc_kv_cache cache;
    assert_int_equal(mlxc_state_init(&s, m, chunk, 2, &e), 0);
    assert_int_equal(mlxc_kv_init(&cache, (int)m->cfg.n_layers, (int)m->cfg.n_kv_heads, (int)m->cfg.head_dim, &e), 0);
    for (int64_t i = 0; i < n; i += chunk) {
        int64_t T = n - i < chunk ? n - i : chunk;
        if (mlxc_forward(m, &s, &cache, ids + i, T, i + T == n, &e) != 0)
            fail_msg("%s/%s: %s", fixture, pname, e.msg);
    }
    const int64_t V = m->cfg.vocab_size;
    float *lp = malloc((size_t)V * sizeof *lp);
    if (check_logprobs) {
        mlxc_log_softmax(lp, s.logits, V);
        for (const cJSON *t = cJSON_GetObjectItem(p, "top5_logprobs")->child; t; t = t->next) {
            int id = (int)cJSON_GetArrayItem(t, 0)->valuedouble;
            double want = cJSON_GetArrayItem(t, 1)->valuedouble;
            if (fabs(lp[id] - want) > LOGPROB_TOL)
                fail_msg("%s/%s: logprob of token %d is %.6f, transformers %.6f", fixture, pname, id, lp[id], want);
        }
    }
    const cJSON *greedy = cJSON_GetObjectItem(p, "greedy"), *gaps = cJSON_GetObjectItem(p, "top2_gap");
    int step = 0;
    for (const cJSON *g = greedy->child, *gap = gaps->child; g; g = g->next, gap = gap->next, step++) {
        int32_t got = (int32_t)argmax(s.logits, V), want = (int32_t)g->valuedouble;
        if (got != want) {
            if (gap->valuedouble < flip_gap) {
                print_message("# %s/%s: step %d flipped (%d vs %d) where transformers' top-two gap is %.2g\n",
                              fixture, pname, step, got, want, gap->valuedouble);
                break;
            }
            fail_msg("%s/%s: greedy step %d gives %d, transformers %d (gap %.4g)", fixture, pname, step, got, want,
                     gap->valuedouble);
        }
        if (mlxc_forward(m, &s, &cache, &got, 1, 1, &e) != 0)
            fail_msg("%s/%s: %s", fixture, pname, e.msg);
    }
    free(lp);
    free(ids);
    mlxc_kv_free(&cache);
    mlxc_state_free(&s);
}

static void check_fixture(const char *name, enum mlxc_dtype dtype, int64_t chunk, int check_logprobs,
                          double flip_gap)
{
    struct mlxc_err e = {0};
    const char *dir = fixture_path(test_data(""), name, dtype, &e);
    if (!dir)
        fail_msg("building fixture '%s': %s", name, e.msg);
    struct mlxc_model *m;
    if (mlxc_model_open(dir, &m, &e) != 0)
        fail_msg("%s", e.msg);
    cJSON *ref = load_reference(name);
    char label[96];
    snprintf(label, sizeof label, "%s (%s)", name, mlxc_dtype_name(dtype));
    for (const cJSON *p = cJSON_GetObjectItem(ref, "prompts")->child; p; p = p->next) {
        if (fixture_quick() && strcmp(p->string, "long") == 0)
            continue; /* sanitizer builds: the ~400-token prompts run in the release build */
        run_prompt(m, label, p->string, p, chunk, check_logprobs, flip_gap);
    }
    cJSON_Delete(ref);
    mlxc_model_close(m);
}

/* f32 weights, the whole prompt in one chunk (as transformers runs it). */
static void test_f32_one_chunk(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++)
        check_fixture(fixtures[i], MLXC_F32, 2048, 1, NEAR_TIE);
}

/* Chunked prefill (mlx_lm's prefill_step_size) must not change the result; dynamic NTK RoPE depends on
 * the length reached per call (as in mlx_lm), so that fixture is checked in one chunk only. */
static void test_f32_chunked_prefill(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++)
        if (strcmp(fixtures[i], "llama_dynamic") != 0 && (!fixture_quick() || i < 2))
            check_fixture(fixtures[i], MLXC_F32, 37, 1, NEAR_TIE);
}

/* f16 and bf16 files of the same weights: the same greedy tokens. Rounding the weights to f16 moves
 * logits by ~1e-2, so there a flip is tolerated only where transformers' gap is under 0.02; bf16 keeps 3
 * fewer mantissa bits and moves them up to ~0.05 (phi3's 470-token prompt: the second token's logprob
 * moves by 0.03 against f32), so 0.06 there. An MoE router is discontinuous: gpt_oss's layer-0 router
 * ranks experts 0 and 1 at -0.1684 and -0.1696 for the short prompt's second token in f32, bf16 weights
 * swap them and the logits move by ~1.5, so gpt_oss is checked in f16 only. */
static void test_half_weights(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
        if (fixture_quick() && i >= 2)
            break;
        check_fixture(fixtures[i], MLXC_F16, 2048, 0, 0.02);
        if (strcmp(fixtures[i], "gpt_oss") != 0)
            check_fixture(fixtures[i], MLXC_BF16, 2048, 0, 0.06);
    }
}

/* Every position's logits at once (perplexity): the last row is the next-token distribution transformers
 * reports, and row t equals a run over the first t+1 tokens. */
/* The f32 qwen3 fixture, its transformers reference and the "medium" prompt's ids. */
static struct mlxc_model *open_qwen3_medium(cJSON **ref, const cJSON **prompt, int32_t **ids, int64_t *n)
{
    struct mlxc_err e = {0};
    const char *dir = fixture_path(test_data(""), "qwen3", MLXC_F32, &e);
    assert_non_null(dir);
    struct mlxc_model *m;
    assert_int_equal(mlxc_model_open(dir, &m, &e), 0);
    *ref = load_reference("qwen3");
    *prompt = cJSON_GetObjectItem(cJSON_GetObjectItem(*ref, "prompts"), "medium");
    *ids = ids_of(cJSON_GetObjectItem(*prompt, "input_ids"), n);
    return m;
}

static void test_all_logits(void **state)
{
    (void)state;
    struct mlxc_err e = {0};
    cJSON *ref;
    const cJSON *p;
    int32_t *ids;
    int64_t n;
    struct mlxc_model *m = open_qwen3_medium(&ref, &p, &ids, &n);
    const int64_t V = m->cfg.vocab_size;
    float *all = malloc((size_t)(n * V) * sizeof *all), *lp = malloc((size_t)V * sizeof *lp);
    struct mlxc_state s;
    struct mlxc_kv_cache cache;
    assert_int_equal(mlxc_state_init(&s, m, n, 2, &e), 0);
    assert_int_equal(mlxc_kv_init(&cache, (int)m->cfg.n_layers, (int)m->cfg.n_kv_heads, (int)m->cfg.head_dim, &e), 0);
    assert_int_equal(mlxc_forward_all_logits(m, &s, &cache, ids, n, all, &e), 0);
    mlxc_log_softmax(lp, all + (n - 1) * V, V);
    for (const cJSON *t = cJSON_GetObjectItem(p, "top5_logprobs")->child; t; t = t->next)
        assert_true(fabs(lp[(int)cJSON_GetArrayItem(t, 0)->valuedouble] - cJSON_GetArrayItem(t, 1)->valuedouble) < 1e-3);
    /* row 9 against a fresh run over 10 tokens */
    mlxc_kv_trim(&cache, cache.offset);
    assert_int_equal(mlxc_forward(m, &s, &cache, ids, 10, 1, &e), 0);
    for (int64_t v = 0; v < V; v++)
        assert_true(fabs(s.logits[v] - all[9 * V + v]) < 1e-4);
    free(all);
    free(lp);
    free(ids);
    cJSON_Delete(ref);
    mlxc_kv_free(&cache);
    mlxc_state_free(&s);
    mlxc_model_close(m);
}

/* A chunk longer than the state's rows runs in pieces with the logits of one piece (plain caches; up to
 * OpenBLAS's summation order, which depends on the rows of a product in f32 models); a rotating cache,
 * whose view depends on the step's length, takes the chunk whole: the buffers grow to it. */
static void assert_close(const float *a, const float *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (fabsf(a[i] - b[i]) > 1e-4f)
            fail_msg("element %lld: %g vs %g", (long long)i, a[i], b[i]);
}

static void test_state_rows(void **state)
{
    (void)state;
    struct mlxc_err e = {0};
    cJSON *ref;
    const cJSON *p;
    int32_t *ids;
    int64_t n;
    struct mlxc_model *m = open_qwen3_medium(&ref, &p, &ids, &n);
    assert_true(n > 16);
    const int64_t V = m->cfg.vocab_size;
    for (int rotating = 0; rotating < 2; rotating++) {
        float *all[2], *last[2];
        for (int k = 0; k < 2; k++) {
            struct mlxc_state s;
            struct mlxc_kv_cache cache;
            const struct mlxc_cache_opts o = {.max_kv_size = rotating ? 12 : 0, .kv_group_size = 64};
            assert_int_equal(mlxc_state_init_rows(&s, m, n, k ? 5 : n, 2, &e), 0);
            assert_int_equal(mlxc_cache_make(m, &o, &cache, &e), 0);
            all[k] = malloc((size_t)(n * V) * sizeof(float));
            last[k] = malloc((size_t)V * sizeof(float));
            assert_int_equal(mlxc_forward_all_logits(m, &s, &cache, ids, n, all[k], &e), 0);
            assert_int_equal(s.rows, k && !rotating ? 5 : n);
            mlxc_kv_trim(&cache, cache.offset);
            if (!rotating) { /* again through mlxc_forward: the last token's logits */
                assert_int_equal(mlxc_forward(m, &s, &cache, ids, n, 1, &e), 0);
                memcpy(last[k], s.logits, (size_t)V * sizeof(float));
            }
            mlxc_kv_free(&cache);
            mlxc_state_free(&s);
        }
        assert_close(all[0], all[1], n * V);
        if (!rotating)
            assert_close(last[0], last[1], V);
        for (int k = 0; k < 2; k++) {
            free(all[k]);
            free(last[k]);
        }
    }
    free(ids);
    cJSON_Delete(ref);
    mlxc_model_close(m);
}

/* mlxc-bench's prefill yardsticks: the FLOP count of a prompt against the formula written from the
 * config alone (Llama shapes: q and o hidden x heads*hd, k and v hidden x kv_heads*hd, three MLP
 * matrices hidden x intermediate; causal attention; the head for the last token), and the FMA probe
 * giving a positive finite rate. */
static void test_prompt_flops(void **state)
{
    (void)state;
    struct mlxc_err e = {0};
    const char *dir = fixture_path(test_data(""), "qwen3", MLXC_F32, &e);
    assert_non_null(dir);
    struct mlxc_model *m;
    assert_int_equal(mlxc_model_open(dir, &m, &e), 0);
    const struct mlxc_config *c = &m->cfg;
    const double D = (double)c->hidden_size, hd = (double)c->head_dim, I = (double)c->intermediate_size;
    const double per_token = 2.0 * (double)c->n_layers *
                             (2.0 * D * (double)c->n_heads * hd + 2.0 * D * (double)c->n_kv_heads * hd + 3.0 * D * I);
    for (int64_t p = 1; p <= 100; p += 33) {
        const double attention = 4.0 * (double)(p * (p + 1) / 2) * (double)c->n_heads * hd * (double)c->n_layers;
        const double want = per_token * (double)p + attention + 2.0 * (double)c->vocab_size * D;
        const double got = mlxc_model_prompt_flops(m, p);
        if (fabs(got - want) > 1e-9 * want)
            fail_msg("p %lld: %.0f FLOP, the formula gives %.0f", (long long)p, got, want);
    }
    mlxc_model_close(m);
    struct mlxc_pool *pool = mlxc_pool_create(2);
    const double peak = mlxc_measure_fma_flops(pool);
    mlxc_pool_free(pool);
    assert_true(peak > 0 && isfinite(peak));
}

static void test_bad_token(void **state)
{
    (void)state;
    struct mlxc_err e = {0};
    const char *dir = fixture_path(test_data(""), "mistral", MLXC_F32, &e);
    assert_non_null(dir);
    struct mlxc_model *m;
    assert_int_equal(mlxc_model_open(dir, &m, &e), 0);
    struct mlxc_state s;
    struct mlxc_kv_cache cache;
    assert_int_equal(mlxc_state_init(&s, m, 4, 1, &e), 0);
    assert_int_equal(mlxc_kv_init(&cache, 2, 2, 16, &e), 0);
    int32_t bad = 32000;
    assert_int_equal(mlxc_forward(m, &s, &cache, &bad, 1, 1, &e), MLXC_EINVAL);
    assert_str_contains(e.msg, "outside the vocabulary");
    mlxc_kv_free(&cache);
    mlxc_state_free(&s);
    mlxc_model_close(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f32_one_chunk),
        cmocka_unit_test(test_f32_chunked_prefill),
        cmocka_unit_test(test_half_weights),
        cmocka_unit_test(test_all_logits),
        cmocka_unit_test(test_state_rows),
        cmocka_unit_test(test_prompt_flops),
        cmocka_unit_test(test_bad_token),
    };
    return cmocka_run_group_tests_name("forward", tests, NULL, NULL);
}

/* Continuous batching (core/batch.h) gives every request exactly what a generation of its own gives:
 *  - the row-exact products: each of T rows of mlxc_linear_forward_rowwise is bitwise the one-row
 *    product, for float weights and every quantized format (the kernels' token blocking would change the
 *    rounding otherwise);
 *  - 50 requests of mixed prompt lengths and max_tokens, inserted at different times into a batch with
 *    small prefill/completion sizes, produce the tokens of 50 separate mlxc_generate runs, greedy and
 *    seeded sampling alike, on F32 and BF16 fixtures (gpt_oss: MoE, sinks, a sliding-window layer);
 *  - the engine's limits and statistics. */
#include "tests/test_util.h"

#include "core/batch.h"
#include "core/generate.h"
#include "core/linear.h"
#include "core/sys.h"
#include "tests/model_fixture.h"
#include "tests/quant_fixture.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}
static float frnd(void) { return (float)(rnd() % 20001) / 10000.0f - 1.0f; }

static void check_rowwise(const struct mlxc_linear *l, struct mlxc_pool *pool, const char *what)
{
    const int64_t T = 13;
    float *x = malloc((size_t)(T * l->cols) * sizeof *x), *y = malloc((size_t)(T * l->rows) * sizeof *y);
    float *y1 = malloc((size_t)l->rows * sizeof *y1);
    for (int64_t i = 0; i < T * l->cols; i++)
        x[i] = frnd() * (i % 17 == 0 ? 8.0f : 1.0f);
    mlxc_linear_forward_rowwise(l, x, T, y, pool);
    for (int64_t t = 0; t < T; t++) {
        mlxc_linear_forward(l, x + t * l->cols, 1, y1, pool);
        if (memcmp(y1, y + t * l->rows, (size_t)l->rows * sizeof *y1) != 0)
            fail_msg("%s: row %lld of a %lld-row product differs from the one-row product", what, (long long)t,
                     (long long)T);
    }
    free(x);
    free(y);
    free(y1);
}

static void test_rowwise_products(void **st)
{
    (void)st;
    struct mlxc_pool *pool = mlxc_pool_create(2);
    const int64_t rows = 72, cols = 256;
    float *w = malloc((size_t)(rows * cols) * sizeof *w);
    uint16_t *h = malloc((size_t)(rows * cols) * sizeof *h);
    for (int64_t i = 0; i < rows * cols; i++)
        w[i] = frnd() * 0.1f;
    struct mlxc_linear l = {.kind = MLXC_W_F32, .rows = rows, .cols = cols, .w = w};
    check_rowwise(&l, pool, "f32");
    for (int64_t i = 0; i < rows * cols; i++)
        h[i] = (uint16_t)(rnd() & 0x3fff);
    l.kind = MLXC_W_F16;
    l.w = h;
    check_rowwise(&l, pool, "f16");
    l.kind = MLXC_W_BF16;
    check_rowwise(&l, pool, "bf16");
    fixture_each_quant(w, rows, cols, NULL, pool, check_rowwise);
    free(w);
    free(h);
    mlxc_pool_free(pool);
}

#define NREQ 50
#define MAXGEN 8

struct collect {
    int32_t toks[NREQ][MAXGEN];
    int n[NREQ];
    const char *reason[NREQ];
    int events;
};

static int on_event(void *ctx, const struct mlxc_batch_event *ev)
{
    struct collect *c = ctx;
    int i = (int)(intptr_t)ev->user;
    assert_true(c->n[i] < MAXGEN);
    c->toks[i][c->n[i]++] = ev->tok.id;
    assert_int_equal(ev->generation_tokens, c->n[i]);
    if (ev->finish_reason)
        c->reason[i] = ev->finish_reason;
    c->events++;
    return 0;
}

static int on_single(void *ctx, const struct mlxc_gen_token *t, const struct mlxc_gen_stats *st)
{
    (void)st;
    struct collect *c = ctx;
    c->toks[c->events][c->n[c->events]++] = t->id;
    return 0;
}

static void same_as_single(const char *fixture, enum mlxc_dtype dt, float temp)
{
    struct mlxc_err e = {0};
    const char *dir = fixture_path(test_data(""), fixture, dt, &e);
    if (!dir)
        fail_msg("%s", e.msg);
    struct mlxc_model *m;
    assert_int_equal(mlxc_model_open(dir, &m, &e), 0);
    const int64_t V = m->cfg.vocab_size;
    const int nreq = fixture_quick() ? 16 : NREQ; /* sanitizer builds: fewer requests */
    static int32_t prompts[NREQ][48];
    int64_t plen[NREQ], maxt[NREQ];
    for (int i = 0; i < nreq; i++) {
        plen[i] = 1 + rnd() % 40;
        maxt[i] = 1 + rnd() % MAXGEN;
        for (int64_t j = 0; j < plen[i]; j++)
            prompts[i][j] = (int32_t)(rnd() % (uint32_t)V);
    }
    int32_t eos[1] = {(int32_t)(rnd() % (uint32_t)V)};
    struct mlxc_gen_params gp = {.prefill_step_size = 16, .sampling = {.temp = temp, .top_p = 1.0f},
                                 .has_seed = 1, .eos = eos, .n_eos = 1};

    /* separate runs (prefill step 16: prompts of up to 40 tokens take several chunks) */
    static struct collect want, got;
    memset(&want, 0, sizeof want);
    memset(&got, 0, sizeof got);
    struct mlxc_state s;
    assert_int_equal(mlxc_state_init(&s, m, 16, 1, &e), 0);
    for (int i = 0; i < nreq; i++) {
        struct mlxc_kv_cache cache;
        assert_int_equal(mlxc_cache_make(m, NULL, &cache, &e), 0);
        gp.max_tokens = maxt[i];
        gp.seed = 1000 + (uint64_t)i;
        struct mlxc_gen_stats st;
        want.events = i;
        if (mlxc_generate(m, &s, &cache, prompts[i], plen[i], &gp, on_single, &want, &st, &e) != 0)
            fail_msg("%s", e.msg);
        want.reason[i] = st.finish_reason;
        mlxc_kv_free(&cache);
    }
    mlxc_state_free(&s);

    /* one batch: 20 requests at once, the rest one per step while the others decode */
    struct mlxc_batch *b;
    struct mlxc_batch_opts bo = {.prefill_batch_size = 3, .completion_batch_size = 8, .prefill_step_size = 16,
                                 .threads = 1};
    assert_int_equal(mlxc_batch_create(m, &bo, &b, &e), 0);
    int inserted = 0, steps = 0;
    while (inserted < nreq || mlxc_batch_pending(b) > 0) {
        int k = inserted < nreq / 2 ? nreq / 2 : 1;
        for (; k > 0 && inserted < nreq; k--, inserted++) {
            gp.max_tokens = maxt[inserted];
            gp.seed = 1000 + (uint64_t)inserted;
            struct mlxc_batch_request r = {prompts[inserted], plen[inserted], gp, NULL, (void *)(intptr_t)inserted, NULL};
            assert_int_equal(mlxc_batch_insert(b, &r, NULL, &e), 0);
        }
        if (mlxc_batch_step(b, on_event, &got, &e) != 0)
            fail_msg("%s", e.msg);
        assert_true(mlxc_batch_active(b) <= 8);
        steps++;
    }
    struct mlxc_batch_stats st;
    mlxc_batch_get_stats(b, &st);
    int64_t prompt_sum = 0, gen_sum = 0;
    for (int i = 0; i < nreq; i++) {
        prompt_sum += plen[i];
        gen_sum += want.n[i];
        assert_int_equal(got.n[i], want.n[i]);
        if (memcmp(got.toks[i], want.toks[i], (size_t)want.n[i] * sizeof(int32_t)) != 0)
            fail_msg("%s %s temp %g: request %d (prompt of %lld tokens) differs from its own run", fixture,
                     mlxc_dtype_name(dt), (double)temp, i, (long long)plen[i]);
        assert_string_equal(got.reason[i], want.reason[i]);
    }
    assert_int_equal(st.prompt_tokens, prompt_sum);
    assert_int_equal(st.generation_tokens, gen_sum);
    assert_true(steps < gen_sum); /* requests did share decode steps */
    assert_true(st.peak_memory > 0);
    mlxc_batch_free(b);
    mlxc_model_close(m);
}

static void test_greedy_f32(void **st) { (void)st; same_as_single("qwen3", MLXC_F32, 0.0f); }
static void test_seeded_bf16(void **st) { (void)st; same_as_single("llama3", MLXC_BF16, 0.8f); }
/* MoE rows of different requests grouped by expert, sinks and a sliding-window layer: gpt_oss */
static void test_moe(void **st)
{
    (void)st;
    if (fixture_quick()) { /* sanitizer builds run the MoE forward in the forward and cache tests */
        print_message("# skipped in quick mode\n");
        return;
    }
    same_as_single("gpt_oss", MLXC_BF16, 0.8f);
}

static void test_limits(void **st)
{
    (void)st;
    struct mlxc_err e = {0};
    const char *dir = fixture_path(test_data(""), "qwen3", MLXC_F32, &e);
    struct mlxc_model *m;
    assert_int_equal(mlxc_model_open(dir, &m, &e), 0);
    struct mlxc_batch *b = NULL;
    struct mlxc_batch_opts bo = {.prefill_batch_size = 8, .completion_batch_size = 4, .threads = 1};
    assert_int_equal(mlxc_batch_create(m, &bo, &b, &e), MLXC_EINVAL);
    assert_non_null(strstr(e.msg, "at least the prefill batch size"));
    bo.completion_batch_size = 8;
    assert_int_equal(mlxc_batch_create(m, &bo, &b, &e), 0);
    int32_t ids[2] = {1, 2};
    struct mlxc_batch_request r = {ids, 0, {.max_tokens = 3}, NULL, NULL, NULL};
    assert_int_equal(mlxc_batch_insert(b, &r, NULL, &e), MLXC_EINVAL);
    r.n_prompt = 2;
    r.params.sampling.top_k = -1;
    r.params.sampling.temp = 1.0f;
    assert_int_not_equal(mlxc_batch_insert(b, &r, NULL, &e), 0); /* the sampler's checks */
    r.params.sampling = (struct mlxc_sampler_params){0};
    uint64_t uid;
    assert_int_equal(mlxc_batch_insert(b, &r, &uid, &e), 0);
    assert_int_equal(mlxc_batch_pending(b), 1);
    assert_int_equal(mlxc_batch_remove(b, uid), 1);
    assert_int_equal(mlxc_batch_remove(b, uid), 0);
    assert_int_equal(mlxc_batch_pending(b), 0);
    assert_int_equal(mlxc_batch_step(b, NULL, NULL, &e), 0);
    mlxc_batch_free(b);
    mlxc_model_close(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rowwise_products),
        cmocka_unit_test(test_greedy_f32),
        cmocka_unit_test(test_seeded_bf16),
        cmocka_unit_test(test_moe),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

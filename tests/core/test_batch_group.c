/* Grouped prefill in continuous batching (core/batch.h) gives every request exactly what a generation of
 * its own gives:
 *  - the grouped products: the rows of each segment of mlxc_linear_forward_group are bitwise a product
 *    of that segment alone, for float weights (row kernels and OpenBLAS) and every quantized format,
 *    with segments shorter and longer than MLXC_GROUP_SHORT and several weight tiles per thread;
 *  - prompts of different lengths prefilled in one pass (the statistics count the passes), and prompts
 *    of several chunks sharing passes, give the tokens of separate mlxc_generate runs: F32, BF16 and a
 *    4-bit conversion, and the families whose block differs (gemma2's embedding scale, sandwich norms
 *    and soft-capping, gemma3's sliding layers, dynamic RoPE, starcoder2's LayerNorm, phi3's fused
 *    projections, olmo2), greedy and seeded sampling with top-p, top-k and min-p (the requests of a
 *    decode step sample on the pool's threads);
 *  - requests that start from a shared prefix cache (a loaded prompt cache: copied per request) equal
 *    runs that prefill the prefix themselves;
 *  - per-request top_logprobs and logits processors (bias copied at insertion) equal the single runs'. */
#include "tests/test_util.h"

#include <cblas.h>
#include <math.h>

#include "core/app_convert.h"
#include "core/batch.h"
#include "core/generate.h"
#include "core/linear_group.h"
#include "core/sys.h"
#include "tests/model_fixture.h"
#include "tests/quant_fixture.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}
static float frnd(void) { return (float)(rnd() % 20001) / 10000.0f - 1.0f; }

/* ---- the grouped product ---- */

static void check_group(const struct mlxc_linear *l, struct mlxc_pool *pool, const char *what)
{
    static const int64_t segs[] = {1, 3, 8, 13, 70, 2, 40, 1, 9};
    const int nseg = (int)(sizeof segs / sizeof segs[0]);
    int64_t N = 0;
    for (int i = 0; i < nseg; i++)
        N += segs[i];
    float *x = malloc((size_t)(N * l->cols) * sizeof *x), *y = malloc((size_t)(N * l->rows) * sizeof *y);
    float *y1 = malloc((size_t)(70 * l->rows) * sizeof *y1);
    float *scratch = mlxc_alloc_aligned((size_t)mlxc_linear_group_scratch(pool) * sizeof(float));
    for (int64_t i = 0; i < N * l->cols; i++)
        x[i] = frnd() * (i % 17 == 0 ? 8.0f : 1.0f);
    for (int with_scratch = 0; with_scratch < 2; with_scratch++) {
        memset(y, 0, (size_t)(N * l->rows) * sizeof *y);
        mlxc_linear_forward_group(l, x, segs, nseg, y, with_scratch ? scratch : NULL, pool);
        int64_t off = 0;
        for (int i = 0; i < nseg; off += segs[i], i++) {
            mlxc_linear_forward(l, x + off * l->cols, segs[i], y1, pool);
            if (memcmp(y1, y + off * l->rows, (size_t)(segs[i] * l->rows) * sizeof *y1) != 0)
                fail_msg("%s: segment %d (%lld rows) of a group differs from its own product%s", what, i,
                         (long long)segs[i], with_scratch ? "" : " (no scratch)");
        }
    }
    mlxc_free_aligned(scratch);
    free(x);
    free(y);
    free(y1);
}

static void test_group_products(void **st)
{
    (void)st;
    struct mlxc_pool *pool = mlxc_pool_create(2);
    openblas_set_num_threads(1); /* as mlxc_state_init: the pool splits the work */
    const int64_t rows = 1000, cols = 256; /* several tiles per thread, a partial last tile */
    float *w = malloc((size_t)(rows * cols) * sizeof *w), *bias = malloc((size_t)rows * sizeof *bias);
    uint16_t *h = malloc((size_t)(rows * cols) * sizeof *h);
    for (int64_t i = 0; i < rows * cols; i++)
        w[i] = frnd() * 0.1f;
    for (int64_t i = 0; i < rows; i++)
        bias[i] = frnd();
    struct mlxc_linear l = {.kind = MLXC_W_F32, .rows = rows, .cols = cols, .w = w};
    check_group(&l, pool, "f32");
    l.bias = bias;
    check_group(&l, pool, "f32 with bias");
    l.bias = NULL;
    for (int64_t i = 0; i < rows * cols; i++)
        h[i] = (uint16_t)(rnd() & 0x3fff);
    l.kind = MLXC_W_F16;
    l.w = h;
    check_group(&l, pool, "f16");
    l.kind = MLXC_W_BF16;
    check_group(&l, pool, "bf16");
    fixture_each_quant(w, rows, cols, bias, pool, check_group);
    free(w);
    free(bias);
    free(h);
    mlxc_pool_free(pool);
}

/* ---- whole requests ---- */

#define MAXREQ 12
#define MAXGEN 6
#define MAXTOP 3

struct collect {
    int32_t toks[MAXREQ][MAXGEN];
    int32_t top[MAXREQ][MAXGEN][MAXTOP];
    float lp[MAXREQ][MAXGEN];
    int n[MAXREQ];
    const char *reason[MAXREQ];
    int cur;
};

static void keep(struct collect *c, int i, const struct mlxc_gen_token *t)
{
    assert_true(c->n[i] < MAXGEN);
    for (int k = 0; k < t->n_top && k < MAXTOP; k++)
        c->top[i][c->n[i]][k] = t->top_ids[k];
    c->lp[i][c->n[i]] = t->logprob;
    c->toks[i][c->n[i]++] = t->id;
}

static int on_event(void *ctx, const struct mlxc_batch_event *ev)
{
    struct collect *c = ctx;
    int i = (int)(intptr_t)ev->user;
    keep(c, i, &ev->tok);
    if (ev->finish_reason)
        c->reason[i] = ev->finish_reason;
    return 0;
}

static int on_single(void *ctx, const struct mlxc_gen_token *t, const struct mlxc_gen_stats *st)
{
    (void)st;
    struct collect *c = ctx;
    keep(c, c->cur, t);
    return 0;
}

struct spec {
    const char *what;
    int n;                      /* requests */
    const int64_t *plen;        /* prompt lengths */
    int64_t step;               /* prefill step size */
    int prefill_batch, completion_batch;
    float temp;
    int64_t n_prefix;           /* > 0: every request starts from a cache holding that many tokens */
    struct mlxc_logits_params logits;
    int top_logprobs;
    int64_t max_passes;         /* > 0: the prefill must take at most that many passes */
};

static void same_as_single(const struct mlxc_model *m, const struct spec *sp)
{
    struct mlxc_err e = {0};
    const int64_t V = m->cfg.vocab_size;
    static int32_t prompts[MAXREQ][96], prefix[64];
    int64_t maxt[MAXREQ];
    for (int i = 0; i < sp->n; i++) {
        maxt[i] = 1 + rnd() % MAXGEN;
        for (int64_t j = 0; j < sp->plen[i]; j++)
            prompts[i][j] = (int32_t)(rnd() % (uint32_t)V);
    }
    for (int64_t j = 0; j < sp->n_prefix; j++)
        prefix[j] = (int32_t)(rnd() % (uint32_t)V);
    int32_t eos[1] = {(int32_t)(rnd() % (uint32_t)V)};
    /* sampling with every filter (the requests sample on the pool's threads at once) */
    struct mlxc_sampler_params sampling = {.temp = sp->temp, .top_p = 1.0f};
    if (sp->temp > 0)
        sampling = (struct mlxc_sampler_params){.temp = sp->temp, .top_p = 0.9f, .top_k = 50, .min_p = 0.02f,
                                                .min_tokens_to_keep = 1};
    struct mlxc_gen_params gp = {.prefill_step_size = sp->step, .sampling = sampling,
                                 .logits = sp->logits, .top_logprobs = sp->top_logprobs, .has_seed = 1,
                                 .eos = eos, .n_eos = 1};
    static struct collect want, got;
    memset(&want, 0, sizeof want);
    memset(&got, 0, sizeof got);

    /* separate runs; a prefix is prefilled by each run itself */
    struct mlxc_state s;
    assert_int_equal(mlxc_state_init(&s, m, sp->step, 1, &e), 0);
    for (int i = 0; i < sp->n; i++) {
        struct mlxc_kv_cache cache;
        assert_int_equal(mlxc_cache_make(m, NULL, &cache, &e), 0);
        if (sp->n_prefix && mlxc_prefill(m, &s, &cache, prefix, sp->n_prefix, sp->step, 0, &e) != 0)
            fail_msg("%s", e.msg);
        gp.max_tokens = maxt[i];
        gp.seed = 77 + (uint64_t)i;
        struct mlxc_gen_stats st;
        want.cur = i;
        if (mlxc_generate(m, &s, &cache, prompts[i], sp->plen[i], &gp, on_single, &want, &st, &e) != 0)
            fail_msg("%s", e.msg);
        want.reason[i] = st.finish_reason;
        mlxc_kv_free(&cache);
    }

    /* one batch, every request inserted at once */
    struct mlxc_kv_cache pc = {0};
    if (sp->n_prefix) {
        assert_int_equal(mlxc_cache_make(m, NULL, &pc, &e), 0);
        if (mlxc_prefill(m, &s, &pc, prefix, sp->n_prefix, sp->step, 0, &e) != 0)
            fail_msg("%s", e.msg);
    }
    mlxc_state_free(&s);
    struct mlxc_batch *b;
    struct mlxc_batch_opts bo = {.prefill_batch_size = sp->prefill_batch, .completion_batch_size = sp->completion_batch,
                                 .prefill_step_size = sp->step, .threads = 2};
    assert_int_equal(mlxc_batch_create(m, &bo, &b, &e), 0);
    /* the bias arrays are the engine's own copies: the caller's may go right after insertion */
    int32_t *bias_ids = NULL;
    float *bias_values = NULL;
    for (int i = 0; i < sp->n; i++) {
        gp.max_tokens = maxt[i];
        gp.seed = 77 + (uint64_t)i;
        if (sp->logits.n_bias) {
            bias_ids = malloc((size_t)sp->logits.n_bias * sizeof *bias_ids);
            bias_values = malloc((size_t)sp->logits.n_bias * sizeof *bias_values);
            memcpy(bias_ids, sp->logits.bias_ids, (size_t)sp->logits.n_bias * sizeof *bias_ids);
            memcpy(bias_values, sp->logits.bias_values, (size_t)sp->logits.n_bias * sizeof *bias_values);
            gp.logits.bias_ids = bias_ids;
            gp.logits.bias_values = bias_values;
        }
        struct mlxc_batch_request r = {prompts[i], sp->plen[i], gp, NULL, (void *)(intptr_t)i,
                                       sp->n_prefix ? &pc : NULL};
        assert_int_equal(mlxc_batch_insert(b, &r, NULL, &e), 0);
        free(bias_ids);
        free(bias_values);
        bias_ids = NULL;
        bias_values = NULL;
    }
    while (mlxc_batch_pending(b) > 0)
        if (mlxc_batch_step(b, on_event, &got, &e) != 0)
            fail_msg("%s", e.msg);
    struct mlxc_batch_stats st;
    mlxc_batch_get_stats(b, &st);
    for (int i = 0; i < sp->n; i++) {
        assert_int_equal(got.n[i], want.n[i]);
        if (memcmp(got.toks[i], want.toks[i], (size_t)want.n[i] * sizeof(int32_t)) != 0)
            fail_msg("%s: request %d (prompt of %lld tokens) differs from its own run", sp->what, i,
                     (long long)sp->plen[i]);
        for (int t = 0; t < want.n[i]; t++)
            if (got.lp[i][t] != want.lp[i][t] ||
                memcmp(got.top[i][t], want.top[i][t], sizeof got.top[i][t]) != 0)
                fail_msg("%s: request %d token %d: logprob or top_logprobs differ", sp->what, i, t);
        assert_string_equal(got.reason[i], want.reason[i]);
    }
    if (sp->max_passes > 0 && st.prefill_passes > sp->max_passes)
        fail_msg("%s: %lld prefill passes, expected at most %lld", sp->what, (long long)st.prefill_passes,
                 (long long)sp->max_passes);
    mlxc_batch_free(b);
    mlxc_kv_free(&pc);
}

static struct mlxc_model *open_fixture(const char *name, enum mlxc_dtype dt)
{
    struct mlxc_err e = {0};
    const char *dir = fixture_path(test_data(""), name, dt, &e);
    if (!dir)
        fail_msg("%s", e.msg);
    struct mlxc_model *m;
    if (mlxc_model_open(dir, &m, &e) != 0)
        fail_msg("%s", e.msg);
    return m;
}

/* eight prompts of 1 to 80 tokens (chunks shorter and longer than MLXC_GROUP_SHORT): one pass (the
 * one-token prompt has nothing to prefill) */
static const int64_t mixed[] = {9, 1, 5, 80, 2, 17, 3, 12};
/* prompts of several chunks of 8, four prefilled together, 32 rows per pass: passes take every
 * member's next chunk, and the requests behind join as members finish: 4 passes for 14 chunks */
static const int64_t chunked[] = {30, 7, 19, 26, 1, 12};

static void test_one_pass(void **st)
{
    (void)st;
    struct mlxc_model *m = open_fixture("qwen3", MLXC_F32);
    struct spec sp = {"qwen3 f32, one pass", 8, mixed, 128, 8, 8, 0.0f, .max_passes = 1};
    same_as_single(m, &sp);
    sp = (struct spec){"qwen3 f32, chunks of 8", 6, chunked, 8, 4, 32, 0.7f, .max_passes = 4};
    same_as_single(m, &sp);
    mlxc_model_close(m);
    if (fixture_quick()) /* sanitizer builds: the BF16 variant only in release builds */
        return;
    m = open_fixture("llama3", MLXC_BF16);
    sp = (struct spec){"llama3 bf16, one pass", 8, mixed, 128, 8, 16, 0.9f, .max_passes = 1};
    same_as_single(m, &sp);
    mlxc_model_close(m);
}

static void test_quantized(void **st)
{
    (void)st;
    struct mlxc_err e = {0};
    const char *src = fixture_path(test_data(""), "qwen3", MLXC_F32, &e);
    if (!src)
        fail_msg("%s", e.msg);
    char dir[600], q4[700];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    snprintf(q4, sizeof q4, "%s/q4", dir);
    struct mlxc_convert_args a = {.hf_path = src, .mlx_path = q4, .quantize = 1, .q_bits = 4, .q_group_size = 64};
    FILE *log = fopen("/dev/null", "w");
    if (mlxc_convert_main(&a, log, &e) != 0)
        fail_msg("converting: %s", e.msg);
    fclose(log);
    struct mlxc_model *m;
    if (mlxc_model_open(q4, &m, &e) != 0)
        fail_msg("%s", e.msg);
    struct spec sp = {"qwen3 4-bit, one pass", 8, mixed, 128, 8, 8, 0.0f, .max_passes = 1};
    same_as_single(m, &sp);
    mlxc_model_close(m);
    char cmd[800];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_families(void **st)
{
    (void)st;
    static const char *const names[] = {"gemma2", "gemma3_text", "llama_dynamic", "starcoder2", "phi3", "olmo2"};
    static const int64_t lens[] = {6, 1, 14, 3, 9};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (fixture_quick() && i % 2)
            continue;
        struct mlxc_model *m = open_fixture(names[i], MLXC_F32);
        struct spec sp = {names[i], 5, lens, 64, 4, 5, 0.0f, .max_passes = 1};
        same_as_single(m, &sp);
        mlxc_model_close(m);
    }
}

static void test_prefix_and_processors(void **st)
{
    (void)st;
    struct mlxc_model *m = open_fixture("qwen3", MLXC_F32);
    static const int64_t lens[] = {4, 1, 11, 6};
    struct spec sp = {"qwen3 f32, prefix cache of 21 tokens", 4, lens, 8, 4, 4, 0.0f, .n_prefix = 21};
    same_as_single(m, &sp);
    static const int32_t ids[] = {5, 77, 1000};
    static const float vals[] = {4.0f, -2.0f, 9.0f};
    sp = (struct spec){"qwen3 f32, penalties, bias and top_logprobs", 4, lens, 8, 2, 4, 0.0f,
                       .logits = {.repetition_penalty = 1.3f, .presence_penalty = 0.4f, .frequency_penalty = 0.2f,
                                  .context_size = 20, .bias_ids = ids, .bias_values = vals, .n_bias = 3},
                       .top_logprobs = MAXTOP};
    same_as_single(m, &sp);
    mlxc_model_close(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_products),
        cmocka_unit_test(test_one_pass),
        cmocka_unit_test(test_quantized),
        cmocka_unit_test(test_families),
        cmocka_unit_test(test_prefix_and_processors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

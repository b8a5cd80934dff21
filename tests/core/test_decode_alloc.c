/* Issue #10 asks for no allocation in the decode loop. This test counts the heap allocations that
 * libmlxc's own code makes (malloc, calloc, realloc, posix_memalign, aligned_alloc: wrapped at link time
 * by tests/core/meson.build, so calls from shared libraries such as OpenBLAS are not seen) while
 * mlxc_generate decodes, after its first tokens, and expects none: the forward pass, the quantized and
 * float kernels, attention, the logits processors, the sampler and the top-logprobs report reuse what
 * earlier tokens set up. The counting starts after a few tokens because per-thread scratch buffers are
 * sized by the first products that need them, and stays inside the KV cache's first 256-slot step
 * (whose growth every 256 tokens is amortized, as in mlx_lm). Every case runs with 1 and with 2 threads
 * (the paths differ: prepared activations shared by the threads, or quantized per call). Sanitizer
 * builds (fixture_quick) run the cases marked quick and skip the rest. The commands' streaming
 * detokenizer is checked the same way: its BPE and SPM streams reuse their buffers from token to token. */
#include "tests/test_util.h"

#include <stdatomic.h>

#include "cache/kv.h"
#include "core/app_convert.h"
#include "core/forward.h"
#include "core/generate.h"
#include "core/model.h"
#include "tests/model_fixture.h"
#include "tokenizer/tokenizer.h"

static atomic_int counting;
static atomic_long allocations;

static void count(void)
{
    if (atomic_load(&counting))
        atomic_fetch_add(&allocations, 1);
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t a, size_t b);
void *__real_realloc(void *p, size_t n);
int __real_posix_memalign(void **p, size_t align, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);

void *__wrap_malloc(size_t n)
{
    count();
    return __real_malloc(n);
}

void *__wrap_calloc(size_t a, size_t b)
{
    count();
    return __real_calloc(a, b);
}

void *__wrap_realloc(void *p, size_t n)
{
    count();
    return __real_realloc(p, n);
}

int __wrap_posix_memalign(void **p, size_t align, size_t n)
{
    count();
    return __real_posix_memalign(p, align, n);
}

void *__wrap_aligned_alloc(size_t align, size_t n)
{
    count();
    return __real_aligned_alloc(align, n);
}

enum { PROMPT = 6, TOKENS = 24, WARM = 3 };

struct watch {
    int64_t seen;
};

/* Counting starts once WARM tokens are out and stops with the last one. */
static int on_token(void *ctx, const struct mlxc_gen_token *tok, const struct mlxc_gen_stats *running)
{
    (void)tok;
    (void)running;
    struct watch *w = ctx;
    if (++w->seen == WARM)
        atomic_store(&counting, 1);
    return 0;
}

/* Generates TOKENS tokens from `dir` with every sampler and logits processor on and kv_bits (0: the
 * model's dtype) in the cache; fails if the tokens after the first WARM allocated. */
static void check_decode(const char *dir, const char *what, int threads, int kv_bits)
{
    struct mlxc_err e = {0};
    struct mlxc_model *m = NULL;
    if (mlxc_model_open(dir, &m, &e))
        fail_msg("%s: %s", what, e.msg);
    struct mlxc_state s;
    struct mlxc_kv_cache cache;
    const struct mlxc_cache_opts opts = {.kv_bits = kv_bits, .kv_group_size = 32};
    assert_int_equal(mlxc_state_init(&s, m, 64, threads, &e), 0);
    assert_int_equal(mlxc_cache_make(m, &opts, &cache, &e), 0);
    const int32_t prompt[PROMPT] = {1, 17, 230, 5, 99, 41};
    const int32_t eos = -1; /* none: always TOKENS tokens */
    struct mlxc_gen_params p = {
        .max_tokens = TOKENS,
        .prefill_step_size = 64,
        .sampling = {.temp = 0.8f, .top_p = 0.9f, .min_p = 0.02f, .top_k = 20, .min_tokens_to_keep = 1},
        .logits = {.repetition_penalty = 1.1f, .presence_penalty = 0.2f, .frequency_penalty = 0.1f, .context_size = 20},
        .has_seed = 1,
        .seed = 7,
        .eos = &eos,
        .n_eos = 1,
        .top_logprobs = 3,
    };
    struct watch w = {0};
    struct mlxc_gen_stats stats;
    atomic_store(&allocations, 0);
    const int rc = mlxc_generate(m, &s, &cache, prompt, PROMPT, &p, on_token, &w, &stats, &e);
    atomic_store(&counting, 0);
    if (rc)
        fail_msg("%s: %s", what, e.msg);
    assert_int_equal(stats.generation_tokens, TOKENS);
    const long n = atomic_load(&allocations);
    mlxc_kv_free(&cache);
    mlxc_state_free(&s);
    mlxc_model_close(m);
    if (n)
        fail_msg("%s, %d thread(s)%s: %ld heap allocations in %d decode steps", what, threads,
                 kv_bits ? ", quantized KV cache" : "", n, TOKENS - WARM);
}

static const char *scratch;

/* A fixture converted by mlxc-convert into scratch/name (quantized to `bits` in q_mode, or cast to bf16),
 * its path in out. */
static void convert_fixture(const char *fixture, const char *name, int bits, const char *q_mode, char *out,
                            size_t cap)
{
    struct mlxc_err e = {0};
    const char *f32 = fixture_path(test_data(""), fixture, MLXC_F32, &e);
    if (!f32)
        fail_msg("%s fixture: %s", fixture, e.msg);
    snprintf(out, cap, "%s/%s", scratch, name);
    struct mlxc_convert_args a = {.hf_path = f32, .mlx_path = out, .quantize = bits > 0, .q_bits = bits,
                                  .q_mode = q_mode, .dtype = bits ? NULL : "bfloat16"};
    FILE *log = fopen("/dev/null", "w");
    const int rc = mlxc_convert_main(&a, log, &e);
    fclose(log);
    if (rc)
        fail_msg("converting %s to %s: %s", fixture, name, e.msg);
}

struct decode_case {
    const char *fixture, *name; /* the fixture, and the folder it is converted into */
    int bits;                   /* 0: bf16 */
    const char *q_mode;         /* NULL: affine */
    int kv_bits;                /* 0: the cache in the model's dtype */
    int quick;                  /* also in sanitizer builds */
};

static const struct decode_case cases[] = {
    {"llama3", "bf16 weights", 0, NULL, 0, 1},
    {"llama3", "affine 4-bit weights", 4, NULL, 0, 1},
    {"llama3", "affine 8-bit weights", 8, NULL, 0, 0},
    {"llama3", "mxfp4 weights", 4, "mxfp4", 0, 0},
    {"qwen3_moe", "qwen3_moe, affine 4-bit weights", 4, NULL, 0, 0},
    /* other paths: a rotating cache for sliding layers, attention sinks, fused projections */
    {"gemma3_text", "gemma3_text, affine 8-bit weights", 8, NULL, 0, 0},
    {"gpt_oss", "gpt_oss, affine 8-bit weights", 8, NULL, 0, 0},
    {"phi3", "phi3, affine 8-bit weights", 8, NULL, 0, 0},
    /* qwen3: a head size (32) that a cache group of 32 divides */
    {"qwen3", "qwen3, affine 4-bit weights", 4, NULL, 4, 1},
};

static void test_case(void **state)
{
    const struct decode_case *c = *state;
    if (!c->quick && fixture_quick()) { /* cmocka's skip() prints "not ok # SKIP", which tests/run counts */
        print_message("# skipped in quick mode\n");
        return;
    }
    char dir[900];
    convert_fixture(c->fixture, c->name, c->bits, c->q_mode, dir, sizeof dir);
    for (int threads = 1; threads <= 2; threads++)
        check_decode(dir, c->name, threads, c->kv_bits);
}

/* Streams the ids of a text through the tokenizer in tests/data/tok/name twice (the second time after
 * mlxc_detok_reset, so that its buffers have met every piece once) and fails if the second pass
 * allocated; the pieces must also add up to the full decode both times. */
static void check_detok(const char *name, enum mlxc_detok_kind kind)
{
    static const char text[] = "Caf\xc3\xa9 \xe2\x80\x94 na\xc3\xafve r\xc3\xa9sum\xc3\xa9s, \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e "
                               "and emoji \xf0\x9f\xab\xa0\xf0\x9f\x9a\x80 in a line,\nthen   spaces\tand tabs.";
    char dir[600];
    snprintf(dir, sizeof dir, "%s/%s", test_data("tok"), name);
    struct mlxc_err e = {0};
    struct mlxc_tokenizer *t;
    if (mlxc_tok_open(dir, &t, &e))
        fail_msg("%s: %s", dir, e.msg);
    int32_t *ids;
    size_t n;
    assert_int_equal(mlxc_tok_encode(t, text, sizeof text - 1, 0, &ids, &n, &e), 0);
    char *full;
    assert_int_equal(mlxc_tok_decode(t, ids, n, 0, &full, NULL, &e), 0);
    struct mlxc_detok *d;
    assert_int_equal(mlxc_detok_init(t, &d, &e), 0);
    assert_int_equal(mlxc_detok_kind(d), kind);
    for (int pass = 0; pass < 2; pass++) {
        char all[512] = "";
        atomic_store(&allocations, 0);
        atomic_store(&counting, pass == 1);
        for (size_t i = 0; i <= n; i++) {
            const char *piece;
            size_t len;
            assert_int_equal(i < n ? mlxc_detok_add(d, ids[i], &piece, &len, &e) : mlxc_detok_finalize(d, &piece, &len, &e), 0);
            if (piece)
                strncat(all, piece, sizeof all - strlen(all) - 1);
        }
        atomic_store(&counting, 0);
        assert_string_equal(all, full);
        if (pass == 1 && atomic_load(&allocations))
            fail_msg("%s: %ld heap allocations streaming %zu tokens", name, atomic_load(&allocations), n);
        mlxc_detok_reset(d);
    }
    mlxc_detok_free(d);
    free(full);
    free(ids);
    mlxc_tok_close(t);
}

static void test_detok_bpe(void **state)
{
    (void)state;
    check_detok("llama3", MLXC_DETOK_BPE);
}

static void test_detok_spm(void **state)
{
    (void)state;
    check_detok("llama2", MLXC_DETOK_SPM);
}

int main(void)
{
    scratch = test_tmpdir();
    enum { N = sizeof cases / sizeof cases[0] };
    struct CMUnitTest tests[N + 2] = {cmocka_unit_test(test_detok_bpe), cmocka_unit_test(test_detok_spm)};
    for (int i = 0; i < N; i++)
        tests[2 + i] = (struct CMUnitTest){cases[i].name, test_case, NULL, NULL, (void *)&cases[i]};
    const int failed = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
    if (system(cmd) != 0)
        fprintf(stderr, "# could not remove %s\n", scratch);
    return failed;
}

/* Issue #10 asks for no allocation in the decode loop. This test counts the heap allocations that
 * libmlxc's own code makes (malloc, calloc, realloc, posix_memalign, aligned_alloc: wrapped at link time
 * by tests/core/meson.build, so calls from shared libraries such as OpenBLAS are not seen) while
 * mlxc_generate decodes, after its first tokens, and expects none: the forward pass, the quantized and
 * float kernels, attention, the logits processors, the sampler and the top-logprobs report reuse what
 * earlier tokens set up. The counting starts after a few tokens because per-thread scratch buffers are
 * sized by the first products that need them, and stays inside the KV cache's first 256-slot step
 * (whose growth every 256 tokens is amortized, as in mlx_lm). Every case runs with 1 and with 2 threads
 * (the paths differ: prepared activations shared by the threads, or quantized per call). Sanitizer
 * builds (fixture_quick) keep bf16, affine 4-bit and the quantized cache, and skip the rest. */
#include "tests/test_util.h"

#include <stdatomic.h>

#include "cache/kv.h"
#include "core/app_convert.h"
#include "core/forward.h"
#include "core/generate.h"
#include "core/model.h"
#include "tests/model_fixture.h"

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

/* A fixture converted by mlxc-convert into `name` (quantized to `bits`, or cast to bf16). */
static const char *converted(const char *fixture, const char *name, int bits, const char *q_mode)
{
    static char out[8][900];
    static int k;
    struct mlxc_err e = {0};
    const char *f32 = fixture_path(test_data(""), fixture, MLXC_F32, &e);
    if (!f32)
        fail_msg("%s fixture: %s", fixture, e.msg);
    char *path = out[k++ & 7];
    snprintf(path, sizeof out[0], "%s/%s", scratch, name);
    if (access(path, F_OK) == 0)
        return path;
    struct mlxc_convert_args a = {.hf_path = f32, .mlx_path = path, .quantize = bits > 0, .q_bits = bits,
                                  .q_mode = q_mode, .dtype = bits ? NULL : "bfloat16"};
    FILE *log = fopen("/dev/null", "w");
    const int rc = mlxc_convert_main(&a, log, &e);
    fclose(log);
    if (rc)
        fail_msg("converting %s to %s: %s", fixture, name, e.msg);
    return path;
}

static void each_thread_count(const char *dir, const char *what, int kv_bits)
{
    for (int threads = 1; threads <= 2; threads++)
        check_decode(dir, what, threads, kv_bits);
}

static void test_bf16(void **state)
{
    (void)state;
    each_thread_count(converted("llama3", "bf16", 0, NULL), "bf16 weights", 0);
}

static void test_affine4(void **state)
{
    (void)state;
    each_thread_count(converted("llama3", "q4", 4, NULL), "affine 4-bit weights", 0);
}

static void test_affine8(void **state)
{
    (void)state;
    if (fixture_quick())
        skip();
    each_thread_count(converted("llama3", "q8", 8, NULL), "affine 8-bit weights", 0);
}

static void test_mxfp4(void **state)
{
    (void)state;
    if (fixture_quick())
        skip();
    each_thread_count(converted("llama3", "mxfp4", 4, "mxfp4"), "mxfp4 weights", 0);
}

/* families with other paths: a rotating cache for sliding layers (gemma3_text), attention sinks
 * (gpt_oss), fused projections (phi3) */
static void test_other_families(void **state)
{
    (void)state;
    if (fixture_quick())
        skip();
    const char *names[] = {"gemma3_text", "gpt_oss", "phi3"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char out[64];
        snprintf(out, sizeof out, "%s-q8", names[i]);
        each_thread_count(converted(names[i], out, 8, NULL), out, 0);
    }
}

static void test_moe(void **state)
{
    (void)state;
    if (fixture_quick())
        skip();
    each_thread_count(converted("qwen3_moe", "moe-q4", 4, NULL), "qwen3_moe, affine 4-bit weights", 0);
}

static void test_quantized_cache(void **state)
{
    (void)state;
    /* qwen3: a head size (32) that a cache group of 32 divides */
    each_thread_count(converted("qwen3", "qwen3-q4", 4, NULL), "qwen3, affine 4-bit weights", 4);
}

int main(void)
{
    scratch = test_tmpdir();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bf16),   cmocka_unit_test(test_affine4),         cmocka_unit_test(test_affine8),
        cmocka_unit_test(test_mxfp4), cmocka_unit_test(test_moe),
        cmocka_unit_test(test_other_families),             cmocka_unit_test(test_quantized_cache),
    };
    const int failed = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
    if (system(cmd) != 0)
        fprintf(stderr, "# could not remove %s\n", scratch);
    return failed;
}

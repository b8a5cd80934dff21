/* Regression tests for what the fuzzers and the overflow audit found (tests/fuzz/RESULTS.md), and the
 * limits untrusted files must stay within: config dimensions capped before allocation, tokenizer work
 * linear in the input, one-line errors. */
#include "tests/test_util.h"

#include <sys/stat.h>
#include <time.h>

#include "cache/prompt_cache.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/forward.h"
#include "core/model.h"
#include "core/safetensors.h"
#include "core/sys.h"
#include "tests/model_fixture.h"
#include "tokenizer/jinja.h"
#include "tokenizer/tokenizer.h"

static void write_file(const char *dir, const char *name, const char *text, size_t n)
{
    char *p = mlxc_path_join(dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    free(p);
}

/* fuzz_config: qwen2 divided hidden_size by num_attention_heads before the caps were checked (SIGFPE) */
static void test_qwen2_zero_heads(void **state)
{
    (void)state;
    struct mlxc_config c;
    struct mlxc_err e = {0};
    const char *json = "{\"model_type\": \"qwen2\", \"hidden_size\": 64, \"num_hidden_layers\": 2, "
                       "\"intermediate_size\": 128, \"num_attention_heads\": 0, \"vocab_size\": 100}";
    assert_int_equal(mlxc_config_parse(json, NULL, "config.json", &c, &e), MLXC_EFORMAT);
    assert_str_contains(e.msg, "'num_attention_heads' is 0, outside 1..1024");
    const char *neg = "{\"model_type\": \"llama\", \"hidden_size\": 64, \"num_hidden_layers\": 2, "
                      "\"intermediate_size\": 128, \"num_attention_heads\": -1, \"vocab_size\": 100}";
    assert_int_equal(mlxc_config_parse(neg, NULL, "config.json", &c, &e), MLXC_EFORMAT);
    assert_str_contains(e.msg, "'num_attention_heads' is -1");
}

/* fuzz_safetensors: lookups in a file with no tensors passed NULL to bsearch (UBSan) */
static void test_st_empty_lookups(void **state)
{
    (void)state;
    static const char buf[] = "\x02\0\0\0\0\0\0\0{}";
    struct mlxc_st_file *f;
    struct mlxc_err e = {0};
    assert_int_equal(mlxc_st_parse(buf, sizeof buf - 1, "empty", &f, &e), 0);
    assert_null(mlxc_st_find(f, "x"));
    assert_null(mlxc_st_meta_get(f, "format"));
    mlxc_st_close(f);
}

/* fuzz_safetensors: a key with a raw newline (cJSON accepts control characters in strings) made a
 * two-line error; every message is now one line, control bytes escaped */
static void test_one_line_errors(void **state)
{
    (void)state;
    static const char json[] = "{\"bad\nkey\": 5}";
    char buf[64] = {sizeof json - 1};
    memcpy(buf + 8, json, sizeof json - 1);
    struct mlxc_st_file *f = NULL;
    struct mlxc_err e = {0};
    assert_true(mlxc_st_parse(buf, 8 + sizeof json - 1, "f.safetensors", &f, &e) < 0);
    assert_null(strchr(e.msg, '\n'));
    assert_str_contains(e.msg, "bad\\nkey");
    mlxc_errf(&e, MLXC_EINVAL, "tab\there \x1b[31m");
    assert_string_equal(e.msg, "tab\\there \\x1b[31m");
    mlxc_err_ctx(&e, "in 'a\rb'");
    assert_string_equal(e.msg, "in 'a\\rb': tab\\there \\x1b[31m");
}

/* fuzz_tok_load: a tokenizer.json that is not UTF-8 (a vocabulary token with a stray byte) broke the
 * tokenizer's invariants; it is refused as HF refuses it */
static void test_tokenizer_not_utf8(void **state)
{
    (void)state;
    const char *dir = test_tmpdir();
    static const char json[] = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"\xe2\x96\": 1}, \"merges\": []}}";
    write_file(dir, "tokenizer.json", json, sizeof json - 1);
    struct mlxc_tokenizer *t;
    struct mlxc_err e = {0};
    assert_int_equal(mlxc_tok_open(dir, &t, &e), MLXC_EFORMAT);
    assert_str_contains(e.msg, "is not valid UTF-8 (byte 45)");
}

/* fuzz_tok_load: the Naive stream emitted the text before a trailing U+FFFD, which a ByteFallback run
 * still in progress later turns into another character; as mlx_lm, it now waits */
static void test_naive_stream_byte_run(void **state)
{
    (void)state;
    const char *dir = test_tmpdir();
    /* SentencePiece-like, but Strip(start=0) is not mlx_lm's SPM sequence: the Naive stream */
    static const char json[] =
        "{\"model\": {\"type\": \"BPE\", \"byte_fallback\": true, \"vocab\": {\"<unk>\": 0, \"<0xE2>\": 1, "
        "\"<0x96>\": 2, \"<0x81>\": 3, \"a\": 4}, \"merges\": []}, \"decoder\": {\"type\": \"Sequence\", "
        "\"decoders\": [{\"type\": \"Replace\", \"pattern\": {\"String\": \"\xe2\x96\x81\"}, \"content\": \" \"}, "
        "{\"type\": \"ByteFallback\"}, {\"type\": \"Fuse\"}, {\"type\": \"Strip\", \"content\": \" \", \"start\": 0, "
        "\"stop\": 0}]}}";
    write_file(dir, "tokenizer.json", json, sizeof json - 1);
    struct mlxc_tokenizer *t;
    struct mlxc_err e = {0};
    assert_int_equal(mlxc_tok_open(dir, &t, &e), 0);
    struct mlxc_detok *d;
    assert_int_equal(mlxc_detok_init(t, &d, &e), 0);
    assert_int_equal(mlxc_detok_kind(d), MLXC_DETOK_NAIVE);
    int32_t ids[] = {4, 1, 2, 3, 4};
    char all[64] = "";
    for (size_t i = 0; i <= 5; i++) {
        const char *piece;
        size_t n;
        assert_int_equal(i < 5 ? mlxc_detok_add(d, ids[i], &piece, &n, &e) : mlxc_detok_finalize(d, &piece, &n, &e), 0);
        if (piece)
            strncat(all, piece, sizeof all - strlen(all) - 1);
    }
    assert_string_equal(all, "a\xe2\x96\x81" "a"); /* "a▁a": the three bytes form U+2581 */
    char *full;
    assert_int_equal(mlxc_tok_decode(t, ids, 5, 0, &full, NULL, &e), 0);
    assert_string_equal(all, full);
    free(full);
    /* a long line, the decode's working memory reused from token to token (tok_dec_ws): the pieces still
     * add up to the full decode, against the reference decode of the whole line */
    enum { LONG = 595 }; /* whole runs: a run cut short would decode to U+FFFD per byte after its start was emitted */
    int32_t many[LONG];
    for (int i = 0; i < LONG; i++)
        many[i] = i % 7 == 6 ? 4 : 1 + i % 7 % 3; /* "<0xE2><0x96><0x81>" twice, then "a" */
    mlxc_detok_reset(d);
    struct mlxc_buf got = MLXC_BUF_INIT;
    for (int i = 0; i <= LONG; i++) {
        const char *piece;
        size_t n;
        assert_int_equal(i < LONG ? mlxc_detok_add(d, many[i], &piece, &n, &e) : mlxc_detok_finalize(d, &piece, &n, &e), 0);
        mlxc_buf_append(&got, piece ? piece : "", n);
    }
    assert_int_equal(mlxc_tok_decode(t, many, LONG, 0, &full, NULL, &e), 0);
    assert_int_equal(got.len, strlen(full));
    assert_memory_equal(got.data, full, got.len);
    free(full);
    mlxc_buf_free(&got);
    mlxc_detok_free(d);
    mlxc_tok_close(t);
}

/* fuzz_tok_load: the full decode's ByteFallback reads "<0x+F>" as a byte (HF's u8::from_str_radix
 * takes a '+'), the SPM stream did not: the streamed pieces did not add up to the full decode */
static void test_spm_stream_byte_plus_sign(void **state)
{
    (void)state;
    const char *dir = test_tmpdir();
    static const char json[] =
        "{\"model\": {\"type\": \"BPE\", \"byte_fallback\": true, \"vocab\": {\"<unk>\": 0, \"<0x+F>\": 1, "
        "\"<0x41>\": 2, \"\xe2\x96\x81" "a\": 3, \"b\": 4}, \"merges\": []}, \"decoder\": {\"type\": \"Sequence\", "
        "\"decoders\": [{\"type\": \"Replace\", \"pattern\": {\"String\": \"\xe2\x96\x81\"}, \"content\": \" \"}, "
        "{\"type\": \"ByteFallback\"}, {\"type\": \"Fuse\"}, {\"type\": \"Strip\", \"content\": \" \", \"start\": 1, "
        "\"stop\": 0}]}}";
    write_file(dir, "tokenizer.json", json, sizeof json - 1);
    struct mlxc_tokenizer *t;
    struct mlxc_err e = {0};
    assert_int_equal(mlxc_tok_open(dir, &t, &e), 0);
    struct mlxc_detok *d;
    assert_int_equal(mlxc_detok_init(t, &d, &e), 0);
    assert_int_equal(mlxc_detok_kind(d), MLXC_DETOK_SPM);
    int32_t ids[] = {4, 1, 2, 3, 1};
    char all[64] = "";
    for (size_t i = 0; i <= 5; i++) {
        const char *piece;
        size_t n;
        assert_int_equal(i < 5 ? mlxc_detok_add(d, ids[i], &piece, &n, &e) : mlxc_detok_finalize(d, &piece, &n, &e), 0);
        if (piece)
            strncat(all, piece, sizeof all - strlen(all) - 1);
    }
    char *full;
    assert_int_equal(mlxc_tok_decode(t, ids, 5, 0, &full, NULL, &e), 0);
    assert_string_equal(full, "b\x0f" "A a\x0f");
    assert_string_equal(all, full);
    free(full);
    mlxc_detok_free(d);
    mlxc_tok_close(t);
}

/* fuzz_tok_load: the id tables are sized by the largest id, and a tokenizer.json with an id near 2^31
 * asked for 15 GB; ids above the largest vocabulary a config may declare are refused */
static void test_tokenizer_huge_id(void **state)
{
    (void)state;
    static const char *const jsons[] = {
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 8388608}, \"merges\": []}}",
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"added_tokens\": [{\"id\": "
        "1837735521, \"content\": \"<x>\", \"special\": true}]}",
    };
    static const char *const errs[] = {"vocab entry 'b' has no valid id (0 to 8388607)",
                                       "added token 0 has no id (0 to 8388607) or content"};
    for (size_t i = 0; i < 2; i++) {
        const char *dir = test_tmpdir();
        write_file(dir, "tokenizer.json", jsons[i], strlen(jsons[i]));
        struct mlxc_tokenizer *t;
        struct mlxc_err e = {0};
        assert_int_equal(mlxc_tok_open(dir, &t, &e), MLXC_EFORMAT);
        assert_str_contains(e.msg, errs[i]);
    }
    /* the largest id allowed still opens */
    const char *dir = test_tmpdir();
    static const char ok_json[] = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 8388607}, \"merges\": []}}";
    write_file(dir, "tokenizer.json", ok_json, sizeof ok_json - 1);
    struct mlxc_tokenizer *t;
    struct mlxc_err e = {0};
    assert_int_equal(mlxc_tok_open(dir, &t, &e), 0);
    mlxc_tok_close(t);
}

/* Post-processor ids must be token ids: a negative one would index the embedding from below, a huge
 * one was converted to int32_t with undefined behaviour */
static void test_post_processor_ids(void **state)
{
    (void)state;
    static const char *const bad[] = {"-5", "1e20", "2.5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *dir = test_tmpdir();
        char json[512];
        int n = snprintf(json, sizeof json,
                         "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"<s>\": 1}, \"merges\": []}, "
                         "\"post_processor\": {\"type\": \"BertProcessing\", \"cls\": [\"<s>\", 1], "
                         "\"sep\": [\"</s>\", %s]}}", bad[i]);
        write_file(dir, "tokenizer.json", json, (size_t)n);
        struct mlxc_tokenizer *t;
        struct mlxc_err e = {0};
        assert_int_equal(mlxc_tok_open(dir, &t, &e), MLXC_EFORMAT);
        assert_str_contains(e.msg, "post-processor 'sep' id");
    }
}

/* The template renders (with no context) to an error containing err. */
static void assert_render_fails(const char *src, const char *err)
{
    struct mlxc_jinja *t;
    struct mlxc_err e = {0};
    char *out = NULL;
    size_t n;
    assert_int_equal(mlxc_jinja_compile(src, strlen(src), &t, &e), 0);
    assert_true(mlxc_jinja_render(t, "{}", 2, NULL, &out, &n, &e) < 0);
    assert_str_contains(e.msg, err);
    free(out);
    mlxc_jinja_free(t);
}

/* The template renders (with no context) to want. */
static void assert_renders(const char *src, const char *want)
{
    struct mlxc_jinja *t;
    struct mlxc_err e = {0};
    char *out;
    size_t n;
    assert_int_equal(mlxc_jinja_compile(src, strlen(src), &t, &e), 0);
    assert_int_equal(mlxc_jinja_render(t, "{}", 2, NULL, &out, &n, &e), 0);
    assert_string_equal(out, want);
    free(out);
    mlxc_jinja_free(t);
}

/* fuzz_jinja: str.format parsed a field index with atoi, which overflowed into a negative index read
 * before the arguments (a stack overflow printing the garbage value) */
static void test_format_index_overflow(void **state)
{
    (void)state;
    static const char *const srcs[] = {"{{ '{0111111111111111111111111}'.format(1) }}", "{{ '{4294967296}'.format(1) }}",
                                       "{{ '{0[99999999999999999999]}'.format([1]) }}"};
    static const char *const errs[] = {"Replacement index 0111111111111111111111111 out of range",
                                       "Replacement index 4294967296 out of range", ""};
    for (size_t i = 0; i < sizeof srcs / sizeof srcs[0]; i++)
        assert_render_fails(srcs[i], errs[i]);
    assert_renders("{{ '{1}{0}'.format('a', 'b') }}", "ba");
}

/* fuzz_jinja (16-core run): '%d' % FLOAT converted the float with a plain cast, undefined (a UBSan
 * float-cast-overflow) for infinities, NaN and anything past 64 bits; those now fail as |int does
 * (Python: OverflowError or ValueError, and big integers, which mlxc does not have) */
static void test_percent_float_to_int(void **state)
{
    (void)state;
    static const char *const srcs[] = {"{{ '%d' % 1.0e300 }}", "{{ '%i' % (1.0e308 * 10) }}",
                                       "{{ '%d' % (1.0e308 * 10 - 1.0e308 * 10) }}", "{{ '%u' % -9.3e18 }}"};
    static const char *const errs[] = {"integer overflow", "cannot convert float infinity to integer",
                                       "cannot convert float NaN to integer", "integer overflow"};
    for (size_t i = 0; i < sizeof srcs / sizeof srcs[0]; i++)
        assert_render_fails(srcs[i], errs[i]);
    /* Python: '-2|9000000000000000000|    7' */
    assert_renders("{{ '%d|%i|%5d' % (-2.5, 9.0e18, 7.9) }}", "-2|9000000000000000000|    7");
}

/* A config asking for about 10^12 parameters (every dimension within its cap) beside small weights:
 * the load fails on the first shape, having allocated nothing sized from the config. */
static void test_config_trillion_params(void **state)
{
    (void)state;
    const char *dir = test_tmpdir();
    struct mlxc_err e = {0};
    assert_int_equal(fixture_build(getenv("MLXC_TEST_DATA"), "llama3", MLXC_F32, dir, &e), 0);
    static const char cfg[] = "{\"model_type\": \"llama\", \"hidden_size\": 131072, \"num_hidden_layers\": 1024, "
                              "\"intermediate_size\": 1048576, \"num_attention_heads\": 1024, "
                              "\"num_key_value_heads\": 8, \"vocab_size\": 8388608, \"max_position_embeddings\": 1000000000}";
    write_file(dir, "config.json", cfg, sizeof cfg - 1);
    uint64_t rss0 = mlxc_peak_rss();
    struct mlxc_model *m;
    assert_int_equal(mlxc_model_open(dir, &m, &e), MLXC_EFORMAT);
    assert_str_contains(e.msg, "model.embed_tokens");
    assert_null(strchr(e.msg, '\n'));
    /* far below the 2^42 bytes of an f16 trillion-parameter model, or even one embedding row table */
    assert_true(mlxc_peak_rss() - rss0 < (64u << 20));
}

/* MoE checkpoints that do not fit their config: one clear line, no crash (more experts than the router
 * has, experts of another width) */
static void test_moe_bad_experts(void **state)
{
    (void)state;
    const char *dir = test_tmpdir();
    struct mlxc_err e = {0};
    struct mlxc_model *m;
    char path[1024];
    assert_int_equal(fixture_build(getenv("MLXC_TEST_DATA"), "mixtral", MLXC_F32, dir, &e), 0);
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *cfg = mlxc_read_file(path, 1 << 20, NULL, &e), *at = strstr(cfg, "\"num_local_experts\": 4");
    assert_non_null(at);
    at[strlen("\"num_local_experts\": ")] = '5';
    write_file(dir, "config.json", cfg, strlen(cfg));
    assert_int_equal(mlxc_model_open(dir, &m, &e), MLXC_EFORMAT);
    assert_str_contains(e.msg, "tensor 'model.layers.0.block_sparse_moe.gate.weight': expected shape (5, 64), got (4, 64)");
    assert_null(strchr(e.msg, '\n'));
    free(cfg);
    const char *dir2 = test_tmpdir();
    assert_int_equal(fixture_build(getenv("MLXC_TEST_DATA"), "gpt_oss", MLXC_BF16, dir2, &e), 0);
    snprintf(path, sizeof path, "%s/config.json", dir2);
    cfg = mlxc_read_file(path, 1 << 20, NULL, &e);
    at = strstr(cfg, "\"intermediate_size\": 64");
    assert_non_null(at);
    memcpy(at + strlen("\"intermediate_size\": "), "32", 2);
    write_file(dir2, "config.json", cfg, strlen(cfg));
    assert_int_equal(mlxc_model_open(dir2, &m, &e), MLXC_EFORMAT);
    assert_str_contains(e.msg, "experts 'model.layers.0.mlp.experts.gate_proj.weight': expected (32, 64) per expert, got (64, 64)");
    free(cfg);
}

/* CPU seconds of one encode */
static double encode_seconds(const struct mlxc_tokenizer *t, const char *s, size_t n)
{
    int32_t *ids;
    size_t k;
    struct mlxc_err e = {0};
    clock_t t0 = clock();
    assert_int_equal(mlxc_tok_encode(t, s, n, 1, &ids, &k, &e), 0);
    double dt = (double)(clock() - t0) / CLOCKS_PER_SEC;
    free(ids);
    return dt;
}

/* Tokenizer work is linear in the input on the shapes that make naive BPE or regex code quadratic:
 * one huge word, a run of spaces or digits, repeated multi-byte characters, a near-miss of an added
 * token. 8x the input may take at most 24x the time (quadratic would be 64x). */
static void test_tokenizer_linear(void **state)
{
    (void)state;
    static const char *const toks[] = {"tok/llama3", "tok/llama2", "tok/gemma3"};
    static const char *const units[] = {"a", " ", "7", "\xc3\xa9", "\xe4\xb8\xad", "<|", "ab ", "\n\n"};
    size_t small = 16384, big = 8 * small;
    char *buf = malloc(big + 1);
    assert_non_null(buf);
    for (size_t k = 0; k < sizeof toks / sizeof toks[0]; k++) {
        struct mlxc_tokenizer *t;
        struct mlxc_err e = {0};
        assert_int_equal(mlxc_tok_open(test_data(toks[k]), &t, &e), 0);
        for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
            size_t ul = strlen(units[u]), n = 0;
            while (n + ul <= big)
                memcpy(buf + n, units[u], ul), n += ul;
            size_t ns = n / 8 / ul * ul;
            double ts = encode_seconds(t, buf, ns), tb = encode_seconds(t, buf, n);
            /* the floor keeps timer resolution out of the ratio; a ratio over the bound is measured twice
             * more, keeping the fastest of each size (a shared machine can stall one run, not three) */
            for (int again = 0; again < 2 && tb > 24 * (ts > 0.002 ? ts : 0.002); again++) {
                double ts2 = encode_seconds(t, buf, ns), tb2 = encode_seconds(t, buf, n);
                ts = ts2 < ts ? ts2 : ts;
                tb = tb2 < tb ? tb2 : tb;
            }
            if (tb > 24 * (ts > 0.002 ? ts : 0.002))
                fail_msg("%s: '%s' x %zu bytes took %.3f s, x %zu bytes %.3f s: not linear", toks[k], units[u], n, tb,
                         ns, ts);
        }
        mlxc_tok_close(t);
    }
    free(buf);
}

/* Rewrites the saved cache file's metadata entry "key":"old... so that its value starts with repl
 * instead (as many bytes as repl: the file keeps its length). */
static void patch_metadata(const char *path, const char *key, const char *old, const char *repl)
{
    struct mlxc_err e = {0};
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":\"%s", key, old);
    size_t n;
    char *bytes = mlxc_read_file(path, 1 << 24, &n, &e), *at = bytes ? strstr(bytes + 8, pattern) : NULL;
    assert_non_null(at);
    memcpy(at + strlen(key) + 4, repl, strlen(repl));
    FILE *f = fopen(path, "wb");
    assert_true(f && fwrite(bytes, 1, n, f) == n && fclose(f) == 0);
    free(bytes);
}

/* fuzz_prompt_cache (writing its seeds): saving a quantized rotating cache overran the name buffer
 * (19 names a layer, 14 allocated); every cache kind now saves and loads back */
static void test_prompt_cache_kinds_round_trip(void **state)
{
    (void)state;
    const char *dir = test_tmpdir();
    struct mlxc_err e = {0};
    char mdir[600], path[600];
    snprintf(mdir, sizeof mdir, "%s/m", dir);
    snprintf(path, sizeof path, "%s/c.safetensors", dir);
    assert_int_equal(fixture_build(getenv("MLXC_TEST_DATA"), "qwen3", MLXC_F32, mdir, &e), 0);
    struct mlxc_model *m;
    assert_int_equal(mlxc_model_open(mdir, &m, &e), 0);
    struct mlxc_state s = {0};
    assert_int_equal(mlxc_state_init(&s, m, 1, 1, &e), 0);
    const struct mlxc_cache_opts opts[] = {
        {0}, {.max_kv_size = 6}, {.kv_bits = 4, .kv_group_size = 32},
        {.max_kv_size = 8, .kv_bits = 8, .kv_group_size = 32},
    };
    for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++) {
        struct mlxc_kv_cache c = {0}, back = {0};
        assert_int_equal(mlxc_cache_make(m, &opts[k], &c, &e), 0);
        for (int i = 0; i < 11; i++) {
            int32_t tok = i + 3;
            if (mlxc_forward(m, &s, &c, &tok, 1, 0, &e))
                fail_msg("%s", e.msg);
        }
        if (mlxc_prompt_cache_save(path, &c, m, NULL, 0, &e) || mlxc_prompt_cache_load(path, m, &back, NULL, NULL, &e))
            fail_msg("cache kind %zu: %s", k, e.msg);
        assert_int_equal(back.offset, c.offset);
        assert_int_equal(back.layers[0].bits, c.layers[0].bits);
        assert_int_equal(back.layers[0].policy, c.layers[0].policy);
        if (k == 1) { /* the wrapped rotating cache with its write index moved into the kept prefix */
            patch_metadata(path, "0.0.3", "", "1");
            mlxc_kv_free(&back);
            assert_int_equal(mlxc_prompt_cache_load(path, m, &back, NULL, NULL, &e), MLXC_EFORMAT);
            assert_str_contains(e.msg, "inconsistent rotating cache state (6 slots, keep 4, max_size 6, offset 11, idx 1)");
            /* fuzz_prompt_cache: keep == max_size made the trim before a multi-token step move a negative
             * number of slots (mlxc never writes one: --max-kv-size must exceed the 4 kept positions) */
            assert_int_equal(mlxc_prompt_cache_save(path, &c, m, NULL, 0, &e), 0);
            patch_metadata(path, "0.0.0", "4\"", "6");
            assert_int_equal(mlxc_prompt_cache_load(path, m, &back, NULL, NULL, &e), MLXC_EFORMAT);
            assert_str_contains(e.msg, "layer 0: inconsistent rotating cache state (keep 6, max_size 6)");
            /* fuzz_prompt_cache (16-core run): a buffer that has not wrapped (offset == slots) with its
             * write index inside the kept prefix: the reordering before a multi-token step asked malloc
             * for (idx - keep) slots, a negative count (2^64 - 255 bytes) */
            struct mlxc_kv_cache young = {0};
            assert_int_equal(mlxc_cache_make(m, &opts[k], &young, &e), 0);
            for (int i = 0; i < 4; i++) {
                int32_t tok = i + 3;
                if (mlxc_forward(m, &s, &young, &tok, 1, 0, &e))
                    fail_msg("%s", e.msg);
            }
            assert_int_equal(mlxc_prompt_cache_save(path, &young, m, NULL, 0, &e), 0);
            mlxc_kv_free(&young);
            patch_metadata(path, "0.0.3", "4\"", "3");
            assert_int_equal(mlxc_prompt_cache_load(path, m, &back, NULL, NULL, &e), MLXC_EFORMAT);
            assert_str_contains(e.msg, "inconsistent rotating cache state (4 slots, keep 4, max_size 6, offset 4, idx 3)");
        }
        if (k == 2) { /* fuzz_prompt_cache (16-core run): a quantized layer with group size 0 was refused, but
                       * the cache freed on the way out sized that layer's arrays dividing by it (SIGFPE) */
            patch_metadata(path, "0.0.1", "32\"", "00");
            mlxc_kv_free(&back);
            assert_int_equal(mlxc_prompt_cache_load(path, m, &back, NULL, NULL, &e), MLXC_EINVAL);
            assert_str_contains(e.msg, "group size 0 is not supported");
        }
        mlxc_kv_free(&c);
        mlxc_kv_free(&back);
    }
    mlxc_state_free(&s);
    mlxc_model_close(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qwen2_zero_heads),       cmocka_unit_test(test_st_empty_lookups),
        cmocka_unit_test(test_one_line_errors),        cmocka_unit_test(test_tokenizer_not_utf8),
        cmocka_unit_test(test_naive_stream_byte_run),  cmocka_unit_test(test_config_trillion_params),
        cmocka_unit_test(test_tokenizer_linear),       cmocka_unit_test(test_prompt_cache_kinds_round_trip),
        cmocka_unit_test(test_post_processor_ids),     cmocka_unit_test(test_format_index_overflow),
        cmocka_unit_test(test_spm_stream_byte_plus_sign), cmocka_unit_test(test_tokenizer_huge_id),
        cmocka_unit_test(test_moe_bad_experts),       cmocka_unit_test(test_percent_float_to_int),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

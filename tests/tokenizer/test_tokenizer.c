/* The tokenizer against Hugging Face tokenizers: for six real tokenizers (tests/data/tok), every golden
 * case made by tests/gen/make_tok_golden.mjs must give the same ids with and without special tokens, the
 * same decode (with and without skip_special_tokens), and a streaming detokenization whose pieces are
 * whole UTF-8 and concatenate to the full decode. Then hostile inputs and broken folders. */
#include "tests/test_util.h"

#include <cjson/cJSON.h>
#include <sys/stat.h>

#include "core/sys.h"
#include "core/utf8.h"
#include "tokenizer/tokenizer.h"

#define MAX_REPORTS 8

static void print_ids(const char *label, const int32_t *ids, size_t n, const struct mlxc_tokenizer *t)
{
    printf("#   %s (%zu):", label, n);
    for (size_t i = 0; i < n && i < 64; i++) {
        const char *tok = mlxc_tok_id_to_token(t, ids[i]);
        printf(" %d'%s'", ids[i], tok ? tok : "?");
    }
    printf("%s\n", n > 64 ? " ..." : "");
}

static void print_json_ids(const char *label, const cJSON *arr, const struct mlxc_tokenizer *t)
{
    size_t n = (size_t)cJSON_GetArraySize(arr);
    int32_t *v = calloc(n + 1, sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = (int32_t)cJSON_GetArrayItem(arr, (int)i)->valuedouble;
    print_ids(label, v, n, t);
    free(v);
}

static void print_text(const char *label, const char *s)
{
    cJSON *j = cJSON_CreateString(s);
    char *p = cJSON_PrintUnformatted(j);
    printf("#   %s: %.400s\n", label, p);
    free(p);
    cJSON_Delete(j);
}

static int same_ids(const cJSON *arr, const int32_t *ids, size_t n)
{
    if ((size_t)cJSON_GetArraySize(arr) != n)
        return 0;
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        if ((int32_t)it->valuedouble != ids[i++])
            return 0;
    }
    return 1;
}

/* Streams ids through a detokenizer; returns the concatenation (malloc'd) or NULL when a piece is not
 * whole UTF-8. */
static char *stream(const struct mlxc_tokenizer *t, const int32_t *ids, size_t n)
{
    struct mlxc_err e = {0};
    struct mlxc_detok *d;
    if (mlxc_detok_init(t, &d, &e))
        return NULL;
    char *all = calloc(1, 1);
    size_t len = 0;
    int ok = 1;
    for (size_t i = 0; i <= n && ok; i++) {
        const char *p;
        size_t pl;
        int rc = i < n ? mlxc_detok_add(d, ids[i], &p, &pl, &e) : mlxc_detok_finalize(d, &p, &pl, &e);
        if (rc) {
            ok = 0;
            break;
        }
        if (p) {
            if (!mlxc_utf8_valid(p, pl) || pl == 0)
                ok = 0;
            all = realloc(all, len + pl + 1);
            memcpy(all + len, p, pl);
            len += pl;
            all[len] = '\0';
        }
    }
    mlxc_detok_free(d);
    if (!ok) {
        free(all);
        return NULL;
    }
    return all;
}

static void run_golden_n(const char *name, int min_cases)
{
    char dir[512], gpath[600];
    snprintf(dir, sizeof dir, "%s", test_data("tok"));
    snprintf(dir + strlen(dir), sizeof dir - strlen(dir), "/%s", name);
    snprintf(gpath, sizeof gpath, "%s/golden.jsonl", dir);
    struct mlxc_err e = {0};
    struct mlxc_tokenizer *t;
    if (mlxc_tok_open(dir, &t, &e))
        fail_msg("open '%s': %s", dir, e.msg);
    size_t glen;
    char *golden = mlxc_read_file(gpath, (size_t)1 << 30, &glen, &e);
    assert_non_null(golden);

    int cases = 0, bad_ids = 0, bad_ns = 0, bad_dec = 0, bad_skip = 0, bad_stream = 0, reports = 0;
    char *line = golden, *next;
    for (; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        cJSON *c = cJSON_Parse(line);
        assert_non_null(c);
        const char *in = cJSON_GetObjectItem(c, "in")->valuestring;
        const cJSON *want = cJSON_GetObjectItem(c, "ids"), *want_ns = cJSON_GetObjectItem(c, "ids_ns");
        const char *want_dec = cJSON_GetObjectItem(c, "dec")->valuestring;
        const char *want_skip = cJSON_GetObjectItem(c, "dec_skip")->valuestring;
        cases++;

        int32_t *ids = NULL, *ids_ns = NULL;
        size_t n = 0, n_ns = 0;
        int rc1 = mlxc_tok_encode(t, in, strlen(in), 1, &ids, &n, &e);
        int ok1 = rc1 == 0 && same_ids(want, ids, n);
        int rc2 = mlxc_tok_encode(t, in, strlen(in), 0, &ids_ns, &n_ns, &e);
        int ok2 = rc2 == 0 && same_ids(want_ns, ids_ns, n_ns);
        bad_ids += !ok1;
        bad_ns += !ok2;
        if ((!ok1 || !ok2) && reports++ < MAX_REPORTS) {
            printf("# %s: ids differ from HF tokenizers\n", name);
            print_text("input", in);
            if (rc1 || rc2)
                printf("#   error: %s\n", e.msg);
            print_json_ids(ok1 ? "expected (no special)" : "expected", ok1 ? want_ns : want, t);
            if (ok1)
                print_ids("actual (no special)", ids_ns, n_ns, t);
            else
                print_ids("actual", ids, n, t);
        }

        /* decode the reference ids, so decoding is tested on its own */
        size_t nw = (size_t)cJSON_GetArraySize(want);
        int32_t *wids = calloc(nw + 1, sizeof *wids);
        for (size_t i = 0; i < nw; i++)
            wids[i] = (int32_t)cJSON_GetArrayItem(want, (int)i)->valuedouble;
        char *dec = NULL, *skip = NULL;
        size_t dl = 0, sl;
        if (mlxc_tok_decode(t, wids, nw, 0, &dec, &dl, &e) || strcmp(dec, want_dec)) {
            bad_dec++;
            if (reports++ < MAX_REPORTS) {
                printf("# %s: decode differs from HF tokenizers\n", name);
                print_json_ids("ids", want, t);
                print_text("expected", want_dec);
                print_text("actual", dec ? dec : "(error)");
            }
        }
        if (mlxc_tok_decode(t, wids, nw, 1, &skip, &sl, &e) || strcmp(skip, want_skip)) {
            bad_skip++;
            if (reports++ < MAX_REPORTS) {
                printf("# %s: decode with skip_special differs\n", name);
                print_text("expected", want_skip);
                print_text("actual", skip ? skip : "(error)");
            }
        }
        char *st = stream(t, wids, nw);
        if (!st || !dec || strcmp(st, dec)) {
            bad_stream++;
            if (reports++ < MAX_REPORTS) {
                printf("# %s: streamed text differs from the full decode (or split UTF-8)\n", name);
                print_json_ids("ids", want, t);
                print_text("full", dec ? dec : "(error)");
                print_text("streamed", st ? st : "(bad piece)");
            }
        }
        free(st);
        free(dec);
        free(skip);
        free(wids);
        free(ids);
        free(ids_ns);
        cJSON_Delete(c);
    }
    printf("# %s: %d cases; ids %d/%d, ids without special %d/%d, decode %d/%d, decode skip %d/%d, stream %d/%d\n",
           name, cases, cases - bad_ids, cases, cases - bad_ns, cases, cases - bad_dec, cases, cases - bad_skip,
           cases, cases - bad_stream, cases);
    free(golden);
    mlxc_tok_close(t);
    assert_true(cases >= min_cases);
    assert_int_equal(bad_ids + bad_ns + bad_dec + bad_skip + bad_stream, 0);
}


/* ---- hostile inputs and broken folders ---- */

static struct mlxc_tokenizer *open_named(const char *name)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", test_data("tok"), name);
    struct mlxc_err e = {0};
    struct mlxc_tokenizer *t = NULL;
    if (mlxc_tok_open(dir, &t, &e))
        fail_msg("open '%s': %s", dir, e.msg);
    return t;
}

static void test_invalid_utf8(void **s)
{
    (void)s;
    struct mlxc_tokenizer *t = open_named("llama3");
    static const struct {
        const char *text;
        size_t len, at;
    } bad[] = {
        {"a\xff" "b", 3, 1},       {"\xc0\x80", 2, 0},          {"ok \xed\xa0\x80", 6, 3},
        {"abc\xe2\x82", 5, 3},     {"\xf4\x90\x80\x80", 4, 0},  {"\x80", 1, 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct mlxc_err e = {0};
        int32_t *ids = (int32_t *)1;
        size_t n = 7;
        assert_int_equal(mlxc_tok_encode(t, bad[i].text, bad[i].len, 1, &ids, &n, &e), MLXC_EINVAL);
        char want[64];
        snprintf(want, sizeof want, "input is not valid UTF-8 at byte %zu", bad[i].at);
        assert_string_equal(e.msg, want);
        assert_null(ids);
        assert_int_equal(n, 0);
    }
    mlxc_tok_close(t);
}

static void test_empty_and_nul(void **s)
{
    (void)s;
    struct mlxc_err e = {0};
    int32_t *ids;
    size_t n;
    struct mlxc_tokenizer *l2 = open_named("llama2"), *l3 = open_named("llama3");
    assert_int_equal(mlxc_tok_encode(l2, "", 0, 1, &ids, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 1);
    free(ids);
    assert_int_equal(mlxc_tok_encode(l3, NULL, 0, 1, &ids, &n, &e), 0);
    assert_int_equal(n, 0);
    free(ids);
    /* NUL bytes are ordinary text */
    assert_int_equal(mlxc_tok_encode(l3, "a\0b\0", 4, 0, &ids, &n, &e), 0);
    char *out;
    size_t ol;
    assert_int_equal(mlxc_tok_decode(l3, ids, n, 0, &out, &ol, &e), 0);
    assert_int_equal(ol, 4);
    assert_memory_equal(out, "a\0b\0", 4);
    free(out);
    free(ids);
    /* ids without a token are dropped by decode, as HF does */
    int32_t odd[] = {-5, 9906, 1 << 30};
    assert_int_equal(mlxc_tok_decode(l3, odd, 3, 0, &out, &ol, &e), 0);
    assert_string_equal(out, "Hello");
    free(out);
    mlxc_tok_close(l2);
    mlxc_tok_close(l3);
}

/* A long word with no spaces comes back intact (BPE over ~10^5 symbols). */
static void test_long_word_roundtrip(void **s)
{
    (void)s;
    const char *names[] = {"llama3", "gemma3"};
    size_t n = 200000;
    char *text = malloc(n + 1);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        text[i] = (char)('a' + (x >> 16) % 26);
    }
    text[n] = '\0';
    for (int k = 0; k < 2; k++) {
        struct mlxc_tokenizer *t = open_named(names[k]);
        struct mlxc_err e = {0};
        int32_t *ids;
        size_t nids;
        char *out;
        size_t ol;
        assert_int_equal(mlxc_tok_encode(t, text, n, 0, &ids, &nids, &e), 0);
        assert_true(nids > n / 8 && nids < n);
        assert_int_equal(mlxc_tok_decode(t, ids, nids, 0, &out, &ol, &e), 0);
        if (k == 1) /* Gemma's decoder keeps the text as it is; Llama 3's too */
            assert_int_equal(ol, n);
        assert_string_equal(out, text);
        free(out);
        free(ids);
        mlxc_tok_close(t);
    }
    free(text);
}

static void test_accessors(void **s)
{
    (void)s;
    static const struct {
        const char *name;
        int32_t vocab, bos, eos;
        int thinking, has_template;
    } want[] = {
        /* vocab sizes: HF Tokenizer.get_vocab_size(with_added_tokens=True) */
        {"llama3", 128256, 128000, 128001, 0, 1}, {"qwen3", 151669, -1, 151645, 1, 1},
        {"llama2", 32000, 1, 2, 0, 0},            {"gemma3", 262145, 2, 106, 0, 1},
        {"deepseek_v3", 128815, 0, 1, 0, 1},      {"gptoss", 200019, 199998, 200002, 0, 0},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        struct mlxc_tokenizer *t = open_named(want[i].name);
        assert_int_equal(mlxc_tok_vocab_size(t), want[i].vocab);
        assert_int_equal(mlxc_tok_bos_id(t), want[i].bos);
        assert_int_equal(mlxc_tok_eos_id(t), want[i].eos);
        assert_int_equal(mlxc_tok_has_thinking(t), want[i].thinking);
        assert_int_equal(mlxc_tok_chat_template(t) != NULL, want[i].has_template);
        if (want[i].has_template)
            assert_true(mlxc_tok_chat_template_source(t)[0] == '"');
        if (want[i].eos >= 0) {
            assert_true(mlxc_tok_is_special(t, want[i].eos));
            assert_string_equal(mlxc_tok_id_to_token(t, want[i].eos), mlxc_tok_eos_token(t));
            assert_int_equal(mlxc_tok_token_to_id(t, mlxc_tok_eos_token(t)), want[i].eos);
        }
        assert_null(mlxc_tok_id_to_token(t, -1));
        assert_null(mlxc_tok_id_to_token(t, 1 << 30));
        assert_int_equal(mlxc_tok_token_to_id(t, "no such token \x01"), -1);
        mlxc_tok_close(t);
    }
    struct mlxc_tokenizer *t = open_named("llama2");
    assert_int_equal(mlxc_tok_add_bos(t), 1);
    assert_int_equal(mlxc_tok_add_eos(t), 0);
    assert_string_equal(mlxc_tok_id_to_token(t, 22557), "\xe2\x96\x81Hello");
    assert_false(mlxc_tok_is_special(t, 22557));
    mlxc_tok_close(t);
}

/* Streaming: detokenizer kinds, UTF-8 held back across tokens, mlx_lm's first-space option. */
static void test_detok(void **s)
{
    (void)s;
    struct mlxc_err e = {0};
    struct mlxc_tokenizer *q = open_named("qwen3"), *l2 = open_named("llama2"), *g = open_named("gemma3");
    struct mlxc_detok *d;
    assert_int_equal(mlxc_detok_init(q, &d, &e), 0);
    assert_int_equal(mlxc_detok_kind(d), MLXC_DETOK_BPE);
    mlxc_detok_free(d);
    assert_int_equal(mlxc_detok_init(l2, &d, &e), 0);
    assert_int_equal(mlxc_detok_kind(d), MLXC_DETOK_SPM);
    mlxc_detok_free(d);
    assert_int_equal(mlxc_detok_init(g, &d, &e), 0);
    assert_int_equal(mlxc_detok_kind(d), MLXC_DETOK_SPM);
    mlxc_detok_free(d);

    /* an emoji split over byte-level tokens comes out whole, once */
    int32_t *ids;
    size_t n;
    assert_int_equal(mlxc_tok_encode(q, " \xf0\x9f\xab\xa0x", 6, 0, &ids, &n, &e), 0);
    assert_true(n >= 3);
    assert_int_equal(mlxc_detok_init(q, &d, &e), 0);
    int pieces = 0;
    const char *p;
    size_t pl;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(mlxc_detok_add(d, ids[i], &p, &pl, &e), 0);
        if (p) {
            assert_true(mlxc_utf8_valid(p, pl));
            pieces++;
        }
    }
    assert_int_equal(mlxc_detok_finalize(d, &p, &pl, &e), 0);
    assert_null(p);
    assert_true(pieces >= 1 && (size_t)pieces < n);
    /* reset, then mlx_lm's rule: the first space goes */
    mlxc_detok_reset(d);
    mlxc_detok_set_trim_first_space(d, 1);
    assert_int_equal(mlxc_detok_add(d, ids[0], &p, &pl, &e), 0);
    char *all = strdup(p ? p : "");
    for (size_t i = 1; i <= n; i++) {
        int rc = i < n ? mlxc_detok_add(d, ids[i], &p, &pl, &e) : mlxc_detok_finalize(d, &p, &pl, &e);
        assert_int_equal(rc, 0);
        if (p) {
            all = realloc(all, strlen(all) + pl + 1);
            strcat(all, p);
        }
    }
    assert_string_equal(all, "\xf0\x9f\xab\xa0x");
    free(all);
    mlxc_detok_free(d);
    free(ids);

    /* a lone incomplete byte token is U+FFFD at the end, as in the full decode */
    int32_t half[] = {229}; /* llama2 "<0xE2>": byte tokens start at id 3 */
    assert_string_equal(mlxc_tok_id_to_token(l2, half[0]), "<0xE2>");
    assert_int_equal(mlxc_detok_init(l2, &d, &e), 0);
    assert_int_equal(mlxc_detok_add(d, half[0], &p, &pl, &e), 0);
    assert_null(p);
    assert_int_equal(mlxc_detok_finalize(d, &p, &pl, &e), 0);
    assert_string_equal(p, "\xef\xbf\xbd");
    mlxc_detok_free(d);
    mlxc_tok_close(q);
    mlxc_tok_close(l2);
    mlxc_tok_close(g);
}

/* Writes name/tokenizer.json (and optionally tokenizer_config.json) in a scratch folder. */
static const char *make_dir(const char *tokjson, const char *config)
{
    const char *dir = test_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    if (tokjson) {
        FILE *f = fopen(path, "w");
        fputs(tokjson, f);
        fclose(f);
    }
    if (config) {
        snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
        FILE *f = fopen(path, "w");
        fputs(config, f);
        fclose(f);
    }
    return dir;
}

#define MINI_MODEL "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[\"a b\"]}"

static void expect_open_error(const char *tokjson, const char *config, int code, const char *needle)
{
    const char *dir = make_dir(tokjson, config);
    struct mlxc_err e = {0};
    struct mlxc_tokenizer *t = (struct mlxc_tokenizer *)1;
    int rc = mlxc_tok_open(dir, &t, &e);
    if (rc != code || !strstr(e.msg, needle))
        fail_msg("expected error %d containing \"%s\", got %d \"%s\"", code, needle, rc, e.msg);
    assert_null(t);
    assert_null(strchr(e.msg, '\n'));
}

static void test_broken_folders(void **s)
{
    (void)s;
    expect_open_error(NULL, NULL, MLXC_ENOTFOUND, "tokenizer.json': No such file or directory");
    expect_open_error("{\"model\": ", NULL, MLXC_EFORMAT, "tokenizer.json': bad JSON near byte");
    expect_open_error("[1, 2]", NULL, MLXC_EFORMAT, "not a JSON object");
    expect_open_error("{\"normalizer\":{\"type\":\"Precompiled\"}," MINI_MODEL "}", NULL, MLXC_EUNSUP,
                      "unknown normalizer type 'Precompiled' in 'tokenizer.json'");
    expect_open_error("{\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"UnicodeScripts\"}]},"
                      MINI_MODEL "}", NULL, MLXC_EUNSUP, "unknown pre-tokenizer type 'UnicodeScripts'");
    expect_open_error("{\"decoder\":{\"type\":\"CTC\"}," MINI_MODEL "}", NULL, MLXC_EUNSUP,
                      "unknown decoder type 'CTC'");
    expect_open_error("{\"post_processor\":{\"type\":\"Magic\"}," MINI_MODEL "}", NULL, MLXC_EUNSUP,
                      "unknown post-processor type 'Magic'");
    expect_open_error("{\"model\":{\"type\":\"Unigram\",\"vocab\":[]}}", NULL, MLXC_EUNSUP,
                      "unsupported model type 'Unigram'");
    expect_open_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a b\"]}}", NULL, MLXC_EFORMAT,
                      "uses a token missing from the vocab");
    expect_open_error("{\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(a\"},\"behavior\":\"Isolated\"},"
                      MINI_MODEL "}", NULL, MLXC_EFORMAT, "bad regex '(a'");
    expect_open_error("{" MINI_MODEL "}", "{\"eos_token\": ", MLXC_EFORMAT,
                      "tokenizer_config.json': bad JSON near byte");

    /* the smallest valid folder works, with no config at all */
    const char *dir = make_dir("{" MINI_MODEL "}", NULL);
    struct mlxc_err e = {0};
    struct mlxc_tokenizer *t;
    assert_int_equal(mlxc_tok_open(dir, &t, &e), 0);
    int32_t *ids;
    size_t n;
    assert_int_equal(mlxc_tok_encode(t, "abba", 4, 1, &ids, &n, &e), 0);
    assert_int_equal(n, 3); /* "ab" "b" "a" */
    assert_int_equal(ids[0], 2);
    assert_int_equal(ids[1], 1);
    assert_int_equal(ids[2], 0);
    free(ids);
    assert_int_equal(mlxc_tok_eos_id(t), -1);
    assert_null(mlxc_tok_chat_template_source(t));
    char *out;
    int32_t three[] = {2, 1, 0};
    assert_int_equal(mlxc_tok_decode(t, three, 3, 0, &out, NULL, &e), 0);
    assert_string_equal(out, "ab b a"); /* no decoder: tokens joined by spaces */
    free(out);
    mlxc_tok_close(t);
}

static void run_golden(const char *name) { run_golden_n(name, 1000); }

static void test_llama3(void **s) { (void)s; run_golden("llama3"); }
static void test_qwen3(void **s) { (void)s; run_golden("qwen3"); }
static void test_llama2(void **s) { (void)s; run_golden("llama2"); }
static void test_gemma3(void **s) { (void)s; run_golden("gemma3"); }
static void test_deepseek_v3(void **s) { (void)s; run_golden("deepseek_v3"); }
static void test_gptoss(void **s) { (void)s; run_golden("gptoss"); }
static void test_synth_meta(void **s) { (void)s; run_golden_n("synth_meta", 400); }
static void test_synth_gpt2(void **s) { (void)s; run_golden_n("synth_gpt2", 400); }
static void test_synth_wp(void **s) { (void)s; run_golden_n("synth_wp", 400); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama3),      cmocka_unit_test(test_qwen3),  cmocka_unit_test(test_llama2),
        cmocka_unit_test(test_gemma3),      cmocka_unit_test(test_deepseek_v3), cmocka_unit_test(test_gptoss),
        cmocka_unit_test(test_synth_meta),  cmocka_unit_test(test_synth_gpt2), cmocka_unit_test(test_synth_wp),
        cmocka_unit_test(test_invalid_utf8), cmocka_unit_test(test_empty_and_nul), cmocka_unit_test(test_long_word_roundtrip),
        cmocka_unit_test(test_accessors),   cmocka_unit_test(test_detok),  cmocka_unit_test(test_broken_folders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

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
        char *p;
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
            free(p);
        }
    }
    mlxc_detok_free(d);
    if (!ok) {
        free(all);
        return NULL;
    }
    return all;
}

static void run_golden(const char *name)
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
    assert_true(cases >= 1000);
    assert_int_equal(bad_ids + bad_ns + bad_dec + bad_skip + bad_stream, 0);
}

static void test_llama3(void **s) { (void)s; run_golden("llama3"); }
static void test_qwen3(void **s) { (void)s; run_golden("qwen3"); }
static void test_llama2(void **s) { (void)s; run_golden("llama2"); }
static void test_gemma3(void **s) { (void)s; run_golden("gemma3"); }
static void test_deepseek_v3(void **s) { (void)s; run_golden("deepseek_v3"); }
static void test_gptoss(void **s) { (void)s; run_golden("gptoss"); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama3),      cmocka_unit_test(test_qwen3),  cmocka_unit_test(test_llama2),
        cmocka_unit_test(test_gemma3),      cmocka_unit_test(test_deepseek_v3), cmocka_unit_test(test_gptoss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

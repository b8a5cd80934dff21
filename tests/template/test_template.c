/* Chat templates against jinja2: every golden of tests/data/templates (made by
 * tests/gen/make_template_cases.py) renders byte for byte, or fails the way jinja2 failed; plus the
 * engine's limits, error positions, and model-folder loading. */
#include "../test_util.h"

#include <time.h>

#include <cjson/cJSON.h>

#include "core/sys.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/jinja.h"

/* the time make_template_cases.py gives strftime_now */
static struct tm fixed_now(void)
{
    struct tm tm = {.tm_year = 2025 - 1900, .tm_mon = 6, .tm_mday = 26, .tm_hour = 14, .tm_min = 5, .tm_sec = 9};
    time_t t = timegm(&tm);
    gmtime_r(&t, &tm);
    return tm;
}

static char *read_data(const char *rel, size_t *n)
{
    struct mlxc_err e = {0};
    char *s = mlxc_read_file(test_data(rel), (size_t)256 << 20, n, &e);
    if (!s)
        fail_msg("%s", e.msg);
    return s;
}

/* Prints where two renderings part, with some context, so a failure reads like a diff. */
static void report_diff(const char *name, const char *want, size_t wn, const char *got, size_t gn)
{
    size_t i = 0;
    while (i < wn && i < gn && want[i] == got[i])
        i++;
    size_t from = i > 60 ? i - 60 : 0;
    print_error("%s: output differs at byte %zu (expected %zu bytes, got %zu)\n", name, i, wn, gn);
    print_error("  common: %.*s\n", (int)(i - from), want + from);
    print_error("  expect: %.*s\n", (int)(wn - i < 80 ? wn - i : 80), want + i);
    print_error("  actual: %.*s\n", (int)(gn - i < 80 ? gn - i : 80), got + i);
}

/* Checks one result against the golden's "expected" or "error"; returns 1 when it matches. */
static int check(const char *name, const cJSON *c, int rc, const char *out, size_t n, const struct mlxc_err *e)
{
    const cJSON *exp = cJSON_GetObjectItem(c, "expected"), *err = cJSON_GetObjectItem(c, "error");
    if (exp) {
        if (rc) {
            print_error("%s: expected output, got error: %s\n", name, e->msg);
            return 0;
        }
        size_t wn = strlen(exp->valuestring);
        if (wn != n || memcmp(exp->valuestring, out, n)) {
            report_diff(name, exp->valuestring, wn, out, n);
            return 0;
        }
        return 1;
    }
    const char *match = cJSON_GetObjectItem(err, "match")->valuestring;
    const char *msg = cJSON_GetObjectItem(err, "message")->valuestring;
    if (!rc) {
        print_error("%s: expected an error (%s), got output: %.200s\n", name, msg, out);
        return 0;
    }
    if (!strcmp(match, "message")) {
        size_t ml = strlen(msg), el = strlen(e->msg);
        if (el < ml || strcmp(e->msg + el - ml, msg)) {
            print_error("%s: expected error ending \"%s\", got \"%s\"\n", name, msg, e->msg);
            return 0;
        }
    } else if (!strcmp(match, "line")) {
        char want[64];
        snprintf(want, sizeof want, "template line %d,", cJSON_GetObjectItem(err, "line")->valueint);
        if (!strstr(e->msg, want)) {
            print_error("%s: expected a syntax error at %s got \"%s\" (jinja2: %s)\n", name, want, e->msg, msg);
            return 0;
        }
    }
    return 1;
}

static const char *str_or_null(const cJSON *c, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(c, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void run_jsonl(const char *rel, int (*one)(const cJSON *c, const char *name), int min_cases)
{
    size_t n;
    char *text = read_data(rel, &n);
    int total = 0, failed = 0;
    for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        cJSON *c = cJSON_Parse(line);
        if (!c)
            fail_msg("%s: bad JSON line", rel);
        total++;
        failed += !one(c, cJSON_GetObjectItem(c, "name")->valuestring);
        cJSON_Delete(c);
    }
    free(text);
    print_message("%s: %d of %d match jinja2\n", rel, total - failed, total);
    assert_true(total >= min_cases);
    assert_int_equal(failed, 0);
}

/* ---- real templates x conversations ---- */

static int one_case(const cJSON *c, const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "templates/%s", cJSON_GetObjectItem(c, "template")->valuestring);
    size_t n;
    char *src = read_data(rel, &n);
    struct mlxc_err e = {0};
    struct mlxc_chat_template *t = NULL;
    if (mlxc_chat_template_from_string(src, &t, &e))
        fail_msg("%s: %s", name, e.msg);
    free(src);
    if (mlxc_chat_template_set_tokens(t, str_or_null(c, "tokens_json"), &e))
        fail_msg("%s: %s", name, e.msg);
    struct mlxc_jinja_limits lim;
    mlxc_jinja_limits_default(&lim);
    struct tm now = fixed_now();
    lim.now = &now;
    mlxc_chat_template_set_limits(t, &lim);
    struct mlxc_chat_opts o = {
        .add_generation_prompt = cJSON_IsTrue(cJSON_GetObjectItem(c, "add_generation_prompt")),
        .continue_final_message = cJSON_IsTrue(cJSON_GetObjectItem(c, "continue_final_message")),
        .tools_json = str_or_null(c, "tools_json"),
        .extra_json = str_or_null(c, "extra_json"),
    };
    char *out = NULL;
    size_t len = 0;
    int rc = mlxc_chat_template_apply(t, str_or_null(c, "messages_json"), &o, &out, &len, &e);
    int ok = check(name, c, rc, out, len, &e);
    free(out);
    mlxc_chat_template_free(t);
    return ok;
}

static void test_real_templates(void **state)
{
    (void)state;
    run_jsonl("templates/cases.jsonl", one_case, 12 * 10);
}

/* ---- engine snippets ---- */

static int one_snippet(const cJSON *c, const char *name)
{
    const char *src = str_or_null(c, "source"), *ctx = str_or_null(c, "context_json");
    struct mlxc_err e = {0};
    struct mlxc_jinja *t = NULL;
    char *out = NULL;
    size_t len = 0;
    int rc = mlxc_jinja_compile(src, strlen(src), &t, &e);
    if (!rc) {
        struct mlxc_jinja_limits lim;
        mlxc_jinja_limits_default(&lim);
        struct tm now = fixed_now();
        lim.now = &now;
        rc = mlxc_jinja_render(t, ctx, strlen(ctx), &lim, &out, &len, &e);
    }
    char label[600];
    snprintf(label, sizeof label, "%s `%.200s`", name, src);
    int ok = check(label, c, rc, out, len, &e);
    free(out);
    mlxc_jinja_free(t);
    return ok;
}

static void test_snippets(void **state)
{
    (void)state;
    run_jsonl("templates/snippets.jsonl", one_snippet, 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_templates),
        cmocka_unit_test(test_snippets),
    };
    return cmocka_run_group_tests_name("template", tests, NULL, NULL);
}

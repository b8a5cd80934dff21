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

/* ---- errors, limits, robustness ---- */

/* Renders src with ctx under the given limits (NULL: defaults); returns rc, fills e, frees output. */
static int render(const char *src, const char *ctx, const struct mlxc_jinja_limits *lim, char **out,
                  struct mlxc_err *e)
{
    struct mlxc_jinja *t = NULL;
    *out = NULL;
    mlxc_err_clear(e);
    int rc = mlxc_jinja_compile(src, strlen(src), &t, e);
    if (!rc) {
        size_t n;
        rc = mlxc_jinja_render(t, ctx, ctx ? strlen(ctx) : 0, lim, out, &n, e);
    }
    mlxc_jinja_free(t);
    return rc;
}

static void expect_error(const char *src, const struct mlxc_jinja_limits *lim, const char *needle)
{
    struct mlxc_err e;
    char *out;
    int rc = render(src, NULL, lim, &out, &e);
    if (!rc)
        fail_msg("`%.80s` rendered (%zu bytes) but should fail with \"%s\"", src, out ? strlen(out) : 0, needle);
    free(out);
    assert_true(rc < 0);
    assert_str_contains(e.msg, needle);
}

static void test_error_positions(void **state)
{
    (void)state;
    expect_error("a\n  {{ 1 + }}", NULL, "template line 2, column 10: unexpected 'end of print statement'");
    expect_error("x\n  {{ raise_exception('boom ' ~ 1) }}", NULL, "template line 2, column 6: boom 1");
    expect_error("{% for m in [{'role': 'bad'}] %}\n{% if m.role == 'bad' %}\n    {{ raise_exception('role ' + m.role) }}\n"
                 "{% endif %}{% endfor %}", NULL, "template line 3, column 8: role bad");
    expect_error("{% if x %}\n\n{% endfor %}", NULL, "template line 3,");
    expect_error("{{ 'abc\\xZZ' }}", NULL, "template line 1, column 4: truncated \\xXX escape");
    expect_error("ok\n{# no end", NULL, "template line 2, column 1: Missing end of comment tag");
    expect_error("{% include 'x.html' %}", NULL, "not supported");
    expect_error("{{ x.y }}", NULL, "'x' is undefined");
    expect_error("\xff", NULL, "not valid UTF-8");
}

static void test_limits(void **state)
{
    (void)state;
    struct mlxc_jinja_limits lim;
    mlxc_jinja_limits_default(&lim);
    /* unbounded recursion stops at the depth limit */
    expect_error("{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}", NULL, "maximum recursion depth");
    expect_error("{% for x in [[1]] recursive %}{{ loop([x]) }}{% endfor %}", NULL, "maximum recursion depth");
    /* 10^10 iterations stop at the step limit, quickly */
    lim.max_steps = 200000;
    expect_error("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}", &lim, "steps");
    mlxc_jinja_limits_default(&lim);
    /* output and string sizes */
    lim.max_output = 1 << 20;
    expect_error("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", &lim, "output");
    expect_error("{{ 'ab' * 10**12 }}", &lim, "output limit");
    expect_error("{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
                 &lim, "output limit");
    expect_error("{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
                 &lim, "output limit");
    /* memory */
    mlxc_jinja_limits_default(&lim);
    lim.max_memory = 8 << 20;
    expect_error("{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}",
                 &lim, "memory");
    /* the sandbox's range limit, integer overflow */
    expect_error("{{ range(10**6)|length }}", NULL, "Range too big");
    expect_error("{{ 2 ** 64 }}", NULL, "integer overflow");
    /* nesting that would exhaust the C stack is refused while parsing */
    char *deep = malloc(40010);
    memset(deep, '(', 20000);
    memcpy(deep + 20000, "{{ 1", 0);
    snprintf(deep, 40010, "{{ ");
    for (int i = 3; i < 20003; i++)
        deep[i] = '(';
    strcpy(deep + 20003, "1");
    expect_error(deep, NULL, "nested too deeply");
    free(deep);
}

/* Every prefix of every snippet, and byte mutations of every real template: each either renders or
 * fails with an error; nothing crashes (AddressSanitizer builds check the rest). */
static void test_robust(void **state)
{
    (void)state;
    struct mlxc_jinja_limits lim;
    mlxc_jinja_limits_default(&lim);
    lim.max_steps = 100000;
    lim.max_output = 1 << 20;
    const char *ctx = "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", "
                      "\"content\": \"yo\", \"tool_calls\": [{\"function\": {\"name\": \"f\", \"arguments\": {}}}]}], "
                      "\"tools\": null, \"add_generation_prompt\": true, \"bos_token\": \"<s>\"}";
    size_t n;
    char *text = read_data("templates/snippets.jsonl", &n);
    int renders = 0;
    for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        cJSON *c = cJSON_Parse(line);
        const char *src = cJSON_GetObjectItem(c, "source")->valuestring;
        size_t len = strlen(src);
        char *cut = malloc(len + 1);
        for (size_t k = 0; k <= len; k++) {
            memcpy(cut, src, k);
            cut[k] = 0;
            struct mlxc_err e;
            char *out;
            render(cut, ctx, &lim, &out, &e);
            free(out);
            renders++;
        }
        free(cut);
        cJSON_Delete(c);
    }
    free(text);
    static const char *const names[] = {"qwen3.jinja", "gpt-oss.jinja", "llama-3.3-70b-instruct.jinja",
                                        "mistral-nemo-instruct-2407.jinja", "gemma3.jinja"};
    static const char pieces[] = "{}%#-+()[]'\"|.,:~ \n";
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    for (size_t t = 0; t < sizeof names / sizeof names[0]; t++) {
        char rel[128];
        snprintf(rel, sizeof rel, "templates/%s", names[t]);
        char *src = read_data(rel, &n);
        char *m = malloc(n + 8);
        for (int round = 0; round < 150; round++) {
            memcpy(m, src, n + 1);
            for (int k = 0; k < 3; k++) {
                rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
                size_t at = (size_t)(rng % n);
                m[at] = pieces[(rng >> 32) % (sizeof pieces - 1)];
            }
            struct mlxc_err e;
            char *out;
            render(m, ctx, &lim, &out, &e);
            free(out);
            renders++;
        }
        free(m);
        free(src);
    }
    print_message("robustness: %d renders of truncated and mutated templates\n", renders);
    assert_true(renders > 10000);
}

/* ---- the chat template API ---- */

static char *apply(struct mlxc_chat_template *t, const char *msgs, const struct mlxc_chat_opts *o, int *rc,
                   struct mlxc_err *e)
{
    char *out = NULL;
    size_t n = 0;
    mlxc_err_clear(e);
    *rc = mlxc_chat_template_apply(t, msgs, o, &out, &n, e);
    if (!*rc)
        assert_int_equal(n, strlen(out));
    return out;
}

static void test_apply_options(void **state)
{
    (void)state;
    struct mlxc_err e = {0};
    struct mlxc_chat_template *t;
    assert_int_equal(mlxc_chat_template_from_string(
        "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}</{{ m.role }}>{% endfor %}"
        "{% if add_generation_prompt %}<assistant>{% endif %}{{ tools is none }}{{ flag | default('-') }}", &t, &e), 0);
    int rc;
    const char *msgs = "[{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"  Sure \"}]";
    struct mlxc_chat_opts o = {.add_generation_prompt = 1};
    char *out = apply(t, msgs, &o, &rc, &e);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "<user>Hi</user><assistant>  Sure </assistant><assistant>True-");
    free(out);
    /* both flags: transformers refuses */
    o.continue_final_message = 1;
    out = apply(t, msgs, &o, &rc, &e);
    assert_int_equal(rc, MLXC_EINVAL);
    assert_str_contains(e.msg, "continue_final_message and add_generation_prompt are not compatible");
    /* continue: cut after the final content; transformers keeps trailing spaces only when the content
     * has no leading ones (rendered[loc:loc + len(final.lstrip())] == final) */
    o.add_generation_prompt = 0;
    out = apply(t, msgs, &o, &rc, &e);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "<user>Hi</user><assistant>  Sure");
    free(out);
    out = apply(t, "[{\"role\": \"assistant\", \"content\": \"Sure  \"}]", &o, &rc, &e);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "<assistant>Sure  ");
    free(out);
    /* extra kwargs and special tokens override in that order */
    assert_int_equal(mlxc_chat_template_set_tokens(t, "{\"bos_token\": \"<s>\"}", &e), 0);
    o = (struct mlxc_chat_opts){.extra_json = "{\"flag\": \"F\", \"bos_token\": \"<B>\"}", .tools_json = "[]"};
    out = apply(t, msgs, &o, &rc, &e);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "<B><user>Hi</user><assistant>  Sure </assistant>FalseF");
    free(out);
    /* bad inputs */
    o = (struct mlxc_chat_opts){0};
    out = apply(t, "{\"role\": \"user\"}", &o, &rc, &e);
    assert_int_equal(rc, MLXC_EINVAL);
    o.extra_json = "[1]";
    out = apply(t, msgs, &o, &rc, &e);
    assert_int_equal(rc, MLXC_EINVAL);
    assert_str_contains(e.msg, "kwargs is not a JSON object");
    mlxc_chat_template_free(t);

    /* continue_final_message when the template drops the message */
    assert_int_equal(mlxc_chat_template_from_string("{{ messages[0].content|upper }}", &t, &e), 0);
    o = (struct mlxc_chat_opts){.continue_final_message = 1};
    out = apply(t, "[{\"role\": \"user\", \"content\": \"abc\"}]", &o, &rc, &e);
    assert_int_equal(rc, MLXC_EINVAL);
    assert_str_contains(e.msg, "final message does not appear in the chat");
    mlxc_chat_template_free(t);

    /* syntax errors come back from from_string */
    assert_int_equal(mlxc_chat_template_from_string("{% if %}", &t, &e), MLXC_EFORMAT);
    assert_str_contains(e.msg, "chat template: template line 1, column 7");
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char *p = mlxc_path_join(dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(p);
}

static char *load_and_apply(const char *dir, int *rc, struct mlxc_err *e)
{
    struct mlxc_chat_template *t = NULL;
    mlxc_err_clear(e);
    *rc = mlxc_chat_template_load(dir, &t, e);
    if (*rc)
        return NULL;
    struct mlxc_chat_opts o = {.add_generation_prompt = 1};
    char *out = apply(t, "[{\"role\": \"user\", \"content\": \"q\"}]", &o, rc, e);
    mlxc_chat_template_free(t);
    return out;
}

static void test_load(void **state)
{
    (void)state;
    struct mlxc_err e = {0};
    int rc;
    const char *dir = test_tmpdir();
    /* nothing there */
    assert_null(load_and_apply(dir, &rc, &e));
    assert_int_equal(rc, MLXC_ENOTFOUND);
    /* tokenizer_config.json: a string template, tokens as strings or AddedToken objects */
    write_file(dir, "tokenizer_config.json",
               "{\"chat_template\": \"{{ bos_token }}|{{ eos_token }}|{{ unk_token is defined }}|"
               "{{ messages[0].content }}\", \"bos_token\": {\"__type\": \"AddedToken\", \"content\": \"<s>\"}, "
               "\"eos_token\": \"</s>\", \"unk_token\": null}");
    char *out = load_and_apply(dir, &rc, &e);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "<s>|</s>|False|q");
    free(out);
    /* a list of named templates uses "default" */
    write_file(dir, "tokenizer_config.json",
               "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"}, "
               "{\"name\": \"default\", \"template\": \"D{{ add_generation_prompt }}\"}]}");
    out = load_and_apply(dir, &rc, &e);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "DTrue");
    free(out);
    write_file(dir, "tokenizer_config.json", "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"}]}");
    out = load_and_apply(dir, &rc, &e);
    assert_int_equal(rc, MLXC_EFORMAT);
    assert_str_contains(e.msg, "no default");
    /* chat_template.json when the config has none */
    write_file(dir, "tokenizer_config.json", "{\"bos_token\": \"<b>\"}");
    write_file(dir, "chat_template.json", "{\"chat_template\": \"J{{ bos_token }}\"}");
    out = load_and_apply(dir, &rc, &e);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "J<b>");
    free(out);
    /* chat_template.jinja wins over everything (transformers >= 4.43) */
    write_file(dir, "tokenizer_config.json", "{\"chat_template\": \"C\", \"bos_token\": \"<b>\"}");
    write_file(dir, "chat_template.jinja", "F{{ bos_token }}\n");
    out = load_and_apply(dir, &rc, &e);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "F<b>");
    free(out);
    /* a broken config is an error, not "no template" */
    write_file(dir, "tokenizer_config.json", "{not json");
    out = load_and_apply(dir, &rc, &e);
    assert_int_equal(rc, MLXC_EFORMAT);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_templates),
        cmocka_unit_test(test_snippets),
        cmocka_unit_test(test_error_positions),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_robust),
        cmocka_unit_test(test_apply_options),
        cmocka_unit_test(test_load),
    };
    return cmocka_run_group_tests_name("template", tests, NULL, NULL);
}

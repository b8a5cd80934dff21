/* Chat templates: finding the template of a model folder, building the render context as transformers
 * does, and continue_final_message. */
#include "tokenizer/chat_template.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/sys.h"
#include "core/utf8.h"
#include "tokenizer/jinja_value.h"

#define MAX_CONFIG_BYTES ((size_t)64 << 20)

struct mlxc_chat_template {
    struct mlxc_jinja *tpl;
    char *source;
    char *tokens;   /* special tokens as JSON object members ("\"bos_token\": \"<s>\", ..."), may be "" */
    struct mlxc_jinja_limits limits;
    struct tm now;
    int fixed_now;
};

static int make(const char *src, struct mlxc_chat_template **out, struct mlxc_err *e)
{
    struct mlxc_chat_template *t = calloc(1, sizeof *t);
    if (!t || !(t->source = strdup(src)) || !(t->tokens = strdup(""))) {
        if (t)
            free(t->source);
        free(t);
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    }
    mlxc_jinja_limits_default(&t->limits);
    int r = mlxc_jinja_compile(src, strlen(src), &t->tpl, e);
    if (r) {
        mlxc_err_ctx(e, "chat template");
        mlxc_chat_template_free(t);
        return r;
    }
    *out = t;
    return 0;
}

int mlxc_chat_template_from_string(const char *source, struct mlxc_chat_template **out, struct mlxc_err *e)
{
    *out = NULL;
    if (!source)
        return mlxc_errf(e, MLXC_EINVAL, "no chat template source");
    return make(source, out, e);
}

void mlxc_chat_template_free(struct mlxc_chat_template *t)
{
    if (!t)
        return;
    mlxc_jinja_free(t->tpl);
    free(t->source);
    free(t->tokens);
    free(t);
}

const char *mlxc_chat_template_source(const struct mlxc_chat_template *t) { return t->source; }

void mlxc_chat_template_set_limits(struct mlxc_chat_template *t, const struct mlxc_jinja_limits *l)
{
    t->limits = *l;
    t->fixed_now = l->now != NULL;
    if (l->now)
        t->now = *l->now;
    t->limits.now = NULL;
}

/* The members of a JSON object's text, without the braces ("" for {}); NULL if it is not an object. */
static char *object_members(const char *json, struct mlxc_err *e, const char *what)
{
    cJSON *j = cJSON_Parse(json);
    int ok = j && cJSON_IsObject(j);
    int empty = ok && !j->child;
    cJSON_Delete(j);
    if (!ok) {
        mlxc_errf(e, MLXC_EINVAL, "%s is not a JSON object", what);
        return NULL;
    }
    if (empty)
        return strdup("");
    const char *b = strchr(json, '{'), *end = strrchr(json, '}');
    char *m = strndup(b + 1, (size_t)(end - b - 1));
    if (!m)
        mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    return m;
}

int mlxc_chat_template_set_tokens(struct mlxc_chat_template *t, const char *tokens_json, struct mlxc_err *e)
{
    char *m = object_members(tokens_json, e, "special tokens");
    if (!m)
        return e && e->code ? e->code : MLXC_EINVAL;
    free(t->tokens);
    t->tokens = m;
    return 0;
}

/* ---- loading ---- */

/* A special token: a string, or an AddedToken object {"content": ...}. */
static const char *token_text(const cJSON *v)
{
    if (cJSON_IsString(v))
        return v->valuestring;
    if (cJSON_IsObject(v)) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, "content");
        if (cJSON_IsString(c))
            return c->valuestring;
    }
    return NULL;
}

static char *tokens_from_config(const cJSON *cfg)
{
    static const char *const names[] = {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token",
                                        "cls_token", "mask_token", NULL};
    struct mlxc_buf b = MLXC_BUF_INIT;
    int first = 1;
    for (const char *const *n = names; *n; n++) {
        const char *s = token_text(cJSON_GetObjectItemCaseSensitive(cfg, *n));
        if (!s)
            continue;
        if (!first)
            mlxc_buf_puts(&b, ", ");
        first = 0;
        mlxc_buf_json_str(&b, *n, strlen(*n));
        mlxc_buf_puts(&b, ": ");
        mlxc_buf_json_str(&b, s, strlen(s));
    }
    const cJSON *extra = cJSON_GetObjectItemCaseSensitive(cfg, "additional_special_tokens");
    if (cJSON_IsArray(extra) && cJSON_GetArraySize(extra) > 0) {
        if (!first)
            mlxc_buf_puts(&b, ", ");
        first = 0;
        mlxc_buf_puts(&b, "\"additional_special_tokens\": [");
        int k = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, extra) {
            const char *s = token_text(it);
            if (!s)
                continue;
            if (k++)
                mlxc_buf_puts(&b, ", ");
            mlxc_buf_json_str(&b, s, strlen(s));
        }
        mlxc_buf_putc(&b, ']');
    }
    if (b.oom) {
        mlxc_buf_free(&b);
        return NULL;
    }
    return mlxc_buf_take(&b);
}

/* tokenizer_config.json's chat_template: a string, or [{"name", "template"}...] with a "default". */
static int template_from_config(const cJSON *ct, const char **src, struct mlxc_err *e)
{
    *src = NULL;
    if (cJSON_IsString(ct)) {
        *src = ct->valuestring;
        return 0;
    }
    if (cJSON_IsArray(ct)) {
        const cJSON *it;
        cJSON_ArrayForEach(it, ct) {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name");
            const cJSON *tpl = cJSON_GetObjectItemCaseSensitive(it, "template");
            if (cJSON_IsString(name) && !strcmp(name->valuestring, "default") && cJSON_IsString(tpl)) {
                *src = tpl->valuestring;
                return 0;
            }
        }
        return mlxc_errf(e, MLXC_EFORMAT, "this model has multiple chat templates with no default specified");
    }
    return 0;
}

static cJSON *read_json(const char *dir, const char *name, struct mlxc_err *e, int *rc)
{
    *rc = 0;
    char *path = mlxc_path_join(dir, name);
    if (!path) {
        *rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        return NULL;
    }
    if (!mlxc_path_exists(path)) {
        free(path);
        return NULL;
    }
    size_t n;
    char *text = mlxc_read_file(path, MAX_CONFIG_BYTES, &n, e);
    cJSON *j = text ? cJSON_ParseWithLength(text, n) : NULL;
    if (text && !j)
        *rc = mlxc_errf(e, MLXC_EFORMAT, "'%s' is not valid JSON", path);
    else if (!text)
        *rc = e && e->code ? e->code : MLXC_EIO;
    free(text);
    free(path);
    return j;
}

int mlxc_chat_template_load(const char *model_dir, struct mlxc_chat_template **out, struct mlxc_err *e)
{
    *out = NULL;
    int rc;
    cJSON *cfg = read_json(model_dir, "tokenizer_config.json", e, &rc);
    if (rc)
        return rc;
    char *source = NULL;
    char *jpath = mlxc_path_join(model_dir, "chat_template.jinja");
    if (!jpath) {
        cJSON_Delete(cfg);
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    }
    if (mlxc_path_exists(jpath)) {
        size_t n;
        source = mlxc_read_file(jpath, MAX_CONFIG_BYTES, &n, e);
        if (!source) {
            free(jpath);
            cJSON_Delete(cfg);
            return e && e->code ? e->code : MLXC_EIO;
        }
    }
    free(jpath);
    if (!source && cfg) {
        const char *s;
        if ((rc = template_from_config(cJSON_GetObjectItemCaseSensitive(cfg, "chat_template"), &s, e))) {
            cJSON_Delete(cfg);
            return mlxc_err_ctx(e, "'%s/tokenizer_config.json'", model_dir);
        }
        if (s && !(source = strdup(s))) {
            cJSON_Delete(cfg);
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        }
    }
    if (!source) {
        cJSON *cj = read_json(model_dir, "chat_template.json", e, &rc);
        if (rc) {
            cJSON_Delete(cfg);
            return rc;
        }
        const char *s = NULL;
        if (cj && (rc = template_from_config(cJSON_GetObjectItemCaseSensitive(cj, "chat_template"), &s, e))) {
            cJSON_Delete(cj);
            cJSON_Delete(cfg);
            return mlxc_err_ctx(e, "'%s/chat_template.json'", model_dir);
        }
        if (s)
            source = strdup(s);
        cJSON_Delete(cj);
    }
    if (!source) {
        cJSON_Delete(cfg);
        return mlxc_errf(e, MLXC_ENOTFOUND, "no chat template in '%s'", model_dir);
    }
    struct mlxc_chat_template *t = NULL;
    rc = make(source, &t, e);
    free(source);
    if (rc) {
        cJSON_Delete(cfg);
        return mlxc_err_ctx(e, "'%s'", model_dir);
    }
    if (cfg) {
        char *tok = tokens_from_config(cfg);
        if (!tok) {
            cJSON_Delete(cfg);
            mlxc_chat_template_free(t);
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        }
        free(t->tokens);
        t->tokens = tok;
    }
    cJSON_Delete(cfg);
    *out = t;
    return 0;
}

/* ---- applying ---- */

/* Python's str.strip() bounds over UTF-8. */
static void strip_bounds(const char *s, size_t n, size_t *b, size_t *e)
{
    size_t i = 0, j = n;
    uint32_t cp;
    int k;
    while (i < n && (k = mlxc_utf8_decode(s + i, n - i, &cp)) > 0 && mlxc_jv_isspace(cp))
        i += (size_t)k;
    while (j > i) {
        size_t st = j - 1;
        while (st > i && ((unsigned char)s[st] & 0xc0) == 0x80)
            st--;
        if ((k = mlxc_utf8_decode(s + st, j - st, &cp)) <= 0 || !mlxc_jv_isspace(cp))
            break;
        j = st;
    }
    *b = i;
    *e = j;
}

static const char *final_text(const cJSON *msgs, struct mlxc_err *e)
{
    const cJSON *last = cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(last, "content");
    if (cJSON_IsString(c))
        return c->valuestring;
    if (cJSON_IsArray(c)) {
        for (int i = cJSON_GetArraySize(c) - 1; i >= 0; i--) {
            const cJSON *text = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(c, i), "text");
            if (text)
                return cJSON_IsString(text) ? text->valuestring : "";
        }
        mlxc_errf(e, MLXC_EINVAL, "continue_final_message is set but we could not find any text to continue in the "
                  "final message!");
        return NULL;
    }
    mlxc_errf(e, MLXC_EINVAL, "continue_final_message is set but the final message has no text content");
    return NULL;
}

/* transformers: cut the rendering right after the final message's content */
static int continue_final(char *out, size_t *len, const char *final, struct mlxc_err *e)
{
    size_t fn = strlen(final), b, en;
    strip_bounds(final, fn, &b, &en);
    const char *needle = final + b;
    size_t nn = en - b;
    const char *loc = NULL;
    for (const char *p = out; (p = memmem(p, (size_t)(out + *len - p), needle, nn)); p++) {
        loc = p;
        if (!nn) {
            loc = out + *len;
            break;
        }
    }
    if (!loc)
        return mlxc_errf(e, MLXC_EINVAL, "continue_final_message is set but the final message does not appear in "
                         "the chat after applying the chat template! This can happen if the chat template deletes "
                         "portions of the final message. Please verify the chat template and final message in your "
                         "chat to ensure they are compatible.");
    size_t at = (size_t)(loc - out), lstripped = fn - b;
    /* rendered[loc : loc + len(final.lstrip())] == final ? keep it : cut after the stripped text */
    if (at + lstripped <= *len && lstripped == fn && !memcmp(out + at, final, fn))
        *len = at + lstripped;
    else
        *len = at + nn;
    out[*len] = 0;
    return 0;
}

static void put_json_or_null(struct mlxc_buf *b, const char *key, const char *json)
{
    mlxc_buf_printf(b, ", \"%s\": ", key);
    mlxc_buf_puts(b, json ? json : "null");
}

int mlxc_chat_template_apply(const struct mlxc_chat_template *t, const char *messages_json,
                             const struct mlxc_chat_opts *o, char **out, size_t *out_len, struct mlxc_err *e)
{
    static const struct mlxc_chat_opts none = {0};
    if (!o)
        o = &none;
    *out = NULL;
    if (out_len)
        *out_len = 0;
    if (o->continue_final_message && o->add_generation_prompt)
        return mlxc_errf(e, MLXC_EINVAL, "continue_final_message and add_generation_prompt are not compatible. "
                         "Use continue_final_message when you want the model to continue the final message, and "
                         "add_generation_prompt when you want to add a header that will prompt it to start a new "
                         "assistant message instead.");
    cJSON *msgs = messages_json ? cJSON_Parse(messages_json) : NULL;
    if (!cJSON_IsArray(msgs)) {
        cJSON_Delete(msgs);
        return mlxc_errf(e, MLXC_EINVAL, "messages must be a JSON array");
    }
    const char *final = NULL;
    if (o->continue_final_message) {
        if (!cJSON_GetArraySize(msgs)) {
            cJSON_Delete(msgs);
            return mlxc_errf(e, MLXC_EINVAL, "continue_final_message is set but there are no messages");
        }
        if (!(final = final_text(msgs, e))) {
            cJSON_Delete(msgs);
            return e && e->code ? e->code : MLXC_EINVAL;
        }
    }
    char *extra = NULL;
    if (o->extra_json && !(extra = object_members(o->extra_json, e, "chat template kwargs"))) {
        cJSON_Delete(msgs);
        return e && e->code ? e->code : MLXC_EINVAL;
    }
    struct mlxc_buf ctx = MLXC_BUF_INIT;
    mlxc_buf_puts(&ctx, "{\"messages\": ");
    mlxc_buf_puts(&ctx, messages_json);
    put_json_or_null(&ctx, "tools", o->tools_json);
    put_json_or_null(&ctx, "documents", o->documents_json);
    mlxc_buf_printf(&ctx, ", \"add_generation_prompt\": %s", o->add_generation_prompt ? "true" : "false");
    if (t->tokens[0]) {
        mlxc_buf_puts(&ctx, ", ");
        mlxc_buf_puts(&ctx, t->tokens);
    }
    if (extra && extra[0]) {
        mlxc_buf_puts(&ctx, ", ");
        mlxc_buf_puts(&ctx, extra);
    }
    mlxc_buf_putc(&ctx, '}');
    free(extra);
    int rc;
    if (ctx.oom)
        rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    else {
        struct mlxc_jinja_limits lim = t->limits;
        lim.now = t->fixed_now ? &t->now : NULL;
        size_t len = 0;
        rc = mlxc_jinja_render(t->tpl, ctx.data, ctx.len, &lim, out, &len, e);
        if (!rc && final && (rc = continue_final(*out, &len, final, e))) {
            free(*out);
            *out = NULL;
        }
        if (!rc && out_len)
            *out_len = len;
    }
    mlxc_buf_free(&ctx);
    cJSON_Delete(msgs);
    return rc;
}

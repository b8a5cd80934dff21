/* mlxc-tokenize: text to token ids and back with a model folder's tokenizer.json. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cli.h"
#include "core/buf.h"
#include "core/prompt.h"
#include "core/sys.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

#define MAX_INPUT ((size_t)1 << 32)

static const struct mlxc_cli *cli = &mlxc_cli_tokenize;

static int fail(const char *msg)
{
    mlxc_cli_error(cli, msg);
    return 1;
}

/* "1 2, 3" -> ids */
static int parse_ids(const char *s, int32_t **ids, size_t *n, struct mlxc_err *e)
{
    size_t cap = 64;
    *n = 0;
    *ids = malloc(cap * sizeof **ids);
    if (!*ids)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    for (;;) {
        while (*s == ',' || *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
            s++;
        if (!*s)
            return 0;
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (end == s || errno || v < 0 || v > INT32_MAX ||
            (*end && *end != ',' && *end != ' ' && *end != '\t' && *end != '\n' && *end != '\r'))
            return mlxc_errf(e, MLXC_EINVAL, "bad token id '%.*s'", (int)strcspn(s, ", \t\r\n"), s);
        if (*n == cap) {
            int32_t *v2 = realloc(*ids, (cap *= 2) * sizeof **ids);
            if (!v2)
                return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
            *ids = v2;
        }
        (*ids)[(*n)++] = (int32_t)v;
        s = end;
    }
}

static void put_ids(struct mlxc_buf *b, const int32_t *ids, size_t n, const char *sep)
{
    for (size_t i = 0; i < n; i++)
        mlxc_buf_printf(b, "%s%d", i ? sep : "", ids[i]);
}

static int encode_one(const struct mlxc_tokenizer *t, const struct mlxc_opts *o, const char *text, size_t len,
                      struct mlxc_buf *out, struct mlxc_err *e)
{
    int32_t *ids;
    size_t n;
    int rc = mlxc_tok_encode(t, text, len, !o->no_special, &ids, &n, e);
    if (rc)
        return rc;
    if (o->jsonl) {
        mlxc_buf_putc(out, '[');
        put_ids(out, ids, n, ",");
        mlxc_buf_puts(out, "]\n");
    } else if (o->count) {
        mlxc_buf_printf(out, "%zu\n", n);
    } else if (o->json) {
        mlxc_buf_puts(out, "{\"ids\":[");
        put_ids(out, ids, n, ",");
        mlxc_buf_puts(out, "],\"tokens\":[");
        for (size_t i = 0; i < n; i++) {
            const char *tok = mlxc_tok_id_to_token(t, ids[i]);
            if (i)
                mlxc_buf_putc(out, ',');
            mlxc_buf_json_str(out, tok ? tok : "", tok ? strlen(tok) : 0);
        }
        mlxc_buf_puts(out, "]}\n");
    } else {
        put_ids(out, ids, n, " ");
        mlxc_buf_putc(out, '\n');
    }
    free(ids);
    return 0;
}

/* --jsonl: one JSON string per non-empty line in, one JSON array of ids per line out. */
static int encode_jsonl(const struct mlxc_tokenizer *t, const struct mlxc_opts *o, char *input,
                        struct mlxc_buf *out, struct mlxc_err *e)
{
    size_t lineno = 0;
    for (char *line = input, *next; line && *line; line = next) {
        lineno++;
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (strspn(line, " \t\r") == strlen(line))
            continue;
        cJSON *j = cJSON_Parse(line);
        if (!cJSON_IsString(j)) {
            cJSON_Delete(j);
            return mlxc_errf(e, MLXC_EINVAL, "line %zu: not a JSON string", lineno);
        }
        int rc = encode_one(t, o, j->valuestring, strlen(j->valuestring), out, e);
        cJSON_Delete(j);
        if (rc)
            return mlxc_err_ctx(e, "line %zu", lineno);
    }
    return 0;
}

/* --chat FILE: render the model's chat template over the request; ids (encoded without special tokens,
 * as apply_chat_template does) or, with --render, the text exactly. */
static int run_chat(const char *dir, const struct mlxc_tokenizer *t, const struct mlxc_opts *o, struct mlxc_buf *out,
                    struct mlxc_err *e)
{
    char *request = mlxc_read_file(o->chat, 256u << 20, NULL, e);
    if (!request)
        return e->code;
    struct mlxc_chat_template *tmpl = NULL;
    char *text = NULL;
    size_t len = 0;
    int rc = mlxc_chat_template_load(dir, &tmpl, e);
    if (!rc)
        rc = mlxc_prompt_render_request(tmpl, request, &text, &len, e);
    if (!rc && o->render) {
        mlxc_buf_append(out, text, len);
    } else if (!rc) {
        struct mlxc_opts enc = *o;
        enc.no_special = 1;
        rc = encode_one(t, &enc, text, len, out, e);
    }
    free(text);
    free(request);
    mlxc_chat_template_free(tmpl);
    return rc;
}

int main(int argc, char **argv)
{
    struct mlxc_opts o;
    int rc = mlxc_cli_parse(cli, argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : rc;
    const char *dir = o.tokenizer ? o.tokenizer : o.model;
    if (!dir)
        return mlxc_cli_usage_error(cli, "one of the arguments --model --tokenizer is required");
    if (o.decode && (o.jsonl || o.count || o.json))
        return mlxc_cli_usage_error(cli, "argument --decode: not allowed with --jsonl, --count or --json");
    if (o.count + o.json + o.jsonl > 1)
        return mlxc_cli_usage_error(cli, "arguments --count, --json and --jsonl exclude each other");

    if (o.render && !o.chat)
        return mlxc_cli_usage_error(cli, "argument --render: only with --chat");
    struct mlxc_err e = {0};
    struct mlxc_tokenizer *t;
    if (mlxc_tok_open(dir, &t, &e))
        return fail(e.msg);
    if (o.chat) {
        struct mlxc_buf out = MLXC_BUF_INIT;
        rc = run_chat(dir, t, &o, &out, &e);
        mlxc_tok_close(t);
        if (!rc)
            fwrite(out.data ? out.data : "", 1, out.len, stdout);
        mlxc_buf_free(&out);
        return rc ? fail(e.msg) : 0;
    }
    size_t len;
    char *input = o.text ? strdup(o.text) : mlxc_read_stream(stdin, MAX_INPUT, &len, &e);
    if (!input) {
        mlxc_tok_close(t);
        return fail(e.code ? e.msg : "out of memory");
    }
    if (o.text)
        len = strlen(input);

    struct mlxc_buf out = MLXC_BUF_INIT;
    if (o.decode) {
        int32_t *ids = NULL;
        size_t n;
        char *text = NULL;
        size_t tl;
        rc = parse_ids(input, &ids, &n, &e);
        if (!rc)
            rc = mlxc_tok_decode(t, ids, n, o.no_special, &text, &tl, &e);
        if (!rc) {
            mlxc_buf_append(&out, text, tl);
            mlxc_buf_putc(&out, '\n');
        }
        free(text);
        free(ids);
    } else if (o.jsonl) {
        rc = encode_jsonl(t, &o, input, &out, &e);
    } else {
        rc = encode_one(t, &o, input, len, &out, &e);
    }
    free(input);
    mlxc_tok_close(t);
    if (!rc && out.oom)
        rc = mlxc_errf(&e, MLXC_ENOMEM, "out of memory");
    if (rc) {
        mlxc_buf_free(&out);
        return fail(e.msg);
    }
    if (fwrite(out.data ? out.data : "", 1, out.len, stdout) != out.len || fflush(stdout)) {
        mlxc_buf_free(&out);
        return fail("cannot write the output");
    }
    mlxc_buf_free(&out);
    return 0;
}

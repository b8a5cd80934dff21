#include "core/prompt.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

char *mlxc_prompt_unescape(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && (s[i + 1] == 'n' || s[i + 1] == 't')) {
            *o++ = s[i + 1] == 'n' ? '\n' : '\t';
            i++;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

static void add_message(struct mlxc_buf *b, const char *role, const char *content)
{
    if (b->len > 1)
        mlxc_buf_putc(b, ',');
    mlxc_buf_puts(b, "{\"role\":");
    mlxc_buf_json_str(b, role, strlen(role));
    mlxc_buf_puts(b, ",\"content\":");
    mlxc_buf_json_str(b, content, strlen(content));
    mlxc_buf_putc(b, '}');
}

char *mlxc_prompt_messages_json(const struct mlxc_prompt_opts *o)
{
    struct mlxc_buf b = MLXC_BUF_INIT;
    mlxc_buf_putc(&b, '[');
    if (o->system_prompt)
        add_message(&b, "system", o->system_prompt);
    add_message(&b, "user", o->prompt ? o->prompt : "");
    if (o->prefill_response)
        add_message(&b, "assistant", o->prefill_response);
    mlxc_buf_putc(&b, ']');
    return mlxc_buf_take(&b);
}

char *mlxc_prompt_template_kwargs(const struct mlxc_tokenizer *tok, const char *config_json, struct mlxc_err *e)
{
    cJSON *kw = config_json ? cJSON_Parse(config_json) : cJSON_CreateObject();
    if (!cJSON_IsObject(kw)) {
        cJSON_Delete(kw);
        mlxc_errf(e, MLXC_EINVAL, "--chat-template-config is not a JSON object: '%s'", config_json);
        return NULL;
    }
    if (!cJSON_GetObjectItemCaseSensitive(kw, "enable_thinking"))
        cJSON_AddBoolToObject(kw, "enable_thinking", mlxc_tok_has_thinking(tok));
    char *out = cJSON_PrintUnformatted(kw);
    cJSON_Delete(kw);
    if (!out)
        mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    return out;
}

int mlxc_prompt_encode(const struct mlxc_tokenizer *tok, const struct mlxc_chat_template *tmpl,
                       const struct mlxc_prompt_opts *o, int32_t **ids, size_t *n, char **text,
                       struct mlxc_err *e)
{
    const char *prompt = o->prompt ? o->prompt : "";
    if (!tmpl || o->ignore_chat_template) {
        if (text)
            *text = strdup(prompt);
        return mlxc_tok_encode(tok, prompt, strlen(prompt), 1, ids, n, e);
    }
    char *messages = mlxc_prompt_messages_json(o);
    char *kwargs = messages ? mlxc_prompt_template_kwargs(tok, o->chat_template_config, e) : NULL;
    char *rendered = NULL;
    size_t len = 0;
    int rc;
    if (!messages) {
        rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    } else if (!kwargs) {
        rc = e->code;
    } else {
        struct mlxc_chat_opts co = {
            .add_generation_prompt = o->prefill_response == NULL,
            .continue_final_message = o->prefill_response != NULL,
            .extra_json = kwargs,
        };
        rc = mlxc_chat_template_apply(tmpl, messages, &co, &rendered, &len, e);
        if (rc)
            mlxc_err_ctx(e, "rendering the chat template");
    }
    if (!rc && o->cached_prefix) {
        /* Render again with the last message's content replaced by "<query>" (without the extra
         * kwargs, as mlx_lm does) and keep the real rendering from that index on. */
        struct mlxc_prompt_opts q = *o;
        if (q.prefill_response)
            q.prefill_response = "<query>";
        else
            q.prompt = "<query>";
        char *qmessages = mlxc_prompt_messages_json(&q), *qtext = NULL;
        size_t qlen = 0;
        struct mlxc_chat_opts co = {.add_generation_prompt = o->prefill_response == NULL,
                                    .continue_final_message = o->prefill_response != NULL};
        rc = qmessages ? mlxc_chat_template_apply(tmpl, qmessages, &co, &qtext, &qlen, e)
                       : mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        const char *at = rc ? NULL : strstr(qtext, "<query>");
        if (!rc && at) {
            size_t from = (size_t)(at - qtext);
            if (from <= len) {
                memmove(rendered, rendered + from, len - from + 1);
                len -= from;
            }
        }
        free(qmessages);
        free(qtext);
    }
    if (!rc)
        rc = mlxc_tok_encode(tok, rendered, len, 0, ids, n, e);
    if (!rc && text) {
        *text = rendered;
        rendered = NULL;
    }
    free(rendered);
    free(messages);
    free(kwargs);
    return rc;
}

/* Prints a member of obj (JSON text, malloc'd) and detaches it, or NULL when absent. */
static char *take_member(cJSON *obj, const char *key)
{
    cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(obj, key);
    char *s = v ? cJSON_PrintUnformatted(v) : NULL;
    cJSON_Delete(v);
    return s;
}

static int take_bool(cJSON *obj, const char *key, int def)
{
    cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(obj, key);
    int r = v ? cJSON_IsTrue(v) : def;
    cJSON_Delete(v);
    return r;
}

int mlxc_prompt_render_request(const struct mlxc_chat_template *tmpl, const char *request_json, char **out,
                               size_t *out_len, struct mlxc_err *e)
{
    cJSON *req = cJSON_Parse(request_json);
    if (!cJSON_IsArray(req) && !cJSON_IsObject(req)) {
        cJSON_Delete(req);
        return mlxc_errf(e, MLXC_EINVAL, "the chat request is neither a JSON list of messages nor an object");
    }
    char *messages = NULL, *tools = NULL, *documents = NULL, *extra = NULL;
    struct mlxc_chat_opts co = {0};
    int rc = 0;
    if (cJSON_IsArray(req)) {
        messages = cJSON_PrintUnformatted(req);
    } else {
        messages = take_member(req, "messages");
        tools = take_member(req, "tools");
        documents = take_member(req, "documents");
        co.add_generation_prompt = take_bool(req, "add_generation_prompt", 0);
        co.continue_final_message = take_bool(req, "continue_final_message", 0);
        extra = cJSON_PrintUnformatted(req); /* every other key is a template argument */
        if (!messages)
            rc = mlxc_errf(e, MLXC_EINVAL, "the chat request has no \"messages\"");
    }
    co.tools_json = tools;
    co.documents_json = documents;
    co.extra_json = extra;
    if (!rc)
        rc = mlxc_chat_template_apply(tmpl, messages, &co, out, out_len, e);
    free(messages);
    free(tools);
    free(documents);
    free(extra);
    cJSON_Delete(req);
    return rc;
}

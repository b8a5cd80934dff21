/* Chat templates as transformers applies them (apply_chat_template / render_jinja_template), on the
 * Jinja engine of tokenizer/jinja.h.
 *
 * The context a template sees: messages, tools and documents (None when not given),
 * add_generation_prompt, the special tokens of tokenizer_config.json (bos_token, eos_token, unk_token,
 * pad_token, ... when set), then the extra keyword arguments, which override everything before them
 * (mlx_lm's --chat-template-config, e.g. {"enable_thinking": false}). */
#ifndef MLXC_CHAT_TEMPLATE_H
#define MLXC_CHAT_TEMPLATE_H

#include <stddef.h>

#include "core/err.h"
#include "tokenizer/jinja.h"

struct mlxc_chat_template;

/* Finds the template in a model folder as transformers (>= 4.43) does: chat_template.jinja when present
 * (it overrides the config), else tokenizer_config.json "chat_template" (a string, or a list of
 * {"name", "template"} where "default" is used), else chat_template.json ({"chat_template": ...}).
 * MLXC_ENOTFOUND if there is none. Also reads the special tokens (strings or {"content": ...}) of
 * tokenizer_config.json for the context. */
int mlxc_chat_template_load(const char *model_dir, struct mlxc_chat_template **out, struct mlxc_err *e);

/* A template from its source text, with no special tokens. */
int mlxc_chat_template_from_string(const char *source, struct mlxc_chat_template **out, struct mlxc_err *e);

void mlxc_chat_template_free(struct mlxc_chat_template *t);

/* The template source (owned by t). */
const char *mlxc_chat_template_source(const struct mlxc_chat_template *t);

/* Replaces the special tokens of the context with the members of a JSON object (for templates made
 * from a string, and tests). */
int mlxc_chat_template_set_tokens(struct mlxc_chat_template *t, const char *tokens_json, struct mlxc_err *e);

/* Render limits and the time strftime_now sees (defaults: mlxc_jinja_limits_default). */
void mlxc_chat_template_set_limits(struct mlxc_chat_template *t, const struct mlxc_jinja_limits *l);

struct mlxc_chat_opts {
    int add_generation_prompt;
    int continue_final_message;  /* transformers' semantics: render, then cut after the final message content
                                    (rindex of the stripped content; keep the unstripped content if it matches) */
    const char *tools_json;      /* JSON array or NULL */
    const char *documents_json;  /* JSON array or NULL */
    const char *extra_json;      /* JSON object of extra template kwargs (e.g. {"enable_thinking": false}) or NULL */
};

/* messages_json: a JSON array of message objects (content string or list of parts, tool_calls,
 * tool_call_id, name, reasoning_content...). *out is malloc'd and NUL-terminated. */
int mlxc_chat_template_apply(const struct mlxc_chat_template *t, const char *messages_json,
                             const struct mlxc_chat_opts *o, char **out, size_t *out_len, struct mlxc_err *e);

#endif

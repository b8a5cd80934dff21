/* Turning the user's prompt into token ids as mlx_lm.generate does (generate.py main, steps 6-7):
 * with a chat template, messages [system?] + [user] + [assistant prefill?] rendered with
 * add_generation_prompt (or continue_final_message when a prefill is given), the --chat-template-config
 * kwargs, enable_thinking defaulting to whether the vocabulary has <think>; encoded without special
 * tokens. Without a template (or with --ignore-chat-template): the raw text, encoded with BOS/EOS. */
#ifndef MLXC_PROMPT_H
#define MLXC_PROMPT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct mlxc_tokenizer;
struct mlxc_chat_template;

struct mlxc_prompt_opts {
    const char *prompt;               /* the user message */
    const char *system_prompt;        /* or NULL */
    const char *prefill_response;     /* or NULL */
    const char *chat_template_config; /* JSON object text of extra template kwargs, or NULL */
    int ignore_chat_template;
    int cached_prefix;                /* a prompt cache holds the template's prefix: send only the suffix
                                         from where the user content starts (mlx_lm's "<query>" trick) */
};

/* Replaces the two-character sequences "\n" and "\t" by newline and tab (mlx_lm does this to --prompt,
 * but not to text read from stdin). Returns a new string. */
char *mlxc_prompt_unescape(const char *s);

/* Renders (when a template is given and not ignored) and encodes. *text (optional) receives the
 * rendered text (malloc'd). */
int mlxc_prompt_encode(const struct mlxc_tokenizer *tok, const struct mlxc_chat_template *tmpl,
                       const struct mlxc_prompt_opts *o, int32_t **ids, size_t *n, char **text,
                       struct mlxc_err *e);

/* Builds the messages JSON array [system?, user, assistant?] (malloc'd). */
char *mlxc_prompt_messages_json(const struct mlxc_prompt_opts *o);

/* The template kwargs: the --chat-template-config object plus enable_thinking (from the tokenizer)
 * when the object does not set it. Returns malloc'd JSON, or NULL with an error for bad JSON. */
char *mlxc_prompt_template_kwargs(const struct mlxc_tokenizer *tok, const char *config_json, struct mlxc_err *e);

/* mlxc-tokenize --chat: a JSON request, either a list of messages or an object
 * {"messages": [...], "tools": [...], "documents": [...], "add_generation_prompt": bool,
 *  "continue_final_message": bool, ...} whose other keys go to the template as extra arguments.
 * Renders it (transformers' defaults: no generation prompt) into *out (malloc'd). */
int mlxc_prompt_render_request(const struct mlxc_chat_template *tmpl, const char *request_json, char **out,
                               size_t *out_len, struct mlxc_err *e);

#endif

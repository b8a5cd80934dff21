/* The chat's state, shared by core/chat*.c (not a public header). */
#ifndef MLXC_CHAT_IMPL_H
#define MLXC_CHAT_IMPL_H

#include "core/chat.h"
#include "core/forward.h"
#include "core/random.h"

struct mlxc_tokenizer;
struct mlxc_chat_template;
struct mlxc_detok;

struct mlxc_chat_msg {
    char *role;     /* "user" or "assistant" */
    char *content;
};

/* One exchange: where its tokens begin in the cache and which message is its user message. */
struct mlxc_chat_turn {
    int64_t start;
    size_t msg;
};

struct mlxc_chat {
    struct mlxc_chat_params p;          /* strings below are our own copies */
    char *model_arg, *template_config;
    char *dir;
    struct mlxc_model *m;
    struct mlxc_tokenizer *tok;
    struct mlxc_chat_template *tmpl;    /* NULL: the model has none */
    char *kwargs;                       /* template kwargs JSON (--chat-template-config + enable_thinking) */
    struct mlxc_state s;
    struct mlxc_kv_cache cache;
    struct mlxc_detok *detok;
    struct mlxc_rng rng;                /* one stream for the whole session (seeded once) */
    int32_t eos[64];
    int n_eos;
    int32_t xtc_special[80];
    int n_xtc_special;

    char *system;                       /* current system prompt or NULL */
    struct mlxc_chat_msg *msgs;         /* user/assistant messages in order */
    size_t n_msgs, cap_msgs;
    struct mlxc_chat_turn *turns;
    size_t n_turns, cap_turns;
    /* tokens[0..n_tokens) are exactly the cache's first positions (n_tokens <= offset; fewer when a
     * loaded file did not record them) */
    int32_t *tokens;
    int64_t n_tokens, cap_tokens;
    int64_t base;                       /* positions of the --prompt-cache-file prefix (kept by /reset) */
    int prefix_open;                    /* the prefix ends in an unfinished user message (cache_prompt):
                                           a turn starting right after it is cut (encode_after_prefix) */

    int has_last;
    struct mlxc_gen_stats last;
    int64_t total_prompt, total_gen;
};

/* core/chat_session.c: path, or path + ".safetensors" when only that exists (malloc'd) */
char *mlxc_chat_file_name(const char *path);

/* core/chat.c */
int mlxc_chat_push_msg(struct mlxc_chat *c, const char *role, const char *content, size_t len, struct mlxc_err *e);
void mlxc_chat_clear_msgs(struct mlxc_chat *c);
/* The messages as a JSON array ([system?] + msgs + [extra_user?]), malloc'd; NULL when out of memory. */
char *mlxc_chat_messages_json(const struct mlxc_chat *c, const char *extra_user);
/* Whether the cache can be cut back to `to` positions (a rotating cache cannot once it has wrapped). */
int mlxc_chat_can_trim(const struct mlxc_chat *c, int64_t to);
/* Cuts the cache (and the token mirror) back to `to` positions. */
void mlxc_chat_trim_to(struct mlxc_chat *c, int64_t to);
/* A fresh empty cache with the session's options. */
int mlxc_chat_new_cache(struct mlxc_chat *c, struct mlxc_err *e);

#endif

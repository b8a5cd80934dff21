/* The chat core behind mlxc-chat (mlx_lm.chat, facts §1.2): a conversation with a model, kept as one KV
 * cache across turns plus the message list beside it, and the chat commands. Views (core/chat_view.h)
 * read input and show output; this module never touches a terminal.
 *
 * Turns. By default (MLXC_CHAT_RENDER_TURN) each user message is rendered as mlx_lm.chat renders it:
 * [system?] + [user] through the chat template with add_generation_prompt, encoded without special
 * tokens, and only those tokens are prefilled on top of the cache. The reply is generated with
 * feed_last, so every reply token, the closing EOS included, is in the cache when the next turn starts
 * (mlx_lm's pipelining does the same). The system prompt is therefore repeated in every turn, as in
 * mlx_lm. With MLXC_CHAT_RENDER_CONVERSATION the whole message list is rendered each turn instead (what
 * the template was written for) and only the tokens after the longest common prefix with the cache are
 * prefilled; the cache is trimmed back to that prefix first.
 *
 * Without a chat template the user's text is encoded as it is (BOS only at the start of the context).
 * A cache_prompt file given as the starting prefix (an unfinished user turn) is continued as
 * mlx_lm.generate continues one: the first turn sends only what follows the user content's start.
 *
 * Input lines are either commands or messages (mlxc_chat_input):
 *   q, r, h             mlx_lm.chat's quit, reset and help (exact lines)
 *   /quit /exit         quit
 *   /reset              forget the conversation (back to the --prompt-cache-file prefix, if any)
 *   /undo               drop the last exchange (the cache is trimmed to where it started)
 *   /system [TEXT|@FILE|-]  show, set (from a file with @) or clear (-) the system prompt
 *   /save FILE, /load FILE  the session as a prompt-cache file (messages in its metadata)
 *   /stats, /help
 *   //text              sends "/text" as a message
 * Anything else is a user message. */
#ifndef MLXC_CHAT_H
#define MLXC_CHAT_H

#include <stddef.h>
#include <stdint.h>

#include "cache/kv.h"
#include "core/err.h"
#include "core/generate.h"
#include "core/logits.h"
#include "core/sample.h"

enum mlxc_chat_render {
    MLXC_CHAT_RENDER_TURN,         /* mlx_lm.chat: render [system?] + [user] per turn */
    MLXC_CHAT_RENDER_CONVERSATION, /* render every message, prefill what the cache lacks */
};

struct mlxc_chat_params {
    const char *model;                /* folder or cached repo id; NULL: the "model" of resume's metadata */
    const char *system_prompt;        /* or NULL */
    const char *chat_template_config; /* JSON object of extra template kwargs, or NULL */
    char *const *extra_eos_token;     /* NULL-ended ids or token strings, or NULL */
    int64_t max_tokens;               /* per reply; < 0: no limit */
    int64_t prefill_step_size;        /* <= 0: 2048 */
    struct mlxc_sampler_params sampling;
    struct mlxc_logits_params logits; /* penalties (the bias comes from logit_bias); they look back over
                                         the whole conversation in the cache (earlier turns and replies,
                                         when its tokens are known), this turn's tokens and the reply */
    const char *logit_bias;           /* "ID=V,..." or NULL (checked against the vocabulary) */
    char *const *stop;                /* NULL-ended stop strings: the reply ends before one (it stays in
                                         the cache, not in the message), or NULL */
    uint64_t seed;                    /* mlx_lm.chat always seeds (default 0) */
    int seed_given;                   /* with resume: seed replaces the random state the session saved
                                         (otherwise the resumed chat draws on where it stopped) */
    struct mlxc_cache_opts cache;
    const char *prompt_cache_file;    /* start from this prefix (or session), or NULL */
    const char *resume;               /* restore this saved session, or NULL */
    enum mlxc_chat_render render;
    int64_t max_context;              /* <= 0: the model's max_position_embeddings */
    int threads;                      /* <= 0: default */
    volatile int *interrupt;          /* a set flag stops the reply after the current token (SIGINT) */
};

struct mlxc_chat;

/* Loads the model, tokenizer, chat template and cache (and the prefix or session when given). */
int mlxc_chat_open(const struct mlxc_chat_params *p, struct mlxc_chat **out, struct mlxc_err *e);
void mlxc_chat_close(struct mlxc_chat *c);

/* What the core tells the view. Text is UTF-8, not NUL-terminated (len bytes). */
enum mlxc_chat_event {
    MLXC_CHAT_REPLY_BEGIN, /* a reply starts (text: none) */
    MLXC_CHAT_REPLY_TEXT,  /* a piece of it as it streams */
    MLXC_CHAT_REPLY_END,   /* it ended; text: the finish reason ("stop", "length", "interrupted"), none when
                              the turn failed; mlxc_chat_get_info has its statistics */
    MLXC_CHAT_INFO,        /* output of a command: lines separated by '\n', no final newline */
    MLXC_CHAT_WARN,        /* something the user should act on (context full, a failed command) */
    MLXC_CHAT_CLEAR,       /* the conversation was replaced (reset, load): clear the transcript */
    MLXC_CHAT_PAST_USER,   /* after CLEAR on load: a message of the restored conversation */
    MLXC_CHAT_PAST_REPLY,
    MLXC_CHAT_QUIT,        /* the user asked to quit */
};

/* For REPLY_TEXT a non-zero return stops the reply (what was generated stays in the context). */
typedef int (*mlxc_chat_cb)(void *ctx, enum mlxc_chat_event ev, const char *text, size_t len);

/* Handles one complete input (a command or a message; multi-line input already joined). Returns 0,
 * or an error for failures the chat survives (the view shows e->msg and goes on). A turn that fails
 * leaves the conversation as it was before it. */
int mlxc_chat_input(struct mlxc_chat *c, const char *input, mlxc_chat_cb cb, void *ctx, struct mlxc_err *e);

/* Sends a user message (no command parsing). */
int mlxc_chat_say(struct mlxc_chat *c, const char *text, mlxc_chat_cb cb, void *ctx, struct mlxc_err *e);

/* The conversation management behind the commands. */
int mlxc_chat_reset(struct mlxc_chat *c, struct mlxc_err *e);
int mlxc_chat_undo(struct mlxc_chat *c, struct mlxc_err *e);  /* MLXC_ENOTFOUND: nothing to undo */
int mlxc_chat_set_system(struct mlxc_chat *c, const char *text, struct mlxc_err *e); /* NULL clears */
/* Adds ".safetensors" to the name when it lacks it (as mx.save_safetensors does); *written (optional,
 * malloc'd) receives the name used. Loading also tries the name with the extension added. */
int mlxc_chat_save(struct mlxc_chat *c, const char *path, char **written, struct mlxc_err *e);
int mlxc_chat_load(struct mlxc_chat *c, const char *path, struct mlxc_err *e);

/* Emits CLEAR and the restored messages (PAST_USER / PAST_REPLY) of the conversation. */
void mlxc_chat_replay(const struct mlxc_chat *c, mlxc_chat_cb cb, void *ctx);

struct mlxc_chat_info {
    const char *model;          /* as given */
    const char *model_name;     /* the last part of the model's folder or repo id */
    int64_t context_used;       /* positions in the cache */
    int64_t context_limit;      /* 0: none (a rotating cache keeps going) */
    int n_turns, n_messages;
    const char *system_prompt;  /* or NULL */
    int has_last;               /* a reply was generated in this session */
    struct mlxc_gen_stats last; /* of the last reply */
    int64_t total_prompt_tokens, total_generation_tokens;
    double peak_gb;             /* peak resident memory, decimal GB */
    double cache_gb;            /* bytes the KV cache holds */
};

void mlxc_chat_get_info(const struct mlxc_chat *c, struct mlxc_chat_info *info);

/* One line on the last reply, after mlx_lm.chat's (HEAD) stats line:
 *   "20 tokens · 48.2 tok/s · prompt 12 tokens, 450.1 tok/s · peak 0.17 GB · context 150/4096"
 * into buf (NUL-terminated, truncated to cap). */
void mlxc_chat_stats_line(const struct mlxc_chat *c, char *buf, size_t cap);

/* The text of /help (also what `h` shows). */
const char *mlxc_chat_help_text(void);

/* ---- input helpers shared by the views ---- */

/* Multi-line input. Lines are fed one at a time (without their newline):
 *   a line ending in a backslash continues on the next line (the backslash becomes a newline);
 *   a line starting with three double quotes opens a block, closed by a line ending with three double
 *   quotes ("""one line""" is a block of one line); the block's lines are joined with newlines.
 * A completed input that was not a single plain line is always a message, never a command. */
struct mlxc_chat_lines {
    char *text;      /* the input so far */
    size_t len, cap;
    int in_block;    /* inside """ ... """ */
    int continued;   /* the previous line ended in a backslash */
    int multi;       /* more than one line, or a block */
    int started;     /* the block has a first line (the next one follows a newline) */
};

/* Returns 1 when the input is complete (*out: malloc'd text, *is_message: 1 when it must not be read as a
 * command), 0 when more lines are needed, or an error (out of memory). */
int mlxc_chat_lines_feed(struct mlxc_chat_lines *l, const char *line, char **out, int *is_message,
                         struct mlxc_err *e);
int mlxc_chat_lines_pending(const struct mlxc_chat_lines *l); /* 1 while an input is unfinished */
void mlxc_chat_lines_clear(struct mlxc_chat_lines *l);
void mlxc_chat_lines_free(struct mlxc_chat_lines *l);

/* --system-prompt and /system: "@path" reads the text from a file (a trailing newline dropped), "@@x"
 * is the literal "@x", anything else is the text itself. Returns a malloc'd string or NULL with e. */
char *mlxc_chat_text_arg(const char *arg, struct mlxc_err *e);

#endif

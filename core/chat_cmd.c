/* The chat commands (see core/chat.h for the list). Their output goes to the view as INFO events. */
#include "core/chat_impl.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/sys.h"
#include "core/utf8.h"

#define MAX_TEXT_FILE (16u << 20)

static const char help_text[] =
    "commands:\n"
    "  q, /quit          exit (Ctrl-D too)\n"
    "  r, /reset         forget the conversation\n"
    "  h, /help          show this help\n"
    "  /undo             drop the last exchange\n"
    "  /system [TEXT]    show or set the system prompt (@FILE reads it from a file, - clears it)\n"
    "  /save FILE        save the session (messages and KV cache) to FILE.safetensors\n"
    "  /load FILE        restore a saved session (or start from a cached prompt)\n"
    "  /stats            context, speed and memory\n"
    "  //text            send a message that starts with '/'\n"
    "input: a line ending in \\ continues on the next one; \"\"\" opens and closes a block of lines.\n"
    "Ctrl-C stops a reply (it stays in the context) or clears the input; Ctrl-D on an empty line exits.";

const char *mlxc_chat_help_text(void)
{
    return help_text;
}

static void say_info(mlxc_chat_cb cb, void *ctx, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say_info(mlxc_chat_cb cb, void *ctx, const char *fmt, ...)
{
    struct mlxc_buf b = MLXC_BUF_INIT;
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof tmp) { /* long texts (a system prompt): format again into a buffer */
        va_start(ap, fmt);
        char *big = malloc((size_t)n + 1);
        if (big)
            vsnprintf(big, (size_t)n + 1, fmt, ap);
        va_end(ap);
        mlxc_buf_puts(&b, big ? big : tmp);
        free(big);
    } else {
        mlxc_buf_puts(&b, tmp);
    }
    if (cb && b.data)
        cb(ctx, MLXC_CHAT_INFO, b.data, b.len);
    mlxc_buf_free(&b);
}

char *mlxc_chat_text_arg(const char *arg, struct mlxc_err *e)
{
    char *s;
    if (arg[0] == '@' && arg[1] == '@') {
        s = strdup(arg + 1);
    } else if (arg[0] == '@') {
        size_t len;
        if (!(s = mlxc_read_file(arg + 1, MAX_TEXT_FILE, &len, e)))
            return NULL;
        if (mlxc_utf8_valid_prefix(s, len) != len || strlen(s) != len) {
            free(s);
            mlxc_errf(e, MLXC_EINVAL, "'%s' is not UTF-8 text", arg + 1);
            return NULL;
        }
        if (len && s[len - 1] == '\n')
            s[--len] = '\0';
        if (len && s[len - 1] == '\r')
            s[--len] = '\0';
        return s;
    } else {
        s = strdup(arg);
    }
    if (!s)
        mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    return s;
}

int mlxc_chat_reset(struct mlxc_chat *c, struct mlxc_err *e)
{
    if (mlxc_chat_can_trim(c, c->base)) {
        mlxc_chat_trim_to(c, c->base);
    } else if (c->base == 0) {
        int rc = mlxc_chat_new_cache(c, e);
        if (rc)
            return rc;
    } else {
        return mlxc_errf(e, MLXC_EUNSUP, "the rotating cache has wrapped, so it cannot go back to the cached "
                                         "prompt: /load it again");
    }
    mlxc_chat_clear_msgs(c);
    return 0;
}

int mlxc_chat_undo(struct mlxc_chat *c, struct mlxc_err *e)
{
    if (c->n_turns == 0)
        return mlxc_errf(e, MLXC_ENOTFOUND, c->n_msgs ? "nothing to undo: the loaded session does not record where "
                                                        "its exchanges start"
                                                      : "nothing to undo");
    const struct mlxc_chat_turn *t = &c->turns[c->n_turns - 1];
    if (!mlxc_chat_can_trim(c, t->start))
        return mlxc_errf(e, MLXC_EUNSUP, "the rotating cache has wrapped, so it cannot be cut back: /reset starts over");
    mlxc_chat_trim_to(c, t->start);
    while (c->n_msgs > t->msg) {
        c->n_msgs--;
        free(c->msgs[c->n_msgs].role);
        free(c->msgs[c->n_msgs].content);
    }
    c->n_turns--;
    return 0;
}

int mlxc_chat_set_system(struct mlxc_chat *c, const char *text, struct mlxc_err *e)
{
    char *s = NULL;
    if (text && !(s = strdup(text)))
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    free(c->system);
    c->system = s;
    return 0;
}

static void stats_text(const struct mlxc_chat *c, mlxc_chat_cb cb, void *ctx)
{
    struct mlxc_chat_info in;
    mlxc_chat_get_info(c, &in);
    char ctx_s[96], last[160];
    if (in.context_limit)
        snprintf(ctx_s, sizeof ctx_s, "%lld of %lld positions (%.1f%%)", (long long)in.context_used,
                 (long long)in.context_limit, 100.0 * (double)in.context_used / (double)in.context_limit);
    else
        snprintf(ctx_s, sizeof ctx_s, "%lld positions (rotating cache of %lld)", (long long)in.context_used,
                 (long long)c->p.cache.max_kv_size);
    if (in.has_last)
        snprintf(last, sizeof last, "%lld tokens, %.1f tok/s; prompt %lld tokens, %.1f tok/s (%s)",
                 (long long)in.last.generation_tokens, in.last.generation_tps, (long long)in.last.prompt_tokens,
                 in.last.prompt_tps, in.last.finish_reason);
    else
        snprintf(last, sizeof last, "none yet");
    say_info(cb, ctx,
             "model       %s\n"
             "context     %s, %d exchanges%s\n"
             "last reply  %s\n"
             "session     %lld prompt tokens, %lld generated\n"
             "memory      peak %.2f GB, KV cache %.3f GB\n"
             "sampling    temp %g, top-p %g, seed %llu, max tokens %lld\n"
             "system      %s",
             in.model, ctx_s, in.n_turns, c->base ? " after a cached prompt" : "", last,
             (long long)in.total_prompt_tokens, (long long)in.total_generation_tokens, in.peak_gb, in.cache_gb,
             (double)c->p.sampling.temp, (double)c->p.sampling.top_p, (unsigned long long)c->p.seed,
             (long long)c->p.max_tokens, in.system_prompt ? in.system_prompt : "(none)");
}

static char *trim(char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static int command(struct mlxc_chat *c, const char *name, char *arg, mlxc_chat_cb cb, void *ctx, struct mlxc_err *e)
{
    int rc = 0;
    if (!strcmp(name, "quit") || !strcmp(name, "exit") || !strcmp(name, "q")) {
        if (cb)
            cb(ctx, MLXC_CHAT_QUIT, NULL, 0);
    } else if (!strcmp(name, "help") || !strcmp(name, "h") || !strcmp(name, "?")) {
        say_info(cb, ctx, "%s", help_text);
    } else if (!strcmp(name, "reset") || !strcmp(name, "r")) {
        if ((rc = mlxc_chat_reset(c, e)) == 0)
            say_info(cb, ctx, "context cleared");
    } else if (!strcmp(name, "undo")) {
        if ((rc = mlxc_chat_undo(c, e)) == 0)
            say_info(cb, ctx, "dropped the last exchange (context %lld positions)", (long long)c->cache.offset);
    } else if (!strcmp(name, "stats")) {
        stats_text(c, cb, ctx);
    } else if (!strcmp(name, "system")) {
        if (!*arg) {
            say_info(cb, ctx, c->system ? "system prompt: %s" : "no system prompt%s", c->system ? c->system : "");
        } else if (!strcmp(arg, "-")) {
            mlxc_chat_set_system(c, NULL, e);
            say_info(cb, ctx, "system prompt cleared");
        } else {
            char *text = mlxc_chat_text_arg(arg, e);
            rc = text ? mlxc_chat_set_system(c, text, e) : e->code;
            free(text);
            if (!rc)
                say_info(cb, ctx, c->p.render == MLXC_CHAT_RENDER_CONVERSATION
                                      ? "system prompt set (the conversation is rendered again with it)"
                                      : "system prompt set (it comes with each message from now on)");
        }
    } else if (!strcmp(name, "save")) {
        char *written = NULL;
        if (!*arg)
            rc = mlxc_errf(e, MLXC_EINVAL, "usage: /save FILE");
        else if ((rc = mlxc_chat_save(c, arg, &written, e)) == 0)
            say_info(cb, ctx, "saved %zu messages and %lld positions to '%s'", c->n_msgs, (long long)c->cache.offset,
                     written);
        free(written);
    } else if (!strcmp(name, "load")) {
        if (!*arg) {
            rc = mlxc_errf(e, MLXC_EINVAL, "usage: /load FILE");
        } else if ((rc = mlxc_chat_load(c, arg, e)) == 0) {
            mlxc_chat_replay(c, cb, ctx);
            if (c->n_msgs || c->base == 0)
                say_info(cb, ctx, "restored %zu messages (context %lld positions)", c->n_msgs,
                         (long long)c->cache.offset);
            else
                say_info(cb, ctx, "starting from the cached prompt in '%s' (%lld positions)", arg,
                         (long long)c->cache.offset);
        }
    } else {
        rc = mlxc_errf(e, MLXC_EINVAL, "unknown command '/%s': /help lists them, and //text sends a message that "
                                       "starts with '/'", name);
    }
    return rc;
}

int mlxc_chat_input(struct mlxc_chat *c, const char *input, mlxc_chat_cb cb, void *ctx, struct mlxc_err *e)
{
    /* mlx_lm.chat's one-letter commands: exact lines only */
    if (!strcmp(input, "q") || !strcmp(input, "r") || !strcmp(input, "h"))
        return command(c, input, (char[]){""}, cb, ctx, e);
    if (input[0] == '/' && input[1] == '/')
        return mlxc_chat_say(c, input + 1, cb, ctx, e);
    if (input[0] != '/')
        return mlxc_chat_say(c, input, cb, ctx, e);
    char *line = strdup(input + 1);
    if (!line)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    size_t n = strcspn(line, " \t");
    char *arg = line + n;
    if (*arg)
        *arg++ = '\0';
    int rc = command(c, line, trim(arg), cb, ctx, e);
    free(line);
    return rc;
}

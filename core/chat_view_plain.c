/* The plain line view of mlxc-chat (core/chat_view.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include <readline/readline.h>

#include "core/chat_view.h"

struct plain {
    struct mlxc_chat *c;
    const struct mlxc_chat_view_opts *o;
    FILE *in, *out, *err;
    int interactive;  /* a terminal: readline, prompt, banner */
    int quit;
};

static int on_event(void *ctx, enum mlxc_chat_event ev, const char *text, size_t len)
{
    struct plain *v = ctx;
    switch (ev) {
    case MLXC_CHAT_REPLY_BEGIN:
        break;
    case MLXC_CHAT_REPLY_TEXT:
        fwrite(text, 1, len, v->out);
        fflush(v->out);
        break;
    case MLXC_CHAT_REPLY_END: {
        fputc('\n', v->out);
        fflush(v->out);
        if (!text)
            break; /* the turn failed: its error follows */
        char line[512];
        mlxc_chat_stats_line(v->c, line, sizeof line);
        fprintf(v->err, "[%s]\n", line);
        fflush(v->err);
        break;
    }
    case MLXC_CHAT_INFO:
        fprintf(v->out, "%.*s\n", (int)len, text);
        fflush(v->out);
        break;
    case MLXC_CHAT_WARN:
        fprintf(v->err, "%s: %.*s\n", v->o->prog, (int)len, text);
        fflush(v->err);
        break;
    case MLXC_CHAT_CLEAR:
        if (v->interactive)
            fprintf(v->out, "--- conversation ---\n");
        break;
    case MLXC_CHAT_PAST_USER:
        if (v->interactive)
            fprintf(v->out, ">> %.*s\n", (int)len, text);
        break;
    case MLXC_CHAT_PAST_REPLY:
        if (v->interactive)
            fprintf(v->out, "%.*s\n", (int)len, text);
        break;
    case MLXC_CHAT_QUIT:
        v->quit = 1;
        break;
    }
    return 0;
}

/* ---- reading a line: readline's callback interface, so a Ctrl-C (SIGINT, which interrupts select)
 * can clear the line instead of ending the program ---- */

static char *got_line;
static int got_done, got_eof;

static void on_rl_line(char *line)
{
    got_line = line;
    got_eof = line == NULL;
    got_done = 1;
    rl_callback_handler_remove(); /* before the next prompt is installed, and so the terminal is restored */
}

/* Returns a malloc'd line, NULL at end of input; *cleared when Ctrl-C cleared the line. */
static char *read_tty(struct plain *v, const char *prompt, int *cleared)
{
    *cleared = 0;
    got_done = got_eof = 0;
    got_line = NULL;
    rl_callback_handler_install(prompt, on_rl_line);
    while (!got_done) {
        fd_set fds;
        FD_ZERO(&fds);
        FD_SET(fileno(v->in), &fds);
        int r = select(fileno(v->in) + 1, &fds, NULL, NULL, NULL);
        if (r < 0 && errno == EINTR) {
            if (v->o->interrupt && *v->o->interrupt) {
                *v->o->interrupt = 0;
                rl_replace_line("", 0);
                rl_crlf();
                rl_callback_handler_remove();
                *cleared = 1;
                return NULL;
            }
            continue;
        }
        if (r < 0)
            break;
        rl_callback_read_char();
    }
    if (!got_done)
        rl_callback_handler_remove();
    return got_line;
}

static char *read_stream(struct plain *v, int *interrupted)
{
    char *line = NULL;
    size_t cap = 0;
    *interrupted = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, v->in)) < 0) {
        if (errno == EINTR && !(v->o->interrupt && *v->o->interrupt)) {
            clearerr(v->in);
            continue;
        }
        *interrupted = errno == EINTR;
        free(line);
        return NULL;
    }
    if (n && line[n - 1] == '\n')
        line[--n] = '\0';
    if (n && line[n - 1] == '\r')
        line[--n] = '\0';
    return line;
}

static void banner(struct plain *v)
{
    struct mlxc_chat_info in;
    mlxc_chat_get_info(v->c, &in);
    fprintf(v->out, "[INFO] Starting chat session with %s.\n", in.model);
    fprintf(v->out, "The command list:\n- 'q' to exit\n- 'r' to reset the chat\n- 'h' to display these commands\n"
                    "- '/help' for the rest (/undo, /system, /save, /load, /stats)\n");
    fflush(v->out);
}

int mlxc_chat_view_plain(struct mlxc_chat *c, const struct mlxc_chat_view_opts *o, FILE *in, FILE *out, FILE *err)
{
    struct plain v = {.c = c, .o = o, .in = in, .out = out, .err = err};
    v.interactive = isatty(fileno(in)) && isatty(fileno(out));
    struct mlxc_chat_lines lines = {0};
    int failures = 0, status = 0;
    if (v.interactive) {
        rl_instream = in;
        rl_outstream = out;
        rl_catch_signals = 0; /* our SIGINT handler sets the flag; select() returns EINTR */
        mlxc_chat_history_open(o->history_path);
        banner(&v);
        struct mlxc_chat_info info;
        mlxc_chat_get_info(c, &info);
        if (info.n_messages)
            mlxc_chat_replay(c, on_event, &v);
    }
    while (!v.quit) {
        char *line;
        if (v.interactive) {
            int cleared;
            line = read_tty(&v, mlxc_chat_lines_pending(&lines) ? ".. " : ">> ", &cleared);
            if (cleared) {
                mlxc_chat_lines_clear(&lines);
                continue;
            }
            if (line)
                mlxc_chat_history_add(o->history_path, line);
        } else {
            int interrupted;
            line = read_stream(&v, &interrupted);
            if (interrupted)
                status = 130;
        }
        if (!line)
            break;
        struct mlxc_err e = {0};
        char *input = NULL;
        int is_message = 0;
        int rc = mlxc_chat_lines_feed(&lines, line, &input, &is_message, &e);
        free(line);
        if (rc == 1 && (is_message || *input)) { /* an empty line sends nothing */
            rc = is_message ? mlxc_chat_say(c, input, on_event, &v, &e) : mlxc_chat_input(c, input, on_event, &v, &e);
            if (o->interrupt)
                *o->interrupt = 0; /* a Ctrl-C during the reply stopped it: the chat goes on */
        }
        free(input);
        if (rc < 0) {
            failures++;
            fprintf(err, "%s: error: %s\n", o->prog, e.msg);
            fflush(err);
        }
    }
    if (v.interactive) {
        if (!v.quit)
            fputc('\n', out); /* Ctrl-D leaves the cursor after the prompt */
        mlxc_chat_history_close(o->history_path);
    }
    mlxc_chat_lines_free(&lines);
    if (status)
        return status;
    return !v.interactive && failures ? 1 : 0;
}

/* The two views of mlxc-chat over the chat core (core/chat.h). They are built into their own library
 * (with readline and ncursesw), apart from libmlxc.
 *
 * Plain view: one user turn per line (multi-line input as mlxc_chat_lines describes), the reply on
 * `out` as it streams and a newline after it, a statistics line on `err` after each reply. With a
 * terminal on `in` it uses GNU readline (editing, the history file, ">> " prompt, Ctrl-C clears the
 * line); otherwise it reads lines as they come, prints no prompt and no banner, so scripts can drive it.
 *
 * Full-screen view (ncurses): a scrolling transcript, a status bar (model, context used/limit, the last
 * reply's prompt and generation tok/s, peak memory) and a readline input line at the bottom. PgUp/PgDn
 * scroll; Ctrl-C stops a reply or clears the input; Ctrl-D on an empty line exits; resizing redraws.
 * NO_COLOR turns colours off. */
#ifndef MLXC_CHAT_VIEW_H
#define MLXC_CHAT_VIEW_H

#include <stdio.h>

#include "core/chat.h"
#include "core/err.h"

struct mlxc_chat_view_opts {
    const char *prog;            /* "mlxc-chat", for messages */
    volatile int *interrupt;     /* set by SIGINT; the view clears it once handled */
    const char *history_path;    /* readline history file, or NULL for none */
    int color;                   /* 0 when NO_COLOR is set */
};

/* Both return the exit status: 0, 1 when a scripted (non-terminal) session had errors, 130 when it was
 * interrupted while waiting for input. */
int mlxc_chat_view_plain(struct mlxc_chat *c, const struct mlxc_chat_view_opts *o, FILE *in, FILE *out, FILE *err);
int mlxc_chat_view_tui(struct mlxc_chat *c, const struct mlxc_chat_view_opts *o);

/* $XDG_STATE_HOME/mlxc/history, or ~/.local/state/mlxc/history; creates the folders (mode 0700) and
 * the file (0600). NULL (with e) when there is no home or it cannot be created. */
char *mlxc_chat_history_path(struct mlxc_err *e);

/* readline's history: reads the file (when given) and keeps it to `keep` lines at exit. */
void mlxc_chat_history_open(const char *path);
void mlxc_chat_history_add(const char *path, const char *line);
void mlxc_chat_history_close(const char *path);

#endif

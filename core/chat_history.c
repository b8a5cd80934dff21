/* The readline history file of mlxc-chat: $XDG_STATE_HOME/mlxc/history (XDG base directories: state
 * that should persist between restarts), one input line per entry, appended as it is entered. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <readline/history.h>

#include "core/chat_view.h"
#include "core/xdg.h"

#define HISTORY_KEEP 5000

char *mlxc_chat_history_path(struct mlxc_err *e)
{
    char *path = mlxc_xdg_path(MLXC_XDG_STATE, "history", e);
    int fd = -1;
    if (path && mlxc_xdg_make_parent(path, e) == 0 &&
        (fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0)
        mlxc_errf_sys(e, MLXC_EIO, "cannot open '%s'", path);
    if (fd < 0) {
        free(path);
        return NULL;
    }
    close(fd);
    return path;
}

void mlxc_chat_history_open(const char *path)
{
    using_history();
    if (path)
        read_history(path);
}

void mlxc_chat_history_add(const char *path, const char *line)
{
    if (!*line) {
        using_history();
        return;
    }
    HIST_ENTRY *last = history_length > 0 ? history_get(history_base + history_length - 1) : NULL;
    if (last && strcmp(last->line, line) == 0) {
        using_history(); /* no repeats in a row */
        return;
    }
    add_history(line);
    using_history(); /* the callback interface does not move the history position to the end by itself */
    if (path)
        append_history(1, path);
}

void mlxc_chat_history_close(const char *path)
{
    if (path)
        history_truncate_file(path, HISTORY_KEEP);
}

/* The readline history file of mlxc-chat: $XDG_STATE_HOME/mlxc/history (XDG base directories: state
 * that should persist between restarts), one input line per entry, appended as it is entered. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <readline/history.h>

#include "core/chat_view.h"

#define HISTORY_KEEP 5000

/* mkdir -p for the folders of path (not its last part). */
static int make_parents(char *path, struct mlxc_err *e)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int bad = mkdir(path, 0700) != 0 && errno != EEXIST;
        if (bad)
            mlxc_errf_sys(e, MLXC_EIO, "cannot create '%s'", path);
        *p = '/';
        if (bad)
            return e->code;
    }
    return 0;
}

char *mlxc_chat_history_path(struct mlxc_err *e)
{
    const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    char *path = NULL;
    int n;
    if (state && state[0] == '/') /* the spec ignores relative values */
        n = asprintf(&path, "%s/mlxc/history", state);
    else if (home && *home)
        n = asprintf(&path, "%s/.local/state/mlxc/history", home);
    else {
        mlxc_errf(e, MLXC_ENOTFOUND, "neither XDG_STATE_HOME nor HOME is set");
        return NULL;
    }
    if (n < 0) {
        mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        return NULL;
    }
    int fd = -1;
    if (make_parents(path, e) == 0 && (fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0)
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

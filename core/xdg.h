/* Where mlxc keeps its files, after the XDG Base Directory specification: configuration in
 * $XDG_CONFIG_HOME/mlxc (default ~/.config/mlxc), state such as the chat history in $XDG_STATE_HOME/mlxc
 * (~/.local/state/mlxc), caches in $XDG_CACHE_HOME/mlxc (~/.cache/mlxc), data in $XDG_DATA_HOME/mlxc
 * (~/.local/share/mlxc). As the specification says, a variable that is unset, empty or not an absolute
 * path is ignored and the default under $HOME is used. */
#ifndef MLXC_XDG_H
#define MLXC_XDG_H

#include "core/err.h"

enum mlxc_xdg_kind {
    MLXC_XDG_CONFIG,
    MLXC_XDG_STATE,
    MLXC_XDG_CACHE,
    MLXC_XDG_DATA,
};

/* "<base of kind>/mlxc/<name>" as a new string (caller frees); NULL with an error when neither the
 * variable nor $HOME gives a base. */
char *mlxc_xdg_path(enum mlxc_xdg_kind kind, const char *name, struct mlxc_err *e);

/* Creates the folders above `path` that do not exist yet (mode 0700, as the specification asks for
 * the base folders); 0 or a negative MLXC_E* code. */
int mlxc_xdg_make_parent(const char *path, struct mlxc_err *e);

#endif

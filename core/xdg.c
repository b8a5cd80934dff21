#include "core/xdg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const struct {
    const char *var;     /* XDG_CONFIG_HOME */
    const char *home_rel; /* default under $HOME: ".config" */
} bases[] = {
    [MLXC_XDG_CONFIG] = {"XDG_CONFIG_HOME", ".config"},
    [MLXC_XDG_STATE] = {"XDG_STATE_HOME", ".local/state"},
    [MLXC_XDG_CACHE] = {"XDG_CACHE_HOME", ".cache"},
    [MLXC_XDG_DATA] = {"XDG_DATA_HOME", ".local/share"},
};

char *mlxc_xdg_path(enum mlxc_xdg_kind kind, const char *name, struct mlxc_err *e)
{
    if ((unsigned)kind >= sizeof bases / sizeof bases[0]) {
        mlxc_errf(e, MLXC_EINVAL, "unknown XDG folder kind %d", (int)kind);
        return NULL;
    }
    const char *base = getenv(bases[kind].var), *rel = "";
    if (!base || base[0] != '/') {
        base = getenv("HOME");
        rel = bases[kind].home_rel;
        if (!base || !*base) {
            mlxc_errf(e, MLXC_ENOTFOUND, "neither $%s nor $HOME is set", bases[kind].var);
            return NULL;
        }
    }
    size_t n = strlen(base) + strlen(rel) + strlen(name) + sizeof "///mlxc";
    char *path = malloc(n);
    if (!path) {
        mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        return NULL;
    }
    if (*rel)
        snprintf(path, n, "%s/%s/mlxc/%s", base, rel, name);
    else
        snprintf(path, n, "%s/mlxc/%s", base, name);
    return path;
}

int mlxc_xdg_make_parent(const char *path, struct mlxc_err *e)
{
    char *dir = strdup(path);
    if (!dir)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    char *last = strrchr(dir, '/');
    if (!last || last == dir) {
        free(dir);
        return 0;
    }
    *last = '\0';
    /* each prefix ending before a '/', then the whole folder */
    for (char *p = dir + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            int rc = mlxc_errf_sys(e, MLXC_EIO, "cannot create folder '%s'", dir);
            free(dir);
            return rc;
        }
        *p = c;
        if (!c)
            break;
    }
    struct stat st;
    int rc = 0;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        rc = mlxc_errf(e, MLXC_EIO, "'%s' is not a folder", dir);
    free(dir);
    return rc;
}

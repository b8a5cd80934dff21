#include "core/model_dir.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/sys.h"
#include "mlxc_paths.h"

/* A repo id is "org/name": exactly one '/', not at either end, and no "." or ".." parts. */
static int looks_like_repo_id(const char *s)
{
    const char *slash = strchr(s, '/');
    if (!slash || slash == s || !slash[1] || strchr(slash + 1, '/'))
        return 0;
    if (s[0] == '.' || slash[1] == '.')
        return 0;
    return 1;
}

/* The snapshot folder of a repo folder (models--org--name), or NULL. */
static char *find_snapshot(const char *repo_dir)
{
    char *refs = mlxc_path_join(repo_dir, "refs/main");
    char *snaps = mlxc_path_join(repo_dir, "snapshots");
    char *found = NULL;
    if (!refs || !snaps)
        goto out;
    size_t len;
    char *commit = mlxc_read_file(refs, 256, &len, NULL);
    if (commit) {
        while (len && (commit[len - 1] == '\n' || commit[len - 1] == ' ' || commit[len - 1] == '\r'))
            commit[--len] = '\0';
        if (len && !strchr(commit, '/')) {
            char *snap = mlxc_path_join(snaps, commit);
            if (snap && mlxc_is_dir(snap))
                found = snap;
            else
                free(snap);
        }
        free(commit);
        if (found)
            goto out;
    }
    /* No usable refs/main: take the snapshot if there is exactly one. */
    DIR *d = opendir(snaps);
    if (!d)
        goto out;
    struct dirent *ent;
    int count = 0;
    char *only = NULL;
    while ((ent = readdir(d))) {
        if (ent->d_name[0] == '.')
            continue;
        count++;
        free(only);
        only = mlxc_path_join(snaps, ent->d_name);
    }
    closedir(d);
    if (count == 1 && only && mlxc_is_dir(only))
        found = only;
    else
        free(only);
out:
    free(refs);
    free(snaps);
    return found;
}

char *mlxc_model_dir_resolve(const char *model, struct mlxc_err *e)
{
    if (!model || !*model) {
        mlxc_errf(e, MLXC_EINVAL, "no model given");
        return NULL;
    }
    if (mlxc_is_dir(model))
        return strdup(model);
    struct mlxc_buf looked = MLXC_BUF_INIT;
    mlxc_buf_printf(&looked, "'%s'", model);
    if (looks_like_repo_id(model)) {
        const char *env_hub = getenv("HF_HUB_CACHE"), *env_home = getenv("HF_HOME");
        const char *env_xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
        char roots[4][4096];
        int nroots = 0;
        if (env_hub && *env_hub)
            snprintf(roots[nroots++], sizeof roots[0], "%s", env_hub);
        if (env_home && *env_home)
            snprintf(roots[nroots++], sizeof roots[0], "%s/hub", env_home);
        if (env_xdg && *env_xdg)
            snprintf(roots[nroots++], sizeof roots[0], "%s/huggingface/hub", env_xdg);
        if (home && *home)
            snprintf(roots[nroots++], sizeof roots[0], "%s/.cache/huggingface/hub", home);
        /* "org/name" lives in "models--org--name" */
        const char *slash = strchr(model, '/');
        char repo_name[1024];
        snprintf(repo_name, sizeof repo_name, "models--%.*s--%s", (int)(slash - model), model, slash + 1);
        for (int i = 0; i < nroots; i++) {
            char *repo_dir = mlxc_path_join(roots[i], repo_name);
            if (!repo_dir)
                break;
            mlxc_buf_printf(&looked, ", '%s'", repo_dir);
            char *snap = mlxc_is_dir(repo_dir) ? find_snapshot(repo_dir) : NULL;
            free(repo_dir);
            if (snap) {
                mlxc_buf_free(&looked);
                return snap;
            }
        }
    }
    mlxc_errf(e, MLXC_ENOTFOUND, "model '%s' not found (looked in %s; nothing is downloaded)", model,
              looked.data ? looked.data : "");
    mlxc_buf_free(&looked);
    return NULL;
}

/* 1 if this process's executable lies inside the build tree. */
static int running_from_build_tree(void)
{
    char exe[PATH_MAX], root[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k <= 0 || !realpath(MLXC_BUILD_ROOT, root))
        return 0;
    exe[k] = '\0';
    size_t n = strlen(root);
    return strncmp(exe, root, n) == 0 && exe[n] == '/';
}

char *mlxc_default_model_dir(struct mlxc_err *e)
{
    const char *places[2] = {MLXC_DEFAULT_MODEL_INSTALLED, MLXC_DEFAULT_MODEL_SOURCE};
    if (running_from_build_tree()) {
        places[0] = MLXC_DEFAULT_MODEL_SOURCE;
        places[1] = MLXC_DEFAULT_MODEL_INSTALLED;
    }
    for (int i = 0; i < 2; i++) {
        char *cfg = mlxc_path_join(places[i], "config.json");
        int ok = cfg && mlxc_path_exists(cfg);
        free(cfg);
        if (ok)
            return strdup(places[i]);
    }
    mlxc_errf(e, MLXC_ENOTFOUND, "no model given and the default model is missing (looked in '%s' and '%s'): "
              "pass --model with a model folder", places[0], places[1]);
    return NULL;
}

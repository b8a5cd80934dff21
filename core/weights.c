#include "core/weights.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>

#include "core/sys.h"

static int add_file(struct mlxc_weights *w, const char *dir, const char *name, struct mlxc_err *e)
{
    for (size_t i = 0; i < w->nfiles; i++) { /* already open (several index entries name it) */
        const char *p = strrchr(w->files[i]->path, '/');
        if (strcmp(p ? p + 1 : w->files[i]->path, name) == 0)
            return 0;
    }
    if (strchr(name, '/') || strcmp(name, "..") == 0)
        return mlxc_errf(e, MLXC_EFORMAT, "shard name '%s' is not a plain file name", name);
    char *path = mlxc_path_join(dir, name);
    if (!path)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    struct mlxc_st_file **nf = realloc(w->files, (w->nfiles + 1) * sizeof *nf);
    if (!nf) {
        free(path);
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    }
    w->files = nf;
    int rc = mlxc_st_open(path, &w->files[w->nfiles], e);
    free(path);
    if (rc)
        return rc;
    struct mlxc_st_file *f = w->files[w->nfiles];
    for (size_t t = 0; t < f->ntensors; t++) {
        int64_t v = ((int64_t)w->nfiles << 32) | (int64_t)t;
        int added = mlxc_strmap_put(&w->by_name, f->tensors[t].name, strlen(f->tensors[t].name), v);
        if (added < 0)
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        if (added == 0)
            return mlxc_errf(e, MLXC_EFORMAT, "tensor '%s' appears in more than one shard (again in '%s')",
                             f->tensors[t].name, f->path);
        w->ntensors++;
    }
    w->nfiles++;
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Shards named by model.safetensors.index.json; every tensor it maps must be in the file it names. */
static int open_from_index(struct mlxc_weights *w, const char *dir, const char *index_path, struct mlxc_err *e)
{
    size_t len;
    char *text = mlxc_read_file(index_path, 64u << 20, &len, e);
    if (!text)
        return e->code;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *map = root ? cJSON_GetObjectItemCaseSensitive(root, "weight_map") : NULL;
    int rc = 0;
    if (!cJSON_IsObject(map)) {
        rc = mlxc_errf(e, MLXC_EFORMAT, "'%s' %s", index_path,
                       root ? "has no \"weight_map\" object" : "is not valid JSON");
        goto out;
    }
    for (const cJSON *m = map->child; m && !rc; m = m->next) {
        if (!cJSON_IsString(m)) {
            rc = mlxc_errf(e, MLXC_EFORMAT, "'%s': weight_map entry '%s' is not a file name", index_path, m->string);
            break;
        }
        rc = add_file(w, dir, m->valuestring, e);
    }
    for (const cJSON *m = map->child; m && !rc; m = m->next) {
        if (!mlxc_weights_get(w, m->string))
            rc = mlxc_errf(e, MLXC_EFORMAT, "'%s' lists tensor '%s' in '%s', which does not hold it", index_path,
                           m->string, m->valuestring);
    }
out:
    cJSON_Delete(root);
    return rc;
}

/* Every model*.safetensors in the folder, in name order. */
static int open_by_glob(struct mlxc_weights *w, const char *dir, struct mlxc_err *e)
{
    DIR *d = opendir(dir);
    if (!d)
        return mlxc_errf_sys(e, MLXC_EIO, "cannot open folder '%s'", dir);
    char **names = NULL;
    size_t n = 0;
    struct dirent *ent;
    int rc = 0;
    while ((ent = readdir(d))) {
        size_t l = strlen(ent->d_name);
        if (strncmp(ent->d_name, "model", 5) != 0 || l < 12 || strcmp(ent->d_name + l - 12, ".safetensors") != 0)
            continue;
        char **nn = realloc(names, (n + 1) * sizeof *nn);
        if (!nn || !(nn[n] = strdup(ent->d_name))) {
            names = nn ? nn : names;
            rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
            break;
        }
        names = nn;
        n++;
    }
    closedir(d);
    if (!rc && n == 0)
        rc = mlxc_errf(e, MLXC_ENOTFOUND, "no safetensors found in '%s'", dir);
    if (!rc)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n && !rc; i++)
        rc = add_file(w, dir, names[i], e);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

int mlxc_weights_open(const char *dir, struct mlxc_weights **out, struct mlxc_err *e)
{
    *out = NULL;
    struct mlxc_weights *w = calloc(1, sizeof *w);
    if (!w)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    mlxc_strmap_init(&w->by_name);
    char *index = mlxc_path_join(dir, "model.safetensors.index.json");
    int rc = !index ? mlxc_errf(e, MLXC_ENOMEM, "out of memory")
             : mlxc_path_exists(index) ? open_from_index(w, dir, index, e)
                                       : open_by_glob(w, dir, e);
    free(index);
    if (rc) {
        mlxc_weights_close(w);
        return rc;
    }
    *out = w;
    return 0;
}

void mlxc_weights_close(struct mlxc_weights *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->nfiles; i++)
        mlxc_st_close(w->files[i]);
    free(w->files);
    mlxc_strmap_free(&w->by_name);
    free(w);
}

const struct mlxc_tensor *mlxc_weights_get(const struct mlxc_weights *w, const char *name)
{
    int64_t v;
    if (!mlxc_strmap_get(&w->by_name, name, strlen(name), &v))
        return NULL;
    return &w->files[v >> 32]->tensors[v & 0xffffffff];
}

size_t mlxc_weights_nbytes(const struct mlxc_weights *w)
{
    size_t n = 0;
    for (size_t i = 0; i < w->nfiles; i++)
        for (size_t t = 0; t < w->files[i]->ntensors; t++)
            n += w->files[i]->tensors[t].nbytes;
    return n;
}

void mlxc_weights_willneed(const struct mlxc_weights *w)
{
    for (size_t i = 0; i < w->nfiles; i++)
        if (w->files[i]->map && w->files[i]->owns_map) /* advice only: failure changes nothing */
            madvise(w->files[i]->map, w->files[i]->map_size, MADV_WILLNEED);
}

int mlxc_weights_lock(const struct mlxc_weights *w, struct mlxc_err *e)
{
    for (size_t i = 0; i < w->nfiles; i++)
        if (w->files[i]->map && w->files[i]->owns_map && mlock(w->files[i]->map, w->files[i]->map_size))
            return mlxc_errf(e, MLXC_EIO, "%s: cannot lock %zu MB in memory: %s (ulimit -l)", w->files[i]->path,
                             w->files[i]->map_size >> 20, strerror(errno));
    return 0;
}

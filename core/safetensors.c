/* safetensors reader: validation before use, zero-copy views. See core/safetensors.h for the layout. */
#include "core/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/utf8.h"

#define MAX_EXACT_INT 9007199254740992.0 /* 2^53: JSON numbers above this are not exact in a double */

int64_t mlxc_tensor_numel(const struct mlxc_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

void mlxc_tensor_release(const struct mlxc_tensor *t)
{
    if (!t || t->nbytes == 0)
        return;
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t start = (uintptr_t)t->data & ~(uintptr_t)(page - 1);
    uintptr_t end = ((uintptr_t)t->data + t->nbytes + (uintptr_t)page - 1) & ~(uintptr_t)(page - 1);
    madvise((void *)start, end - start, MADV_DONTNEED); /* advice only: failure changes nothing */
}

const char *mlxc_shape_str(const int64_t *shape, int ndim, char *buf, size_t cap)
{
    size_t used = 0;
    used += (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < ndim && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (used < cap)
        snprintf(buf + used, cap - used, ndim == 1 ? ",)" : ")");
    return buf;
}

/* Reads a JSON number that must be an exact non-negative integer. */
static int json_uint(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v))
        return -1;
    double d = v->valuedouble;
    if (!(d >= 0) || d > MAX_EXACT_INT || d != (double)(uint64_t)d)
        return -1;
    *out = (uint64_t)d;
    return 0;
}

static int cmp_tensor_name(const void *a, const void *b)
{
    return strcmp(((const struct mlxc_tensor *)a)->name, ((const struct mlxc_tensor *)b)->name);
}

static int cmp_meta_key(const void *a, const void *b)
{
    return strcmp(((const struct mlxc_st_meta *)a)->key, ((const struct mlxc_st_meta *)b)->key);
}

static int cmp_tensor_ptr_by_offset(const void *a, const void *b)
{
    const struct mlxc_tensor *x = *(const struct mlxc_tensor *const *)a;
    const struct mlxc_tensor *y = *(const struct mlxc_tensor *const *)b;
    if (x->data != y->data)
        return (const char *)x->data < (const char *)y->data ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

static int cmp_cstr_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Rejects a JSON object that has the same key twice (cJSON keeps both silently). */
static int check_duplicate_keys(const cJSON *obj, struct mlxc_err *e)
{
    int n = cJSON_GetArraySize(obj);
    if (n < 2)
        return 0;
    const char **keys = malloc((size_t)n * sizeof *keys);
    if (!keys)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    int i = 0;
    for (const cJSON *c = obj->child; c; c = c->next)
        keys[i++] = c->string;
    qsort(keys, (size_t)n, sizeof *keys, cmp_cstr_ptr);
    int rc = 0;
    for (i = 1; i < n; i++) {
        if (strcmp(keys[i - 1], keys[i]) == 0) {
            rc = mlxc_errf(e, MLXC_EFORMAT, "header has the key '%s' twice", keys[i]);
            break;
        }
    }
    free(keys);
    return rc;
}

/* Total bytes of strings the parsed header needs (names, metadata keys and values, with NULs). */
static size_t strings_size(const cJSON *root)
{
    size_t n = 0;
    for (const cJSON *c = root->child; c; c = c->next) {
        n += strlen(c->string) + 1;
        if (strcmp(c->string, "__metadata__") == 0 && cJSON_IsObject(c)) {
            for (const cJSON *m = c->child; m; m = m->next)
                n += strlen(m->string) + 1 + (cJSON_IsString(m) ? strlen(m->valuestring) + 1 : 0);
        }
    }
    return n;
}

static char *copy_str(char **cursor, const char *s)
{
    size_t n = strlen(s) + 1;
    char *dst = *cursor;
    memcpy(dst, s, n);
    *cursor += n;
    return dst;
}

static int parse_metadata(struct mlxc_st_file *f, const cJSON *md, char **cursor, struct mlxc_err *e)
{
    if (!cJSON_IsObject(md))
        return mlxc_errf(e, MLXC_EFORMAT, "'__metadata__' is not an object");
    int rc = check_duplicate_keys(md, e);
    if (rc)
        return mlxc_err_ctx(e, "'__metadata__'");
    size_t n = (size_t)cJSON_GetArraySize(md);
    f->has_metadata = 1;
    f->meta = calloc(n ? n : 1, sizeof *f->meta);
    if (!f->meta)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    for (const cJSON *m = md->child; m; m = m->next) {
        if (!cJSON_IsString(m))
            return mlxc_errf(e, MLXC_EFORMAT, "'__metadata__' value of '%s' is not a string", m->string);
        f->meta[f->nmeta].key = copy_str(cursor, m->string);
        f->meta[f->nmeta].value = copy_str(cursor, m->valuestring);
        f->nmeta++;
    }
    qsort(f->meta, f->nmeta, sizeof *f->meta, cmp_meta_key);
    return 0;
}

static int parse_tensor(struct mlxc_tensor *t, const cJSON *v, const unsigned char *data, size_t data_size,
                        struct mlxc_err *e)
{
    if (!cJSON_IsObject(v))
        return mlxc_errf(e, MLXC_EFORMAT, "entry is not an object");
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(v, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(v, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(v, "data_offsets");
    if (!cJSON_IsString(dtype))
        return mlxc_errf(e, MLXC_EFORMAT, "missing or non-string 'dtype'");
    if (mlxc_dtype_parse(dtype->valuestring, strlen(dtype->valuestring), &t->dtype) != 0)
        return mlxc_errf(e, MLXC_EFORMAT, "unknown dtype '%s'", dtype->valuestring);
    if (!cJSON_IsArray(shape))
        return mlxc_errf(e, MLXC_EFORMAT, "missing or non-array 'shape'");
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > MLXC_MAX_DIMS)
        return mlxc_errf(e, MLXC_EFORMAT, "%d dimensions, more than the %d supported", ndim, MLXC_MAX_DIMS);
    t->ndim = ndim;
    uint64_t nbytes = mlxc_dtype_size(t->dtype);
    int i = 0;
    for (const cJSON *d = shape->child; d; d = d->next, i++) {
        uint64_t dim;
        if (json_uint(d, &dim) != 0)
            return mlxc_errf(e, MLXC_EFORMAT, "shape dimension %d is not a non-negative integer", i);
        t->shape[i] = (int64_t)dim;
        if (__builtin_mul_overflow(nbytes, dim, &nbytes))
            return mlxc_errf(e, MLXC_EFORMAT, "shape overflows 64 bits");
    }
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
        return mlxc_errf(e, MLXC_EFORMAT, "'data_offsets' is not a pair");
    uint64_t begin, end;
    if (json_uint(offs->child, &begin) != 0 || json_uint(offs->child->next, &end) != 0)
        return mlxc_errf(e, MLXC_EFORMAT, "'data_offsets' are not non-negative integers below 2^53");
    if (end < begin)
        return mlxc_errf(e, MLXC_EFORMAT, "'data_offsets' [%llu, %llu] end before they begin",
                         (unsigned long long)begin, (unsigned long long)end);
    char sbuf[160];
    if (end - begin != nbytes)
        return mlxc_errf(e, MLXC_EFORMAT, "shape %s of %s needs %llu bytes but 'data_offsets' span %llu",
                         mlxc_shape_str(t->shape, t->ndim, sbuf, sizeof sbuf), mlxc_dtype_name(t->dtype),
                         (unsigned long long)nbytes, (unsigned long long)(end - begin));
    if (end > data_size)
        return mlxc_errf(e, MLXC_EFORMAT,
                         "'data_offsets' [%llu, %llu] lie outside the %zu-byte data section",
                         (unsigned long long)begin, (unsigned long long)end, data_size);
    t->data = data + begin;
    t->nbytes = (size_t)nbytes;
    return 0;
}

/* Tensors sorted by offset must not overlap (zero-byte tensors overlap nothing). */
static int check_overlaps(const struct mlxc_st_file *f, struct mlxc_err *e)
{
    if (f->ntensors < 2)
        return 0;
    const struct mlxc_tensor **order = malloc(f->ntensors * sizeof *order);
    if (!order)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    for (size_t i = 0; i < f->ntensors; i++)
        order[i] = &f->tensors[i];
    qsort(order, f->ntensors, sizeof *order, cmp_tensor_ptr_by_offset);
    int rc = 0;
    const struct mlxc_tensor *prev = NULL;
    for (size_t i = 0; i < f->ntensors; i++) {
        const struct mlxc_tensor *t = order[i];
        if (t->nbytes == 0)
            continue;
        if (prev && (const char *)prev->data + prev->nbytes > (const char *)t->data) {
            rc = mlxc_errf(e, MLXC_EFORMAT, "tensors '%s' and '%s' overlap", prev->name, t->name);
            break;
        }
        prev = t;
    }
    free(order);
    return rc;
}

static int parse_header(struct mlxc_st_file *f, const unsigned char *buf, size_t size, struct mlxc_err *e)
{
    if (size < 8)
        return mlxc_errf(e, MLXC_EFORMAT, "file is too short (%zu bytes) to hold a safetensors header", size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | buf[i];
    if (hlen > MLXC_ST_MAX_HEADER)
        return mlxc_errf(e, MLXC_EFORMAT, "header length %llu exceeds the %u-byte limit",
                         (unsigned long long)hlen, MLXC_ST_MAX_HEADER);
    if (hlen > size - 8)
        return mlxc_errf(e, MLXC_EFORMAT, "header length %llu runs past the end of the file (%zu bytes)",
                         (unsigned long long)hlen, size);
    const char *hdr = (const char *)buf + 8;
    size_t valid = mlxc_utf8_valid_prefix(hdr, (size_t)hlen);
    if (valid != hlen)
        return mlxc_errf(e, MLXC_EFORMAT, "header is not valid UTF-8 (byte %zu)", valid);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, (size_t)hlen, &end, 0);
    if (!root) {
        size_t at = end && end >= hdr ? (size_t)(end - hdr) : 0;
        return mlxc_errf(e, MLXC_EFORMAT, "header is not valid JSON (near byte %zu)", at);
    }
    /* Whatever follows the JSON value inside the header must be padding whitespace. */
    for (const char *p = end; p < hdr + hlen; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' && *p != '\0') {
            cJSON_Delete(root);
            return mlxc_errf(e, MLXC_EFORMAT, "header has trailing bytes after the JSON (byte %zu)",
                             (size_t)(p - hdr));
        }
    }
    int rc = 0;
    if (!cJSON_IsObject(root)) {
        rc = mlxc_errf(e, MLXC_EFORMAT, "header is not a JSON object");
        goto out;
    }
    if ((rc = check_duplicate_keys(root, e)) != 0)
        goto out;
    f->data_start = 8 + (size_t)hlen;
    const unsigned char *data = buf + f->data_start;
    size_t data_size = size - f->data_start;
    size_t n = (size_t)cJSON_GetArraySize(root);
    f->tensors = calloc(n ? n : 1, sizeof *f->tensors);
    f->strings = malloc(strings_size(root) + 1);
    if (!f->tensors || !f->strings) {
        rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        goto out;
    }
    char *cursor = f->strings;
    for (const cJSON *c = root->child; c; c = c->next) {
        if (strcmp(c->string, "__metadata__") == 0) {
            if ((rc = parse_metadata(f, c, &cursor, e)) != 0)
                goto out;
            continue;
        }
        struct mlxc_tensor *t = &f->tensors[f->ntensors];
        t->name = copy_str(&cursor, c->string);
        if ((rc = parse_tensor(t, c, data, data_size, e)) != 0) {
            mlxc_err_ctx(e, "tensor '%s'", c->string);
            goto out;
        }
        f->ntensors++;
    }
    qsort(f->tensors, f->ntensors, sizeof *f->tensors, cmp_tensor_name);
    rc = check_overlaps(f, e);
out:
    cJSON_Delete(root);
    return rc;
}

int mlxc_st_parse(const void *buf, size_t size, const char *label, struct mlxc_st_file **out,
                  struct mlxc_err *e)
{
    *out = NULL;
    struct mlxc_st_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(label ? label : "<buffer>"))) {
        free(f);
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    }
    f->map = (void *)buf;
    f->map_size = size;
    int rc = parse_header(f, buf, size, e);
    if (rc) {
        mlxc_err_ctx(e, "'%s'", f->path);
        mlxc_st_close(f);
        return rc;
    }
    *out = f;
    return 0;
}

int mlxc_st_open(const char *path, struct mlxc_st_file **out, struct mlxc_err *e)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mlxc_errf_sys(e, errno == ENOENT ? MLXC_ENOTFOUND : MLXC_EIO, "cannot open '%s'", path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return mlxc_errf_sys(e, MLXC_EIO, "cannot stat '%s'", path);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return mlxc_errf(e, MLXC_EFORMAT, "'%s' is not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    void *map = NULL;
    if (size > 0) {
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            close(fd);
            return mlxc_errf_sys(e, MLXC_EIO, "cannot map '%s'", path);
        }
    }
    close(fd);
    int rc = mlxc_st_parse(map, size, path, out, e);
    if (rc) {
        if (map)
            munmap(map, size);
        return rc;
    }
    (*out)->owns_map = 1;
    return 0;
}

void mlxc_st_close(struct mlxc_st_file *f)
{
    if (!f)
        return;
    if (f->owns_map && f->map)
        munmap(f->map, f->map_size);
    free(f->tensors);
    free(f->meta);
    free(f->strings);
    free(f->path);
    free(f);
}

const struct mlxc_tensor *mlxc_st_find(const struct mlxc_st_file *f, const char *name)
{
    struct mlxc_tensor key = {.name = name};
    if (!f->ntensors) /* bsearch must not get a NULL array, even with no elements (C11 7.22.5) */
        return NULL;
    return bsearch(&key, f->tensors, f->ntensors, sizeof key, cmp_tensor_name);
}

const char *mlxc_st_meta_get(const struct mlxc_st_file *f, const char *key)
{
    struct mlxc_st_meta k = {.key = key};
    if (!f->nmeta)
        return NULL;
    const struct mlxc_st_meta *m = bsearch(&k, f->meta, f->nmeta, sizeof k, cmp_meta_key);
    return m ? m->value : NULL;
}

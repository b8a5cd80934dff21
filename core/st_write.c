/* Streaming safetensors writer: the header is built from the entries up front, then tensor bytes are
 * appended one tensor at a time, so a whole model never sits in memory. The file only appears under
 * its final name once complete (core/sys.h atomic files). */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/safetensors.h"
#include "core/sys.h"

struct mlxc_st_writer {
    struct mlxc_atomic_file af;
    uint64_t expected, written; /* data section bytes */
};

struct keyed {
    const char *key;
    size_t index;  /* entry index, or SIZE_MAX for __metadata__ */
};

static int cmp_keyed(const void *a, const void *b)
{
    return strcmp(((const struct keyed *)a)->key, ((const struct keyed *)b)->key);
}

static int cmp_meta(const void *a, const void *b)
{
    return strcmp(((const struct mlxc_st_meta *)a)->key, ((const struct mlxc_st_meta *)b)->key);
}

/* Builds the JSON header: keys sorted bytewise (as MLX's nlohmann::json dump), compact, padded with
 * spaces to a multiple of 8 bytes so the data section starts aligned. */
static int build_header(const struct mlxc_st_entry *entries, size_t n, const struct mlxc_st_meta *meta,
                        size_t nmeta, struct mlxc_buf *out, uint64_t *data_bytes, struct mlxc_err *e)
{
    struct keyed *keys = malloc((n + 1) * sizeof *keys);
    uint64_t *offsets = malloc((n + 1) * sizeof *offsets);
    struct mlxc_st_meta *msorted = malloc((nmeta + 1) * sizeof *msorted);
    int rc = 0;
    if (!keys || !offsets || !msorted) {
        rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        goto out;
    }
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        const struct mlxc_st_entry *t = &entries[i];
        if (strcmp(t->name, "__metadata__") == 0 || t->ndim < 0 || t->ndim > MLXC_MAX_DIMS ||
            (unsigned)t->dtype >= MLXC_DTYPE_COUNT) {
            rc = mlxc_errf(e, MLXC_EINVAL, "tensor '%s' cannot be written (bad name, rank or dtype)", t->name);
            goto out;
        }
        uint64_t nbytes = mlxc_dtype_size(t->dtype);
        for (int d = 0; d < t->ndim; d++) {
            if (t->shape[d] < 0 || __builtin_mul_overflow(nbytes, (uint64_t)t->shape[d], &nbytes)) {
                rc = mlxc_errf(e, MLXC_EINVAL, "tensor '%s' has a bad shape", t->name);
                goto out;
            }
        }
        offsets[i] = off;
        if (__builtin_add_overflow(off, nbytes, &off)) {
            rc = mlxc_errf(e, MLXC_EINVAL, "tensors exceed 2^64 bytes");
            goto out;
        }
        keys[i] = (struct keyed){t->name, i};
    }
    offsets[n] = off;
    *data_bytes = off;
    keys[n] = (struct keyed){"__metadata__", (size_t)-1};
    qsort(keys, n + 1, sizeof *keys, cmp_keyed);
    for (size_t i = 1; i <= n; i++) {
        if (strcmp(keys[i - 1].key, keys[i].key) == 0) {
            rc = mlxc_errf(e, MLXC_EINVAL, "tensor '%s' is listed twice", keys[i].key);
            goto out;
        }
    }
    if (nmeta)
        memcpy(msorted, meta, nmeta * sizeof *meta);
    qsort(msorted, nmeta, sizeof *msorted, cmp_meta);

    mlxc_buf_putc(out, '{');
    for (size_t k = 0; k <= n; k++) {
        if (k)
            mlxc_buf_putc(out, ',');
        mlxc_buf_json_str(out, keys[k].key, strlen(keys[k].key));
        mlxc_buf_putc(out, ':');
        if (keys[k].index == (size_t)-1) {
            mlxc_buf_putc(out, '{');
            for (size_t m = 0; m < nmeta; m++) {
                if (m)
                    mlxc_buf_putc(out, ',');
                mlxc_buf_json_str(out, msorted[m].key, strlen(msorted[m].key));
                mlxc_buf_putc(out, ':');
                mlxc_buf_json_str(out, msorted[m].value, strlen(msorted[m].value));
            }
            mlxc_buf_putc(out, '}');
            continue;
        }
        size_t i = keys[k].index;
        const struct mlxc_st_entry *t = &entries[i];
        uint64_t end = i + 1 < n ? offsets[i + 1] : offsets[n];
        mlxc_buf_printf(out, "{\"data_offsets\":[%llu,%llu],\"dtype\":\"%s\",\"shape\":[",
                        (unsigned long long)offsets[i], (unsigned long long)end, mlxc_dtype_name(t->dtype));
        for (int d = 0; d < t->ndim; d++)
            mlxc_buf_printf(out, d ? ",%lld" : "%lld", (long long)t->shape[d]);
        mlxc_buf_puts(out, "]}");
    }
    mlxc_buf_putc(out, '}');
    while (out->len % 8)
        mlxc_buf_putc(out, ' ');
    if (out->oom)
        rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
out:
    free(keys);
    free(offsets);
    free(msorted);
    return rc;
}

int mlxc_stw_open(const char *path, const struct mlxc_st_entry *entries, size_t n,
                  const struct mlxc_st_meta *meta, size_t nmeta, struct mlxc_st_writer **out,
                  struct mlxc_err *e)
{
    *out = NULL;
    struct mlxc_buf hdr = MLXC_BUF_INIT;
    uint64_t data_bytes = 0;
    int rc = build_header(entries, n, meta, nmeta, &hdr, &data_bytes, e);
    if (rc) {
        mlxc_buf_free(&hdr);
        return mlxc_err_ctx(e, "writing '%s'", path);
    }
    struct mlxc_st_writer *w = calloc(1, sizeof *w);
    if (!w) {
        mlxc_buf_free(&hdr);
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    }
    if ((rc = mlxc_atomic_open(&w->af, path, e)) != 0) {
        mlxc_buf_free(&hdr);
        free(w);
        return rc;
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)((uint64_t)hdr.len >> (8 * i));
    if (fwrite(len8, 1, 8, w->af.f) != 8 || fwrite(hdr.data, 1, hdr.len, w->af.f) != hdr.len) {
        rc = mlxc_errf_sys(e, MLXC_EIO, "cannot write '%s'", path);
        mlxc_buf_free(&hdr);
        mlxc_stw_abort(w);
        return rc;
    }
    mlxc_buf_free(&hdr);
    w->expected = data_bytes;
    *out = w;
    return 0;
}

int mlxc_stw_write(struct mlxc_st_writer *w, const void *data, size_t nbytes, struct mlxc_err *e)
{
    if (w->written + nbytes > w->expected)
        return mlxc_errf(e, MLXC_EINVAL, "writing '%s': more tensor bytes than the header declares",
                         w->af.final_path);
    if (nbytes && fwrite(data, 1, nbytes, w->af.f) != nbytes)
        return mlxc_errf_sys(e, MLXC_EIO, "cannot write '%s'", w->af.final_path);
    w->written += nbytes;
    return 0;
}

int mlxc_stw_close(struct mlxc_st_writer *w, struct mlxc_err *e)
{
    int rc;
    if (w->written != w->expected) {
        rc = mlxc_errf(e, MLXC_EINVAL, "writing '%s': %llu of %llu tensor bytes were written",
                       w->af.final_path, (unsigned long long)w->written, (unsigned long long)w->expected);
        mlxc_stw_abort(w);
        return rc;
    }
    rc = mlxc_atomic_commit(&w->af, e);
    free(w);
    return rc;
}

void mlxc_stw_abort(struct mlxc_st_writer *w)
{
    if (!w)
        return;
    mlxc_atomic_abort(&w->af);
    free(w);
}

/* safetensors files: a validated, zero-copy reader over mmap, and a streaming atomic writer.
 *
 * Layout: u64 little-endian header length N, N bytes of UTF-8 JSON, then the data section. The JSON maps
 * tensor names to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the data section)
 * and may hold "__metadata__", a map of strings to strings.
 *
 * Tensor data pointers point into the mapping and are NOT necessarily aligned to their element size:
 * readers use memcpy or unaligned loads. */
#ifndef MLXC_SAFETENSORS_H
#define MLXC_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/dtype.h"
#include "core/err.h"

#define MLXC_MAX_DIMS 8
#define MLXC_ST_MAX_HEADER (100u * 1000u * 1000u) /* 100 MB, as the Rust safetensors crate */

struct mlxc_tensor {
    const char *name;            /* owned by the file it came from */
    enum mlxc_dtype dtype;
    int ndim;
    int64_t shape[MLXC_MAX_DIMS];
    const void *data;            /* into the mapping, read-only, possibly unaligned */
    size_t nbytes;
};

struct mlxc_st_meta {
    const char *key, *value;
};

struct mlxc_st_file {
    char *path;
    void *map;                   /* whole file (NULL for an empty buffer) */
    size_t map_size;
    int owns_map;                /* 1 when opened from a path (munmap on close) */
    size_t data_start;           /* 8 + header length */
    struct mlxc_tensor *tensors; /* sorted by name */
    size_t ntensors;
    struct mlxc_st_meta *meta;   /* __metadata__, sorted by key; nmeta == 0 when absent */
    size_t nmeta;
    int has_metadata;            /* 1 when the header had a __metadata__ object */
    char *strings;               /* storage for names, keys and values */
};

/* Maps and validates a file; *out is owned by the caller (mlxc_st_close). Errors name the file. */
int mlxc_st_open(const char *path, struct mlxc_st_file **out, struct mlxc_err *e);

/* Validates a file already in memory (buf stays owned by the caller and must outlive *out).
 * `label` names it in errors. */
int mlxc_st_parse(const void *buf, size_t size, const char *label, struct mlxc_st_file **out,
                  struct mlxc_err *e);

void mlxc_st_close(struct mlxc_st_file *f);

/* The tensor with this name, or NULL. */
const struct mlxc_tensor *mlxc_st_find(const struct mlxc_st_file *f, const char *name);

/* The __metadata__ value for key, or NULL. */
const char *mlxc_st_meta_get(const struct mlxc_st_file *f, const char *key);

/* Number of elements (product of the shape). */
int64_t mlxc_tensor_numel(const struct mlxc_tensor *t);

/* Drops the tensor's pages from this process's memory (they are read again from the file if touched):
 * streaming tools call it once a tensor is done, so peak RSS stays near one tensor, not the file. */
void mlxc_tensor_release(const struct mlxc_tensor *t);

/* Formats a shape as "(2, 3)" into buf. */
const char *mlxc_shape_str(const int64_t *shape, int ndim, char *buf, size_t cap);

/* ---- writer ---- */

/* What a tensor will be: its data is streamed later with mlxc_stw_write, in this order. */
struct mlxc_st_entry {
    const char *name;
    enum mlxc_dtype dtype;
    int ndim;
    int64_t shape[MLXC_MAX_DIMS];
};

struct mlxc_st_writer;

/* Starts writing path atomically (a temporary file beside it, renamed by mlxc_stw_close). The header
 * lists the entries with keys sorted bytewise, __metadata__ always present (meta may be NULL when
 * nmeta is 0); data follows in the order of `entries`. */
int mlxc_stw_open(const char *path, const struct mlxc_st_entry *entries, size_t n,
                  const struct mlxc_st_meta *meta, size_t nmeta, struct mlxc_st_writer **out,
                  struct mlxc_err *e);

/* Appends raw bytes of the tensors, in entry order; may be called any number of times per tensor. */
int mlxc_stw_write(struct mlxc_st_writer *w, const void *data, size_t nbytes, struct mlxc_err *e);

/* Checks that every byte was written, syncs and renames into place. Frees w in every case. */
int mlxc_stw_close(struct mlxc_st_writer *w, struct mlxc_err *e);

/* Drops the temporary file; the final path is untouched. Frees w. */
void mlxc_stw_abort(struct mlxc_st_writer *w);

#endif

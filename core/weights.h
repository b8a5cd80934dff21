/* All tensors of a model folder, across shards: model.safetensors, or the shards listed by
 * model.safetensors.index.json, or every model*.safetensors (as mlx_lm's load_model globs them).
 * Tensor views point into the mapped files and live until mlxc_weights_close. */
#ifndef MLXC_WEIGHTS_H
#define MLXC_WEIGHTS_H

#include "core/err.h"
#include "core/safetensors.h"
#include "core/strmap.h"

struct mlxc_weights {
    struct mlxc_st_file **files;
    size_t nfiles;
    struct mlxc_strmap by_name; /* tensor name -> (file index << 32) | tensor index */
    size_t ntensors;
};

int mlxc_weights_open(const char *dir, struct mlxc_weights **out, struct mlxc_err *e);
void mlxc_weights_close(struct mlxc_weights *w);

/* The tensor named `name`, or NULL. */
const struct mlxc_tensor *mlxc_weights_get(const struct mlxc_weights *w, const char *name);

/* Total bytes of tensor data (what decode reads per token, roughly). */
size_t mlxc_weights_nbytes(const struct mlxc_weights *w);
/* Asks the kernel to start reading every file in (MADV_WILLNEED): loading overlaps the first prefill
 * instead of faulting page by page. */
void mlxc_weights_willneed(const struct mlxc_weights *w);
/* Locks every mapped file in memory (mlock: read in now, never reclaimed while open), as mlx_lm wires a
 * model's memory on Metal: for benchmarks on machines that reclaim page cache even from files in use.
 * Needs RLIMIT_MEMLOCK above the model's size (or CAP_IPC_LOCK); the error names the file. */
int mlxc_weights_lock(const struct mlxc_weights *w, struct mlxc_err *e);

#endif

/* Small system helpers: aligned memory, clocks, peak memory, whole-file reads, atomic file writes. */
#ifndef MLXC_SYS_H
#define MLXC_SYS_H

#include <stdint.h>
#include <stdio.h>
#include <stddef.h>

#include "core/err.h"

/* 64-byte aligned allocation (cache line and AVX-512 friendly); NULL on failure or size overflow.
 * Free with mlxc_free_aligned. */
void *mlxc_alloc_aligned(size_t nbytes);
void mlxc_free_aligned(void *p);

/* The slots of mlxc_thread_scratch, one per use that must not share a buffer with another live one. */
enum mlxc_scratch_slot {
    MLXC_SCRATCH_TILE,      /* core/linear.c: f32 rows of weights (SGEMM tiles, rows dequantized for AMX) */
    MLXC_SCRATCH_PANEL,     /* core/linear.c: a panel of weights (AMX bf16, or f32 for core/gemm.h) */
    MLXC_SCRATCH_ACT,       /* core/linear.c: the AMX activations, in the thread that runs the product */
    MLXC_SCRATCH_ATTENTION, /* core/attention.c: the keys and values re-laid for AMX tiles */
    MLXC_SCRATCH_QACT,      /* quant/: activations quantized once per product, read by every thread */
    MLXC_SCRATCH_QACT_ROWS, /* quant/: activations quantized by one thread for its own rows */
    MLXC_SCRATCH_SLOTS
};

/* A 64-byte aligned buffer of at least nbytes kept for this thread in `slot` between calls: it only grows,
 * holds garbage, stays valid until this thread asks for the same slot again, and is freed when the thread
 * ends. NULL without memory (the old buffer is then freed). Prefill products take megabytes per call;
 * fresh ones each time cost page faults (4% of a 512-token prefill). */
void *mlxc_thread_scratch(enum mlxc_scratch_slot slot, size_t nbytes);

/* Checked size arithmetic: return 0 and store the result, or -1 on overflow. */
int mlxc_mul_size(size_t a, size_t b, size_t *out);
int mlxc_add_size(size_t a, size_t b, size_t *out);

/* Monotonic time in seconds. */
double mlxc_now(void);

/* Peak resident set size of this process in bytes (getrusage ru_maxrss). */
uint64_t mlxc_peak_rss(void);

/* Reads a whole file into a new NUL-terminated buffer (caller frees). Files over max_bytes are refused.
 * *len receives the byte count without the NUL. */
char *mlxc_read_file(const char *path, size_t max_bytes, size_t *len, struct mlxc_err *e);

/* Reads all of a stream (e.g. stdin) into a new NUL-terminated buffer. */
char *mlxc_read_stream(FILE *f, size_t max_bytes, size_t *len, struct mlxc_err *e);

/* 1 if path exists (any type), 0 otherwise; mlxc_is_dir says whether it is a directory. */
int mlxc_path_exists(const char *path);
int mlxc_is_dir(const char *path);

/* Joins a directory and a name with one '/' into a new string (caller frees); NULL on OOM. */
char *mlxc_path_join(const char *dir, const char *name);

/* ---- atomic writes: a crash leaves the old file or the new one, never a half-written one ---- */

struct mlxc_atomic_file {
    FILE *f;          /* write here */
    char *final_path; /* where the file goes on commit */
    char *tmp_path;   /* "<dir>/.<name>.tmp-<pid>-XXXXXX", same filesystem as final_path */
};

/* Temporary names beside a target: "<dir>/.<name>.tmp-<pid>-XXXXXX" (a template for mkstemp or
 * mkdtemp; malloc'd, NULL when out of memory). The pid tells a later writer of the same target whose
 * temporary it is. */
char *mlxc_tmp_template(const char *target);

/* Removes what writers of `target` that were killed left beside it: the entries named
 * ".<name>.tmp-<pid>-XXXXXX" (exactly that pattern) that belong to this user and whose process no
 * longer exists on this machine (kill(pid, 0) fails with ESRCH), files or folders holding only files.
 * Anything else, a live process's temporary included, is left alone. Returns how many were removed. */
int mlxc_remove_stale_tmps(const char *target);

/* Creates the temporary file beside final_path (after removing stale temporaries of final_path). */
int mlxc_atomic_open(struct mlxc_atomic_file *af, const char *final_path, struct mlxc_err *e);
/* Flushes, fsyncs, renames over final_path and fsyncs the directory. Closes af in every case. */
int mlxc_atomic_commit(struct mlxc_atomic_file *af, struct mlxc_err *e);
/* Closes and removes the temporary file (safe to call after a failed commit or twice). */
void mlxc_atomic_abort(struct mlxc_atomic_file *af);

/* fsyncs a directory so a rename inside it is durable. */
int mlxc_fsync_dir(const char *dir, struct mlxc_err *e);

#endif

/* Errors that travel up with context.
 *
 * Library functions return 0 (or a valid pointer) on success and a negative MLXC_E* code (or NULL) on
 * failure, after filling a caller-owned struct mlxc_err. Each layer may prepend its own context with
 * mlxc_err_ctx(), so the message a program prints reads from the outside in:
 *   "loading 'model.safetensors': tensor 'lm_head.weight': shape (10, 4) does not match 12 bytes"
 * The library never prints and never exits; only cmd/ turns an error into output and an exit status.
 * Messages follow git's guidelines: lowercase, no full stop, the failure first, names in quotes. A message
 * is always one line: control bytes in it (a tensor name with a newline, say) are written as escapes. */
#ifndef MLXC_ERR_H
#define MLXC_ERR_H

#include <stddef.h>

enum {
    MLXC_OK = 0,
    MLXC_EIO = -1,      /* a system call failed (open, read, mmap, write, rename) */
    MLXC_EFORMAT = -2,  /* a file is malformed: bad header, bad JSON, wrong shape */
    MLXC_ENOMEM = -3,   /* an allocation failed or a size is beyond limits */
    MLXC_EINVAL = -4,   /* a caller passed a bad argument or option value */
    MLXC_ENOTFOUND = -5,/* a file, tensor, key or token does not exist */
    MLXC_EUNSUP = -6,   /* valid input this build does not support (unknown architecture, dtype) */
    MLXC_EINTR = -7,    /* interrupted by the user (SIGINT) */
};

#define MLXC_ERR_MAX 1024

struct mlxc_err {
    int code;                 /* one of the MLXC_E* values, 0 when no error was set */
    char msg[MLXC_ERR_MAX];   /* NUL-terminated, possibly truncated message */
};

/* Sets e (when not NULL) to code and a printf-formatted message; returns code so a caller can write
 * `return mlxc_errf(e, MLXC_EFORMAT, "...")`. */
int mlxc_errf(struct mlxc_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Like mlxc_errf, appending ": strerror(errno)" (errno is read on entry). */
int mlxc_errf_sys(struct mlxc_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prepends "<context>: " to the message already in e and returns e->code. */
int mlxc_err_ctx(struct mlxc_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears e. */
void mlxc_err_clear(struct mlxc_err *e);

#endif

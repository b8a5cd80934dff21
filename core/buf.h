/* A growable byte buffer (always NUL-terminated when non-empty), with JSON string escaping.
 * Initialise with MLXC_BUF_INIT or zeroes; release with mlxc_buf_free. An allocation failure makes the
 * buffer sticky-failed (oom = 1): later appends do nothing, so callers check once at the end. */
#ifndef MLXC_BUF_H
#define MLXC_BUF_H

#include <stddef.h>

struct mlxc_buf {
    char *data;
    size_t len, cap;
    int oom;
};

#define MLXC_BUF_INIT {0}

void mlxc_buf_free(struct mlxc_buf *b);
void mlxc_buf_reset(struct mlxc_buf *b); /* len = 0, keeps the memory */
int mlxc_buf_reserve(struct mlxc_buf *b, size_t extra);
void mlxc_buf_append(struct mlxc_buf *b, const void *p, size_t n);
void mlxc_buf_puts(struct mlxc_buf *b, const char *s);
void mlxc_buf_putc(struct mlxc_buf *b, char c);
void mlxc_buf_printf(struct mlxc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One byte below 0x80 as JSON string content: '"' and '\\' escaped, control bytes as their short
 * escape or a backslash-u escape, the rest as they are. */
void mlxc_buf_json_char(struct mlxc_buf *b, unsigned char c);
/* Appends s[0..n) as a quoted JSON string: '"', '\\' and control characters escaped, other bytes
 * (UTF-8) kept as they are. */
void mlxc_buf_json_str(struct mlxc_buf *b, const char *s, size_t n);
/* Takes the data out (caller frees; "" when empty) and resets b. NULL if the buffer failed. */
char *mlxc_buf_take(struct mlxc_buf *b);

#endif

#include "core/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mlxc_buf_free(struct mlxc_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void mlxc_buf_reset(struct mlxc_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int mlxc_buf_reserve(struct mlxc_buf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) {
        if (cap > ((size_t)-1) / 2) {
            b->oom = 1;
            return -1;
        }
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void mlxc_buf_append(struct mlxc_buf *b, const void *p, size_t n)
{
    if (mlxc_buf_reserve(b, n) != 0)
        return;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void mlxc_buf_puts(struct mlxc_buf *b, const char *s) { mlxc_buf_append(b, s, strlen(s)); }

void mlxc_buf_putc(struct mlxc_buf *b, char c) { mlxc_buf_append(b, &c, 1); }

void mlxc_buf_printf(struct mlxc_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || mlxc_buf_reserve(b, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void mlxc_buf_json_char(struct mlxc_buf *b, unsigned char c)
{
    switch (c) {
    case '"': mlxc_buf_puts(b, "\\\""); break;
    case '\\': mlxc_buf_puts(b, "\\\\"); break;
    case '\n': mlxc_buf_puts(b, "\\n"); break;
    case '\r': mlxc_buf_puts(b, "\\r"); break;
    case '\t': mlxc_buf_puts(b, "\\t"); break;
    case '\b': mlxc_buf_puts(b, "\\b"); break;
    case '\f': mlxc_buf_puts(b, "\\f"); break;
    default:
        if (c < 0x20)
            mlxc_buf_printf(b, "\\u%04x", c);
        else
            mlxc_buf_putc(b, (char)c);
    }
}

void mlxc_buf_json_str(struct mlxc_buf *b, const char *s, size_t n)
{
    mlxc_buf_putc(b, '"');
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        mlxc_buf_append(b, s + start, i - start);
        start = i + 1;
        mlxc_buf_json_char(b, c);
    }
    mlxc_buf_append(b, s + start, n - start);
    mlxc_buf_putc(b, '"');
}

char *mlxc_buf_take(struct mlxc_buf *b)
{
    if (b->oom) {
        mlxc_buf_free(b);
        return NULL;
    }
    char *p = b->data ? b->data : strdup("");
    memset(b, 0, sizeof *b);
    return p;
}

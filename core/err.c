#include "core/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Keeps a message on one line whatever names from a file it quotes: control bytes become escapes
 * ("\n", "\t", "\r", "\x1b"), truncated to cap bytes with the NUL. */
static void one_line(char *s, size_t cap)
{
    size_t n = strlen(s), ctl = 0;
    for (size_t i = 0; i < n; i++)
        ctl += (unsigned char)s[i] < 0x20 || s[i] == 0x7f;
    if (!ctl)
        return;
    char tmp[MLXC_ERR_MAX * 4];
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < sizeof tmp; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n' || c == '\t' || c == '\r') {
            tmp[o++] = '\\';
            tmp[o++] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(tmp + o, 5, "\\x%02x", c);
        } else {
            tmp[o++] = (char)c;
        }
    }
    if (o > cap - 1)
        o = cap - 1;
    memcpy(s, tmp, o);
    s[o] = '\0';
}

static void vset(struct mlxc_err *e, int code, const char *fmt, va_list ap)
{
    e->code = code;
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    one_line(e->msg, sizeof e->msg);
}

int mlxc_errf(struct mlxc_err *e, int code, const char *fmt, ...)
{
    if (!e)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vset(e, code, fmt, ap);
    va_end(ap);
    return code;
}

int mlxc_errf_sys(struct mlxc_err *e, int code, const char *fmt, ...)
{
    int saved = errno;
    if (!e)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vset(e, code, fmt, ap);
    va_end(ap);
    size_t n = strlen(e->msg);
    snprintf(e->msg + n, sizeof e->msg - n, ": %s", strerror(saved));
    one_line(e->msg, sizeof e->msg);
    return code;
}

int mlxc_err_ctx(struct mlxc_err *e, const char *fmt, ...)
{
    if (!e)
        return MLXC_EINVAL;
    char ctx[MLXC_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    one_line(ctx, sizeof ctx);
    /* new message = ctx + ": " + old message, truncated to fit */
    size_t clen = strlen(ctx), olen = strnlen(e->msg, sizeof e->msg - 1);
    if (clen > sizeof e->msg - 3)
        clen = sizeof e->msg - 3;
    size_t keep = sizeof e->msg - 3 - clen;
    if (olen > keep)
        olen = keep;
    memmove(e->msg + clen + 2, e->msg, olen);
    memcpy(e->msg, ctx, clen);
    e->msg[clen] = ':';
    e->msg[clen + 1] = ' ';
    e->msg[clen + 2 + olen] = '\0';
    return e->code;
}

void mlxc_err_clear(struct mlxc_err *e)
{
    if (e) {
        e->code = 0;
        e->msg[0] = '\0';
    }
}

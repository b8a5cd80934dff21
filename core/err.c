#include "core/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void vset(struct mlxc_err *e, int code, const char *fmt, va_list ap)
{
    e->code = code;
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
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

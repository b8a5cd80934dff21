/* Normalizers (HF tokenizers/src/normalizers): NFC, NFD, NFKC, NFKD (utf8proc), Lowercase, Strip, Replace,
 * Prepend; a Sequence is flattened into steps at load. Offsets are not tracked: mlxc needs only ids. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/utf8.h"
#include "tokenizer/tok_impl.h"

static int unicode_form(enum tok_norm_type type, const char *s, size_t n, struct mlxc_buf *out,
                        struct mlxc_err *e)
{
    int opts = UTF8PROC_STABLE;
    switch (type) {
    case NORM_NFC: opts |= UTF8PROC_COMPOSE; break;
    case NORM_NFD: opts |= UTF8PROC_DECOMPOSE; break;
    case NORM_NFKC: opts |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
    default: opts |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
    }
    if (n == 0)
        return 0;
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t k = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &dst, opts);
    if (k < 0)
        return mlxc_errf(e, MLXC_EINVAL, "unicode normalization failed: %s", utf8proc_errmsg(k));
    mlxc_buf_append(out, dst, (size_t)k);
    free(dst);
    return 0;
}

/* Rust's char::to_lowercase per character: the simple mapping, plus U+0130's two-character one. */
static void lowercase(const char *s, size_t n, struct mlxc_buf *out)
{
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int k = tok_cp(s, n, i, &cp);
        if (cp < 0x80) {
            mlxc_buf_putc(out, (char)(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp));
        } else if (cp == 0x130) {
            mlxc_buf_puts(out, "i\xcc\x87");
        } else {
            char u[4];
            int m = mlxc_utf8_encode((uint32_t)utf8proc_tolower((utf8proc_int32_t)cp), u);
            mlxc_buf_append(out, u, (size_t)m);
        }
        i += (size_t)k;
    }
}

/* Returns the number of bytes stripped on the left. */
static size_t strip(const struct tok_norm *st, const char *s, size_t n, struct mlxc_buf *out)
{
    size_t a = 0, b = n;
    uint32_t cp;
    if (st->left)
        while (a < b) {
            int k = tok_cp(s, n, a, &cp);
            if (!tok_is_whitespace(cp))
                break;
            a += (size_t)k;
        }
    if (st->right)
        while (b > a) {
            size_t p = tok_prev_cp(s, b);
            tok_cp(s, n, p, &cp);
            if (!tok_is_whitespace(cp))
                break;
            b = p;
        }
    mlxc_buf_append(out, s + a, b - a);
    return a;
}

static int replace(const struct tok_norm *st, struct tok_match *m, const char *s, size_t n, struct mlxc_buf *out,
                   struct mlxc_err *e)
{
    size_t pos = 0, ms, me;
    for (;;) {
        int rc = tok_pat_find(&st->pat, m, s, n, pos, &ms, &me, e);
        if (rc < 0)
            return rc;
        if (rc == 0)
            break;
        mlxc_buf_append(out, s + pos, ms - pos);
        mlxc_buf_append(out, st->content, st->content_len);
        if (me == ms) { /* empty match: keep one character and go on after it */
            if (ms >= n) {
                pos = n;
                break;
            }
            uint32_t cp;
            size_t k = (size_t)tok_cp(s, n, ms, &cp);
            mlxc_buf_append(out, s + ms, k);
            me = ms + k;
        }
        pos = me;
    }
    mlxc_buf_append(out, s + pos, n - pos);
    return 0;
}

int tok_replace(const struct tok_norm *st, struct tok_match *m, const char *s, size_t n, struct mlxc_buf *out,
                struct mlxc_err *e)
{
    return replace(st, m, s, n, out, e);
}

/* The zero-aligned prefix after one step (see tok_normalize): the step applied to that prefix alone,
 * except that a composition joining the prefix to what follows makes the joined character the prefix. */
static int step_zero(const struct tok_norm *st, struct tok_match *m, const char *cur, size_t zero,
                     const char *outp, size_t out_n, size_t stripped, size_t *nz, struct mlxc_err *e)
{
    if (zero == 0) {
        *nz = 0;
        return 0;
    }
    if (st->type == NORM_STRIP) {
        *nz = zero > stripped ? zero - stripped : 0;
        return 0;
    }
    if (st->type == NORM_PREPEND) {
        *nz = zero + st->content_len;
        return 0;
    }
    *nz = 0;
    struct mlxc_buf p = MLXC_BUF_INIT;
    int rc = tok_normalize(st, 1, m, cur, zero, &p, NULL, e);
    if (rc) {
        mlxc_buf_free(&p);
        return rc;
    }
    if (p.len <= out_n && (p.len == 0 || memcmp(p.data, outp, p.len) == 0)) {
        *nz = p.len;
    } else if (out_n > 0) {
        uint32_t cp;
        *nz = (size_t)tok_cp(outp, out_n, 0, &cp);
    }
    mlxc_buf_free(&p);
    return 0;
}

int tok_normalize(const struct tok_norm *steps, size_t nsteps, struct tok_match *m, const char *s, size_t n,
                  struct mlxc_buf *out, size_t *zero, struct mlxc_err *e)
{
    struct mlxc_buf a = MLXC_BUF_INIT, b = MLXC_BUF_INIT;
    const char *cur = s;
    size_t cur_n = n;
    int rc = 0;
    for (size_t i = 0; i < nsteps && rc == 0; i++) {
        const struct tok_norm *st = &steps[i];
        struct mlxc_buf *dst = (i & 1) ? &b : &a;
        size_t stripped = 0;
        mlxc_buf_reset(dst);
        switch (st->type) {
        case NORM_NFC:
        case NORM_NFD:
        case NORM_NFKC:
        case NORM_NFKD: rc = unicode_form(st->type, cur, cur_n, dst, e); break;
        case NORM_LOWER: lowercase(cur, cur_n, dst); break;
        case NORM_STRIP: stripped = strip(st, cur, cur_n, dst); break;
        case NORM_REPLACE: rc = replace(st, m, cur, cur_n, dst, e); break;
        case NORM_PREPEND:
            if (cur_n > 0)
                mlxc_buf_append(dst, st->content, st->content_len);
            mlxc_buf_append(dst, cur, cur_n);
            break;
        }
        if (dst->oom)
            rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        if (rc == 0 && zero)
            rc = step_zero(st, m, cur, *zero, dst->data, dst->len, stripped, zero, e);
        cur = dst->data ? dst->data : "";
        cur_n = dst->len;
    }
    if (rc == 0)
        mlxc_buf_append(out, cur, cur_n);
    mlxc_buf_free(&a);
    mlxc_buf_free(&b);
    return rc;
}

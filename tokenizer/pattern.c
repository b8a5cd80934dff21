/* Patterns (literal strings and PCRE2 regexes) and the Unicode character classes the pipeline needs.
 *
 * HF tokenizers compiles its regexes with Oniguruma; PCRE2 in UTF + UCP mode reads the same patterns the
 * same way, except that Oniguruma's Unicode `\s` is the White_Space property (U+0009..U+000D, U+0085 and
 * the Z categories) while PCRE2's lacks U+0085: `\s` and `\S` are rewritten to that set. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/utf8.h"
#include "tokenizer/tok_impl.h"

#define WS_CLASS "\\t-\\r\\x{85}\\p{Z}"

/* Rewrites \s and \S (outside and inside [...] classes) to Oniguruma's White_Space set. */
static char *rewrite_regex(const char *pat)
{
    struct mlxc_buf b = MLXC_BUF_INIT;
    int in_class = 0;
    for (size_t i = 0; pat[i]; i++) {
        char c = pat[i];
        if (c == '\\' && pat[i + 1]) {
            char d = pat[i + 1];
            if (d == 's')
                mlxc_buf_puts(&b, in_class ? WS_CLASS : "[" WS_CLASS "]");
            else if (d == 'S' && !in_class)
                mlxc_buf_puts(&b, "[^" WS_CLASS "]");
            else
                mlxc_buf_append(&b, pat + i, 2);
            i++;
            continue;
        }
        if (c == '[' && !in_class) {
            in_class = 1;
            mlxc_buf_putc(&b, c);
            /* a ']' right after '[' or '[^' is a literal */
            if (pat[i + 1] == '^') {
                mlxc_buf_putc(&b, '^');
                i++;
            }
            if (pat[i + 1] == ']') {
                mlxc_buf_putc(&b, ']');
                i++;
            }
            continue;
        }
        if (c == ']' && in_class)
            in_class = 0;
        mlxc_buf_putc(&b, c);
    }
    return mlxc_buf_take(&b);
}

int tok_pat_regex(struct tok_pat *p, const char *pat, struct mlxc_err *e)
{
    memset(p, 0, sizeof *p);
    char *rw = rewrite_regex(pat);
    if (!rw)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    int err;
    PCRE2_SIZE off;
    p->re = pcre2_compile((PCRE2_SPTR)rw, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &err, &off, NULL);
    free(rw);
    if (!p->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return mlxc_errf(e, MLXC_EFORMAT, "bad regex '%s': %s at offset %zu", pat, (const char *)msg,
                         (size_t)off);
    }
    pcre2_jit_compile(p->re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter when JIT is missing */
    return 0;
}

int tok_pat_literal(struct tok_pat *p, const char *s, size_t n, struct mlxc_err *e)
{
    memset(p, 0, sizeof *p);
    p->lit = malloc(n + 1);
    if (!p->lit)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    memcpy(p->lit, s, n);
    p->lit[n] = '\0';
    p->lit_len = n;
    return 0;
}

void tok_pat_free(struct tok_pat *p)
{
    free(p->lit);
    if (p->re)
        pcre2_code_free(p->re);
    memset(p, 0, sizeof *p);
}

int tok_match_init(struct tok_match *m, struct mlxc_err *e)
{
    memset(m, 0, sizeof *m);
    m->md = pcre2_match_data_create(4, NULL);
    m->mctx = pcre2_match_context_create(NULL);
    if (!m->md || !m->mctx) {
        tok_match_free(m);
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    }
    return 0;
}

void tok_match_free(struct tok_match *m)
{
    if (m->md)
        pcre2_match_data_free(m->md);
    if (m->mctx)
        pcre2_match_context_free(m->mctx);
    if (m->js)
        pcre2_jit_stack_free(m->js);
    memset(m, 0, sizeof *m);
}

int tok_pat_find(const struct tok_pat *p, struct tok_match *m, const char *s, size_t n, size_t from,
                 size_t *ms, size_t *me, struct mlxc_err *e)
{
    if (from > n)
        return 0;
    if (p->lit) {
        if (p->lit_len == 0)
            return 0; /* an empty literal never matches (HF: the whole string is one non-match) */
        const char *hit = memmem(s + from, n - from, p->lit, p->lit_len);
        if (!hit)
            return 0;
        *ms = (size_t)(hit - s);
        *me = *ms + p->lit_len;
        return 1;
    }
    for (size_t stack = 1 << 20;; stack *= 4) {
        int rc = pcre2_match(p->re, (PCRE2_SPTR)s, n, from, PCRE2_NO_UTF_CHECK, m->md, m->mctx);
        if (rc >= 0) {
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m->md);
            *ms = ov[0];
            *me = ov[1];
            return 1;
        }
        if (rc == PCRE2_ERROR_NOMATCH)
            return 0;
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT && stack <= (1u << 28)) {
            if (m->js)
                pcre2_jit_stack_free(m->js);
            m->js = pcre2_jit_stack_create(32 * 1024, stack, NULL);
            if (!m->js)
                return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
            pcre2_jit_stack_assign(m->mctx, NULL, m->js);
            continue;
        }
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(rc, msg, sizeof msg);
        return mlxc_errf(e, MLXC_EUNSUP, "regex match failed: %s", (const char *)msg);
    }
}

/* ---- character classes ---- */

int tok_is_whitespace(uint32_t cp)
{
    if ((cp >= 9 && cp <= 13) || cp == ' ' || cp == 0x85)
        return 1;
    if (cp < 0xa0)
        return 0;
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    return c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP;
}

int tok_is_numeric(uint32_t cp)
{
    if (cp < 0x80)
        return cp >= '0' && cp <= '9';
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    return c == UTF8PROC_CATEGORY_ND || c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_NO;
}

int tok_is_punctuation(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= 0x21 && cp <= 0x2f) || (cp >= 0x3a && cp <= 0x40) || (cp >= 0x5b && cp <= 0x60) ||
               (cp >= 0x7b && cp <= 0x7e);
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO;
}

int tok_is_word(uint32_t cp)
{
    if (cp == 0x200c || cp == 0x200d)
        return 1;
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) ||
           (c >= UTF8PROC_CATEGORY_MN && c <= UTF8PROC_CATEGORY_ME) || c == UTF8PROC_CATEGORY_ND ||
           c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_PC;
}

int tok_cp(const char *s, size_t n, size_t i, uint32_t *cp)
{
    unsigned char b = (unsigned char)s[i];
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    int k = mlxc_utf8_decode(s + i, n - i, cp);
    if (k <= 0) { /* not reached on validated input; treat the byte as one unit */
        *cp = 0xfffd;
        return 1;
    }
    return k;
}

size_t tok_prev_cp(const char *s, size_t i)
{
    do
        i--;
    while (i > 0 && ((unsigned char)s[i] & 0xc0) == 0x80);
    return i;
}

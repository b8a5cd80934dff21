/* The Jinja lexer: template text to tokens, following jinja2 3.1 with trim_blocks and lstrip_blocks.
 *
 * Whitespace control, as jinja2 applies it:
 *   "{%-", "{{-", "{#-"  strip all whitespace before the tag;
 *   "-%}", "-}}", "-#}"  strip all whitespace after it;
 *   lstrip_blocks        removes spaces and tabs between the start of a line and "{%" or "{#" (not "{{")
 *                        unless the tag says "{%+";
 *   trim_blocks          removes the first newline after "%}" or "#}" unless the tag says "+%}". */
#include "tokenizer/jinja_ast.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"

struct lexer {
    struct mlxc_jv_arena *a;
    const char *s;
    size_t n;
    struct jtoken *v;
    size_t nv, cap;
    /* position -> line/column, advanced incrementally */
    size_t lc_pos;
    int lc_line, lc_col;
    char stack[256];  /* open brackets inside a tag */
    int depth;
    struct mlxc_err *e;
};

static void where(struct lexer *L, size_t pos, int *line, int *col)
{
    if (pos < L->lc_pos) {
        L->lc_pos = 0;
        L->lc_line = 1;
        L->lc_col = 1;
    }
    for (; L->lc_pos < pos; L->lc_pos++) {
        unsigned char c = (unsigned char)L->s[L->lc_pos];
        if (c == '\n') {
            L->lc_line++;
            L->lc_col = 1;
        } else if ((c & 0xc0) != 0x80)
            L->lc_col++;
    }
    *line = L->lc_line;
    *col = L->lc_col;
}

static int fail(struct lexer *L, size_t pos, const char *msg)
{
    int line, col;
    where(L, pos, &line, &col);
    return mlxc_errf(L->e, MLXC_EFORMAT, "template line %d, column %d: %s", line, col, msg);
}

static int oom(struct lexer *L)
{
    return mlxc_errf(L->e, MLXC_ENOMEM, "out of memory while reading the template");
}

static struct jtoken *push(struct lexer *L, int type, size_t pos)
{
    if (L->nv == L->cap) {
        size_t nc = L->cap ? L->cap * 2 : 64;
        struct jtoken *nv = mlxc_jv_realloc(L->a, L->v, nc * sizeof *nv);
        if (!nv)
            return NULL;
        L->v = nv;
        L->cap = nc;
    }
    struct jtoken *t = &L->v[L->nv++];
    memset(t, 0, sizeof *t);
    t->type = type;
    where(L, pos, &t->line, &t->col);
    return t;
}

static int push_text(struct lexer *L, int type, size_t pos, const char *s, size_t n)
{
    struct jtoken *t = push(L, type, pos);
    char *c = t ? mlxc_jv_alloc(L->a, n + 1) : NULL;
    if (!c)
        return oom(L);
    memcpy(c, s, n);
    c[n] = 0;
    t->s = c;
    t->n = n;
    return 0;
}

/* Python's \s at s[i]: returns the byte length of a whitespace code point there, else 0. */
static int space_at(const char *s, size_t n, size_t i)
{
    uint32_t cp;
    int k = mlxc_utf8_decode(s + i, n - i, &cp);
    return k > 0 && mlxc_jv_isspace(cp) ? k : 0;
}

static size_t skip_space(const char *s, size_t n, size_t i)
{
    int k;
    while (i < n && (k = space_at(s, n, i)) > 0)
        i += k;
    return i;
}

/* Python's str.rstrip() of s[0..n): the new length. */
static size_t rstrip_len(const char *s, size_t n)
{
    while (n > 0) {
        size_t st = n - 1;
        while (st > 0 && ((unsigned char)s[st] & 0xc0) == 0x80)
            st--;
        if (!space_at(s, n, st))
            break;
        n = st;
    }
    return n;
}

/* Emits the text before a tag, applying "-" and lstrip_blocks. sign is '-', '+' or 0. */
static int emit_data(struct lexer *L, size_t pos, size_t end, int sign, int is_var, int line_starting)
{
    const char *t = L->s + pos;
    size_t n = end - pos;
    if (sign == '-')
        n = rstrip_len(t, n);
    else if (sign != '+' && !is_var) {
        size_t l = n;
        while (l > 0 && t[l - 1] != '\n')
            l--;
        if (l > 0 || line_starting) {
            size_t k = l;
            while (k < n && (t[k] == ' ' || t[k] == '\t'))
                k++;
            if (k == n)
                n = l;
        }
    }
    return n ? push_text(L, JT_DATA, pos, t, n) : 0;
}

/* (\d+_)*\d+ at i: returns the end, or i when there is none. */
static size_t digit_run(const char *s, size_t n, size_t i)
{
    size_t j = i;
    if (j >= n || !isdigit((unsigned char)s[j]))
        return i;
    for (;;) {
        while (j < n && isdigit((unsigned char)s[j]))
            j++;
        if (j + 1 < n && s[j] == '_' && isdigit((unsigned char)s[j + 1]))
            j++;
        else
            return j;
    }
}

static int lex_number(struct lexer *L, size_t *pos)
{
    const char *s = L->s;
    size_t n = L->n, i = *pos, j = digit_run(s, n, i), end = 0;
    int is_float = 0;
    /* float: digits ( (.digits)? e[+-]?digits | .digits ), not preceded by '.' */
    if (!(i > 0 && s[i - 1] == '.')) {
        size_t k = j, frac = 0;
        if (k < n && s[k] == '.' && digit_run(s, n, k + 1) > k + 1)
            frac = k = digit_run(s, n, k + 1);
        if (k < n && (s[k] == 'e' || s[k] == 'E')) {
            size_t m = k + 1;
            if (m < n && (s[m] == '+' || s[m] == '-'))
                m++;
            size_t x = digit_run(s, n, m);
            if (x > m) {
                end = x;
                is_float = 1;
            }
        }
        if (!is_float && frac) {
            end = frac;
            is_float = 1;
        }
    }
    char buf[128];
    size_t bl = 0;
    if (is_float) {
        for (size_t k = i; k < end && bl < sizeof buf - 1; k++)
            if (s[k] != '_')
                buf[bl++] = s[k];
        buf[bl] = 0;
        struct jtoken *t = push(L, JT_FLOAT, i);
        if (!t)
            return oom(L);
        t->num = mlxc_jv_float(strtod(buf, NULL));
        *pos = end;
        return 0;
    }
    /* integer: 0b.., 0o.., 0x.., [1-9](_?\d)*, 0(_?0)* */
    int base = 10;
    size_t k = i;
    if (s[i] == '0' && i + 1 < n && strchr("bBoOxX", s[i + 1]) && s[i + 1]) {
        base = (s[i + 1] | 32) == 'b' ? 2 : (s[i + 1] | 32) == 'o' ? 8 : 16;
        k = i + 2;
        size_t st = k;
        for (;;) {
            size_t m = k;
            if (m < n && s[m] == '_')
                m++;
            int c = m < n ? s[m] : 0, ok;
            if (base == 2) ok = c == '0' || c == '1';
            else if (base == 8) ok = c >= '0' && c <= '7';
            else ok = isxdigit(c);
            if (!ok)
                break;
            if (bl < sizeof buf - 1)
                buf[bl++] = (char)c;
            k = m + 1;
        }
        if (k == st) { /* "0x" without digits: just the 0 */
            base = 10;
            k = i + 1;
            bl = 0;
            buf[bl++] = '0';
        }
    } else if (s[i] == '0') {
        k = i + 1;
        for (;;) {
            size_t m = k;
            if (m < n && s[m] == '_')
                m++;
            if (m < n && s[m] == '0')
                k = m + 1;
            else
                break;
        }
        buf[bl++] = '0';
    } else {
        k = i;
        for (;;) {
            if (k < n && isdigit((unsigned char)s[k])) {
                if (bl < sizeof buf - 1)
                    buf[bl++] = s[k];
                k++;
            } else if (k + 1 < n && s[k] == '_' && isdigit((unsigned char)s[k + 1]) && k > i)
                k++;
            else
                break;
        }
    }
    buf[bl] = 0;
    errno = 0;
    char *endp;
    long long v = strtoll(buf, &endp, base);
    if (errno == ERANGE || bl >= sizeof buf - 1)
        return fail(L, i, "integer literal is too large");
    struct jtoken *t = push(L, JT_INT, i);
    if (!t)
        return oom(L);
    t->num = mlxc_jv_int(v);
    *pos = k;
    return 0;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : (c | 32) >= 'a' && (c | 32) <= 'f' ? (c | 32) - 'a' + 10 : -1;
}

/* Decodes a string literal body as jinja2 does: .encode("ascii", "backslashreplace")
 * .decode("unicode-escape"). A backslash before a non-ASCII character therefore stays a backslash
 * followed by that character's \x/\u/\U spelling. */
static int decode_string(struct lexer *L, size_t pos, const char *s, size_t n, struct mlxc_buf *out)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c != '\\') {
            mlxc_buf_putc(out, (char)c);
            i++;
            continue;
        }
        /* i + 1 < n always: the literal's pattern pairs every backslash with a character */
        unsigned char d = (unsigned char)s[i + 1];
        i += 2;
        uint32_t cp = 0;
        int nhex = 0;
        switch (d) {
        case '\n': continue;
        case '\\': mlxc_buf_putc(out, '\\'); continue;
        case '\'': mlxc_buf_putc(out, '\''); continue;
        case '"': mlxc_buf_putc(out, '"'); continue;
        case 'a': mlxc_buf_putc(out, 7); continue;
        case 'b': mlxc_buf_putc(out, 8); continue;
        case 'f': mlxc_buf_putc(out, 12); continue;
        case 'n': mlxc_buf_putc(out, '\n'); continue;
        case 'r': mlxc_buf_putc(out, '\r'); continue;
        case 't': mlxc_buf_putc(out, '\t'); continue;
        case 'v': mlxc_buf_putc(out, 11); continue;
        case 'x': nhex = 2; break;
        case 'u': nhex = 4; break;
        case 'U': nhex = 8; break;
        case 'N': return fail(L, pos, "named unicode escapes (\\N{...}) are not supported");
        default:
            if (d >= '0' && d <= '7') {
                cp = d - '0';
                for (int k = 0; k < 2 && i < n && s[i] >= '0' && s[i] <= '7'; k++)
                    cp = cp * 8 + (uint32_t)(s[i++] - '0');
                break;
            }
            if (d >= 0x80) {
                /* backslashreplace spelled the character as \xNN, \uNNNN or \UNNNNNNNN */
                uint32_t u;
                int k = mlxc_utf8_decode(s + i - 1, n - (i - 1), &u);
                if (k <= 0)
                    return fail(L, pos, "invalid UTF-8 in string literal");
                i += k - 1;
                mlxc_buf_putc(out, '\\');
                if (u < 0x100) mlxc_buf_printf(out, "x%02x", u);
                else if (u < 0x10000) mlxc_buf_printf(out, "u%04x", u);
                else mlxc_buf_printf(out, "U%08x", u);
                continue;
            }
            mlxc_buf_putc(out, '\\');
            mlxc_buf_putc(out, (char)d);
            continue;
        }
        if (nhex) {
            for (int k = 0; k < nhex; k++) {
                int h = i < n ? hexval((unsigned char)s[i]) : -1;
                if (h < 0)
                    return fail(L, pos, d == 'x' ? "truncated \\xXX escape" : d == 'u' ?
                                "truncated \\uXXXX escape" : "truncated \\UXXXXXXXX escape");
                cp = cp * 16 + (uint32_t)h;
                i++;
            }
            if (cp > 0x10ffff)
                return fail(L, pos, "illegal Unicode character");
        }
        char enc[4];
        int k = mlxc_utf8_encode(cp, enc);
        if (k <= 0)
            return fail(L, pos, "surrogate code points are not supported in string literals");
        mlxc_buf_append(out, enc, k);
    }
    return 0;
}

static int lex_string(struct lexer *L, size_t *pos)
{
    const char *s = L->s;
    size_t i = *pos, j = i + 1;
    char q = s[i];
    while (j < L->n && s[j] != q)
        j += s[j] == '\\' ? 2 : 1;
    if (j >= L->n)
        return fail(L, i, q == '"' ? "unexpected char '\"'" : "unexpected char \"'\"");
    struct mlxc_buf b = MLXC_BUF_INIT;
    int r = decode_string(L, i, s + i + 1, j - i - 1, &b);
    if (!r && b.oom)
        r = oom(L);
    if (!r)
        r = push_text(L, JT_STRING, i, b.data ? b.data : "", b.len);
    mlxc_buf_free(&b);
    *pos = j + 1;
    return r;
}

static const struct { const char *op; int tok; } OPS[] = {
    {"//", JT_FLOORDIV}, {"**", JT_POW}, {"==", JT_EQ}, {"!=", JT_NE}, {">=", JT_GTEQ}, {"<=", JT_LTEQ},
    {"+", JT_ADD}, {"-", JT_SUB}, {"/", JT_DIV}, {"*", JT_MUL}, {"%", JT_MOD}, {"~", JT_TILDE},
    {"[", JT_LBRACKET}, {"]", JT_RBRACKET}, {"(", JT_LPAREN}, {")", JT_RPAREN}, {"{", JT_LBRACE},
    {"}", JT_RBRACE}, {">", JT_GT}, {"<", JT_LT}, {"=", JT_ASSIGN}, {".", JT_DOT}, {":", JT_COLON},
    {"|", JT_PIPE}, {",", JT_COMMA}, {";", JT_SEMICOLON},
};

static int lex_operator(struct lexer *L, size_t *pos)
{
    const char *s = L->s + *pos;
    size_t left = L->n - *pos;
    for (size_t k = 0; k < sizeof OPS / sizeof OPS[0]; k++) {
        size_t ol = strlen(OPS[k].op);
        if (ol > left || memcmp(s, OPS[k].op, ol))
            continue;
        char c = s[0];
        if (ol == 1 && (c == '{' || c == '(' || c == '[')) {
            if (L->depth >= (int)sizeof L->stack)
                return fail(L, *pos, "brackets nested too deeply");
            L->stack[L->depth++] = c == '{' ? '}' : c == '(' ? ')' : ']';
        } else if (ol == 1 && (c == '}' || c == ')' || c == ']')) {
            char msg[64];
            if (!L->depth) {
                snprintf(msg, sizeof msg, "unexpected '%c'", c);
                return fail(L, *pos, msg);
            }
            char want = L->stack[--L->depth];
            if (want != c) {
                snprintf(msg, sizeof msg, "unexpected '%c', expected '%c'", c, want);
                return fail(L, *pos, msg);
            }
        }
        if (!push(L, OPS[k].tok, *pos))
            return oom(L);
        *pos += ol;
        return 0;
    }
    char msg[64];
    uint32_t cp;
    int k = mlxc_utf8_decode(s, left, &cp);
    snprintf(msg, sizeof msg, "unexpected char '%.*s'", k > 0 ? k : 1, s);
    return fail(L, *pos, msg);
}

/* Lexes the inside of a {% %} or {{ }} tag from *pos; on return *pos is past the end tag and
 * *line_starting tells whether the end match finished with a newline. */
static int lex_tag(struct lexer *L, size_t *pos, int is_var, int *line_starting)
{
    const char *s = L->s;
    size_t n = L->n, i = *pos;
    L->depth = 0;
    while (i < n) {
        if (!L->depth) {
            char c1 = is_var ? '}' : '%';
            size_t end = 0;
            int strip = 0;
            if (!is_var && s[i] == '+' && i + 2 < n && s[i + 1] == '%' && s[i + 2] == '}')
                end = i + 3;
            else if (s[i] == '-' && i + 2 < n && s[i + 1] == c1 && s[i + 2] == '}')
                end = i + 3, strip = 1;
            else if (s[i] == c1 && i + 1 < n && s[i + 1] == '}') {
                end = i + 2;
                if (!is_var && end < n && s[end] == '\n')
                    end++;
            }
            if (end) {
                if (!push(L, is_var ? JT_VAR_END : JT_BLOCK_END, i))
                    return oom(L);
                if (strip)
                    end = skip_space(s, n, end);
                *line_starting = s[end - 1] == '\n';
                *pos = end;
                return 0;
            }
        }
        unsigned char c = (unsigned char)s[i];
        int r = 0;
        if (space_at(s, n, i))
            i = skip_space(s, n, i);
        else if (isdigit(c))
            r = lex_number(L, &i);
        else if (isalpha(c) || c == '_' || c >= 0x80) {
            size_t j = i;
            while (j < n && (isalnum((unsigned char)s[j]) || s[j] == '_' ||
                             ((unsigned char)s[j] >= 0x80 && !space_at(s, n, j))))
                j++;
            r = push_text(L, JT_NAME, i, s + i, j - i);
            i = j;
        } else if (c == '\'' || c == '"')
            r = lex_string(L, &i);
        else
            r = lex_operator(L, &i);
        if (r)
            return r;
    }
    *pos = n; /* the template ended inside the tag: the parser reports it */
    return 0;
}

/* Normalises newlines and drops one trailing newline (keep_trailing_newline is off). */
static char *normalise(struct mlxc_jv_arena *a, const char *src, size_t n, size_t *out_n)
{
    char *o = mlxc_jv_alloc(a, n + 1);
    if (!o)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (src[i] == '\r') {
            o[k++] = '\n';
            if (i + 1 < n && src[i + 1] == '\n')
                i++;
        } else
            o[k++] = src[i];
    }
    if (k && o[k - 1] == '\n')
        k--;
    o[k] = 0;
    *out_n = k;
    return o;
}

int mlxc_jinja_lex(struct mlxc_jv_arena *a, const char *src, size_t srcn, struct jtokens *out,
                   struct mlxc_err *e)
{
    struct lexer L = {.a = a, .e = e, .lc_line = 1, .lc_col = 1};
    size_t valid = mlxc_utf8_valid_prefix(src, srcn);
    if (valid != srcn) {
        L.s = src;
        L.n = srcn;
        return fail(&L, valid, "the template is not valid UTF-8");
    }
    if (!(L.s = normalise(a, src, srcn, &L.n)))
        return oom(&L);
    const char *s = L.s;
    size_t n = L.n, pos = 0;
    int line_starting = 1, r = 0;
    while (pos < n && !r) {
        size_t q = pos;
        while (q + 1 < n && !(s[q] == '{' && (s[q + 1] == '{' || s[q + 1] == '%' || s[q + 1] == '#')))
            q++;
        if (q + 1 >= n) {
            r = push_text(&L, JT_DATA, pos, s + pos, n - pos);
            break;
        }
        char kind = s[q + 1];
        int sign = q + 2 < n && (s[q + 2] == '-' || s[q + 2] == '+') ? s[q + 2] : 0;
        size_t body = q + 2 + (sign != 0);
        if ((r = emit_data(&L, pos, q, sign, kind == '{', line_starting)))
            break;
        line_starting = 0;
        if (kind == '#') {
            const char *end = NULL;
            for (size_t k = body; k + 1 < n; k++)
                if (s[k] == '#' && s[k + 1] == '}') {
                    end = s + k;
                    break;
                }
            if (!end) {
                r = fail(&L, q, "Missing end of comment tag");
                break;
            }
            size_t k = (size_t)(end - s), after = k + 2;
            if (k > body && s[k - 1] == '-')
                after = skip_space(s, n, after);
            else if (!(k > body && s[k - 1] == '+') && after < n && s[after] == '\n')
                after++;
            line_starting = s[after - 1] == '\n';
            pos = after;
            continue;
        }
        if (kind == '%') {
            /* {% raw %} ... {% endraw %} */
            size_t k = skip_space(s, n, body);
            if (k + 3 <= n && !memcmp(s + k, "raw", 3)) {
                size_t m = skip_space(s, n, k + 3), after = 0;
                if (m + 2 < n + 0 && s[m] == '-' && s[m + 1] == '%' && m + 2 < n && s[m + 2] == '}')
                    after = skip_space(s, n, m + 3);
                else if (m + 1 < n && s[m] == '%' && s[m + 1] == '}')
                    after = m + 2;
                if (after) {
                    /* find "{%" [-+]? \s* endraw \s* ("+%}" | "-%}"\s* | "%}"\n?) */
                    size_t p = after, tag = 0, tend = 0;
                    int esign = 0;
                    for (; p + 1 < n; p++) {
                        if (s[p] != '{' || s[p + 1] != '%')
                            continue;
                        size_t t = p + 2;
                        int sg = t < n && (s[t] == '-' || s[t] == '+') ? s[t] : 0;
                        t = skip_space(s, n, t + (sg != 0));
                        if (t + 6 > n || memcmp(s + t, "endraw", 6))
                            continue;
                        t = skip_space(s, n, t + 6);
                        if (t + 2 < n && s[t] == '+' && s[t + 1] == '%' && s[t + 2] == '}')
                            tend = t + 3;
                        else if (t + 2 < n && s[t] == '-' && s[t + 1] == '%' && s[t + 2] == '}')
                            tend = skip_space(s, n, t + 3);
                        else if (t + 1 < n && s[t] == '%' && s[t + 1] == '}') {
                            tend = t + 2;
                            if (tend < n && s[tend] == '\n')
                                tend++;
                        } else
                            continue;
                        tag = p;
                        esign = sg;
                        break;
                    }
                    if (!tend) {
                        r = fail(&L, q, "Missing end of raw directive");
                        break;
                    }
                    int ls = s[after - 1] == '\n';
                    if ((r = emit_data(&L, after, tag, esign, 0, ls)))
                        break;
                    line_starting = s[tend - 1] == '\n';
                    pos = tend;
                    continue;
                }
            }
        }
        if (!push(&L, kind == '{' ? JT_VAR_BEGIN : JT_BLOCK_BEGIN, q)) {
            r = oom(&L);
            break;
        }
        pos = body;
        r = lex_tag(&L, &pos, kind == '{', &line_starting);
    }
    if (!r && !push(&L, JT_EOF, n))
        r = oom(&L);
    out->v = L.v;
    out->n = L.nv;
    return r;
}

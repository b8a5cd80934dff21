/* JSON for the Jinja engine: Python's json.loads into values (integers stay integers, key order is
 * kept) and json.dumps as transformers' tojson filter calls it. */
#include "tokenizer/jinja_eval.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"

/* ---- parsing ---- */

struct jp {
    struct mlxc_jv_arena *a;
    const char *s;
    size_t n, i;
    int depth;
    struct mlxc_err *e;
};

static int perr(struct jp *p, const char *what)
{
    size_t line = 1, col = 1;
    for (size_t k = 0; k < p->i && k < p->n; k++) {
        if (p->s[k] == '\n') { line++; col = 1; }
        else col++;
    }
    return mlxc_errf(p->e, MLXC_EFORMAT, "invalid JSON at line %zu, column %zu: %s", line, col, what);
}

static void ws(struct jp *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static int hex4(struct jp *p, uint32_t *out)
{
    uint32_t v = 0;
    if (p->i + 4 > p->n)
        return perr(p, "truncated \\u escape");
    for (int k = 0; k < 4; k++) {
        char c = p->s[p->i++];
        int h = c >= '0' && c <= '9' ? c - '0' : (c | 32) >= 'a' && (c | 32) <= 'f' ? (c | 32) - 'a' + 10 : -1;
        if (h < 0)
            return perr(p, "bad \\u escape");
        v = v * 16 + (uint32_t)h;
    }
    *out = v;
    return 0;
}

static int parse_string(struct jp *p, mlxc_jv *out)
{
    struct mlxc_buf b = MLXC_BUF_INIT;
    p->i++; /* opening quote */
    int r = 0;
    for (;;) {
        if (p->i >= p->n) { r = perr(p, "unterminated string"); break; }
        unsigned char c = (unsigned char)p->s[p->i];
        if (c == '"') { p->i++; break; }
        if (c < 0x20) { r = perr(p, "control character in string"); break; }
        if (c != '\\') {
            size_t st = p->i;
            while (p->i < p->n && p->s[p->i] != '"' && p->s[p->i] != '\\' && (unsigned char)p->s[p->i] >= 0x20)
                p->i++;
            if (!mlxc_utf8_valid(p->s + st, p->i - st)) { p->i = st; r = perr(p, "invalid UTF-8 in string"); break; }
            mlxc_buf_append(&b, p->s + st, p->i - st);
            continue;
        }
        if (++p->i >= p->n) { r = perr(p, "unterminated string"); break; }
        char d = p->s[p->i++];
        uint32_t cp = 0;
        switch (d) {
        case '"': mlxc_buf_putc(&b, '"'); continue;
        case '\\': mlxc_buf_putc(&b, '\\'); continue;
        case '/': mlxc_buf_putc(&b, '/'); continue;
        case 'b': mlxc_buf_putc(&b, '\b'); continue;
        case 'f': mlxc_buf_putc(&b, '\f'); continue;
        case 'n': mlxc_buf_putc(&b, '\n'); continue;
        case 'r': mlxc_buf_putc(&b, '\r'); continue;
        case 't': mlxc_buf_putc(&b, '\t'); continue;
        case 'u':
            if ((r = hex4(p, &cp)))
                break;
            if (cp >= 0xd800 && cp < 0xdc00 && p->i + 1 < p->n && p->s[p->i] == '\\' && p->s[p->i + 1] == 'u') {
                size_t save = p->i;
                uint32_t lo = 0;
                p->i += 2;
                if ((r = hex4(p, &lo)))
                    break;
                if (lo >= 0xdc00 && lo < 0xe000)
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                else
                    p->i = save;
            }
            if (cp >= 0xd800 && cp < 0xe000) { r = perr(p, "lone surrogate in string"); break; }
            {
                char enc[4];
                mlxc_buf_append(&b, enc, (size_t)mlxc_utf8_encode(cp, enc));
            }
            continue;
        default:
            p->i--;
            r = perr(p, "invalid escape");
        }
        break;
    }
    if (!r && b.oom)
        r = mlxc_errf(p->e, MLXC_ENOMEM, "out of memory");
    if (!r) {
        struct mlxc_jv_str *s = mlxc_jv_str_new(p->a, b.data ? b.data : "", b.len);
        if (!s)
            r = mlxc_errf(p->e, MLXC_ENOMEM, "out of memory");
        else
            *out = mlxc_jv_of_str(s);
    }
    mlxc_buf_free(&b);
    return r;
}

static int parse_value(struct jp *p, mlxc_jv *out);

static int parse_number(struct jp *p, mlxc_jv *out)
{
    size_t st = p->i;
    int isf = 0;
    if (p->s[p->i] == '-')
        p->i++;
    if (p->i + 8 <= p->n && !memcmp(p->s + p->i, "Infinity", 8)) {
        p->i += 8;
        *out = mlxc_jv_float(p->s[st] == '-' ? -INFINITY : INFINITY);
        return 0;
    }
    if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9')
        return perr(p, "expected a value");
    if (p->s[p->i] == '0')
        p->i++;
    else
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
            p->i++;
    if (p->i + 1 < p->n && p->s[p->i] == '.' && p->s[p->i + 1] >= '0' && p->s[p->i + 1] <= '9') {
        isf = 1;
        p->i++;
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
            p->i++;
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        size_t k = p->i + 1;
        if (k < p->n && (p->s[k] == '+' || p->s[k] == '-'))
            k++;
        if (k < p->n && p->s[k] >= '0' && p->s[k] <= '9') {
            isf = 1;
            p->i = k;
            while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
                p->i++;
        }
    }
    char buf[400];
    size_t len = p->i - st;
    if (len >= sizeof buf)
        return perr(p, "number too long");
    memcpy(buf, p->s + st, len);
    buf[len] = 0;
    if (isf) {
        *out = mlxc_jv_float(strtod(buf, NULL));
        return 0;
    }
    errno = 0;
    long long v = strtoll(buf, NULL, 10);
    if (errno == ERANGE) {
        p->i = st;
        return perr(p, "integer does not fit in 64 bits");
    }
    *out = mlxc_jv_int(v);
    return 0;
}

static int parse_value(struct jp *p, mlxc_jv *out)
{
    ws(p);
    if (p->i >= p->n)
        return perr(p, "unexpected end of input");
    char c = p->s[p->i];
    if (c == '{' || c == '[') {
        if (++p->depth > 512)
            return perr(p, "nested too deeply");
        p->i++;
        int r = 0;
        if (c == '{') {
            struct mlxc_jv_dict *d = mlxc_jv_dict_new(p->a, 0);
            if (!d)
                return mlxc_errf(p->e, MLXC_ENOMEM, "out of memory");
            ws(p);
            if (p->i < p->n && p->s[p->i] == '}')
                p->i++;
            else
                for (;;) {
                    mlxc_jv k, v;
                    ws(p);
                    if (p->i >= p->n || p->s[p->i] != '"')
                        return perr(p, "expected a string key");
                    if ((r = parse_string(p, &k)))
                        return r;
                    ws(p);
                    if (p->i >= p->n || p->s[p->i] != ':')
                        return perr(p, "expected ':'");
                    p->i++;
                    if ((r = parse_value(p, &v)))
                        return r;
                    if (mlxc_jv_dict_set(p->a, d, k, v))
                        return mlxc_errf(p->e, MLXC_ENOMEM, "out of memory");
                    ws(p);
                    if (p->i < p->n && p->s[p->i] == ',') { p->i++; continue; }
                    if (p->i < p->n && p->s[p->i] == '}') { p->i++; break; }
                    return perr(p, "expected ',' or '}'");
                }
            *out = mlxc_jv_of_dict(d);
        } else {
            struct mlxc_jv_list *l = mlxc_jv_list_new(p->a, 0);
            if (!l)
                return mlxc_errf(p->e, MLXC_ENOMEM, "out of memory");
            ws(p);
            if (p->i < p->n && p->s[p->i] == ']')
                p->i++;
            else
                for (;;) {
                    mlxc_jv v;
                    if ((r = parse_value(p, &v)))
                        return r;
                    if (mlxc_jv_list_push(p->a, l, v))
                        return mlxc_errf(p->e, MLXC_ENOMEM, "out of memory");
                    ws(p);
                    if (p->i < p->n && p->s[p->i] == ',') { p->i++; continue; }
                    if (p->i < p->n && p->s[p->i] == ']') { p->i++; break; }
                    return perr(p, "expected ',' or ']'");
                }
            *out = mlxc_jv_of_list(l);
        }
        p->depth--;
        return 0;
    }
    if (c == '"')
        return parse_string(p, out);
    static const struct { const char *w; int t; } words[] = {
        {"true", 1}, {"false", 2}, {"null", 3}, {"NaN", 4}};
    for (size_t k = 0; k < 4; k++) {
        size_t l = strlen(words[k].w);
        if (p->i + l <= p->n && !memcmp(p->s + p->i, words[k].w, l)) {
            p->i += l;
            *out = words[k].t == 1 ? mlxc_jv_bool(1) : words[k].t == 2 ? mlxc_jv_bool(0) :
                   words[k].t == 3 ? mlxc_jv_none() : mlxc_jv_float(NAN);
            return 0;
        }
    }
    return parse_number(p, out);
}

int mlxc_jinja_json_parse(struct mlxc_jv_arena *a, const char *s, size_t n, mlxc_jv *out, struct mlxc_err *e)
{
    struct jp p = {.a = a, .s = s, .n = n, .e = e};
    int r = parse_value(&p, out);
    if (r)
        return r;
    ws(&p);
    if (p.i != p.n)
        return perr(&p, "extra data after the value");
    return 0;
}

/* ---- dumping ---- */

struct jd {
    struct jrt *rt;
    struct mlxc_buf *b;
    int ascii, sort;
    const char *indent, *isep, *ksep;
};

static void dump_str(struct jd *d, const char *s, size_t n)
{
    struct mlxc_buf *b = d->b;
    mlxc_buf_putc(b, '"');
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"') { mlxc_buf_puts(b, "\\\""); i++; continue; }
        if (c == '\\') { mlxc_buf_puts(b, "\\\\"); i++; continue; }
        if (c == '\n') { mlxc_buf_puts(b, "\\n"); i++; continue; }
        if (c == '\r') { mlxc_buf_puts(b, "\\r"); i++; continue; }
        if (c == '\t') { mlxc_buf_puts(b, "\\t"); i++; continue; }
        if (c == '\b') { mlxc_buf_puts(b, "\\b"); i++; continue; }
        if (c == '\f') { mlxc_buf_puts(b, "\\f"); i++; continue; }
        if (c < 0x20 || (d->ascii && c == 0x7f)) { mlxc_buf_printf(b, "\\u%04x", c); i++; continue; }
        if (c < 0x80 || !d->ascii) { mlxc_buf_putc(b, (char)c); i++; continue; }
        uint32_t cp;
        int k = mlxc_utf8_decode(s + i, n - i, &cp);
        if (k <= 0) { cp = c; k = 1; }
        if (cp >= 0x10000) {
            cp -= 0x10000;
            mlxc_buf_printf(b, "\\u%04x\\u%04x", 0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
        } else
            mlxc_buf_printf(b, "\\u%04x", cp);
        i += (size_t)k;
    }
    mlxc_buf_putc(b, '"');
}

static void dump_float(struct mlxc_buf *b, double f)
{
    char tmp[40];
    if (isnan(f)) mlxc_buf_puts(b, "NaN");
    else if (isinf(f)) mlxc_buf_puts(b, f < 0 ? "-Infinity" : "Infinity");
    else {
        mlxc_jv_float_repr(f, tmp);
        mlxc_buf_puts(b, tmp);
    }
}

static void newline(struct jd *d, int level)
{
    mlxc_buf_putc(d->b, '\n');
    for (int i = 0; i < level; i++)
        mlxc_buf_puts(d->b, d->indent);
}

static void dump(struct jd *d, mlxc_jv v, int level);

static void dump_key(struct jd *d, mlxc_jv k)
{
    switch (k.t) {
    case JV_STR: dump_str(d, k.u.s->s, k.u.s->len); return;
    case JV_BOOL: mlxc_buf_puts(d->b, k.u.i ? "\"true\"" : "\"false\""); return;
    case JV_NONE: mlxc_buf_puts(d->b, "\"null\""); return;
    case JV_INT: mlxc_buf_printf(d->b, "\"%lld\"", (long long)k.u.i); return;
    case JV_FLOAT:
        mlxc_buf_putc(d->b, '"');
        dump_float(d->b, k.u.f);
        mlxc_buf_putc(d->b, '"');
        return;
    default:
        mlxc_jinja_fail(d->rt, MLXC_EINVAL, "keys must be str, int, float, bool or None, not %s",
                        mlxc_jv_type_name(k));
    }
}

static void dump(struct jd *d, mlxc_jv v, int level)
{
    if (level > 1000)
        mlxc_jinja_fail(d->rt, MLXC_EINVAL, "maximum recursion depth exceeded while encoding a JSON object");
    switch (v.t) {
    case JV_NONE: mlxc_buf_puts(d->b, "null"); return;
    case JV_BOOL: mlxc_buf_puts(d->b, v.u.i ? "true" : "false"); return;
    case JV_INT: mlxc_buf_printf(d->b, "%lld", (long long)v.u.i); return;
    case JV_FLOAT: dump_float(d->b, v.u.f); return;
    case JV_STR: dump_str(d, v.u.s->s, v.u.s->len); return;
    case JV_LIST:
        if (v.u.l->kind <= JV_LIST_TUPLE) {
            if (!v.u.l->n) { mlxc_buf_puts(d->b, "[]"); return; }
            mlxc_buf_putc(d->b, '[');
            for (size_t i = 0; i < v.u.l->n; i++) {
                if (i) mlxc_buf_puts(d->b, d->isep);
                if (d->indent) newline(d, level + 1);
                dump(d, v.u.l->v[i], level + 1);
            }
            if (d->indent) newline(d, level);
            mlxc_buf_putc(d->b, ']');
            return;
        }
        break;
    case JV_DICT: {
        struct mlxc_jv_dict *dd = v.u.d;
        if (!dd->n) { mlxc_buf_puts(d->b, "{}"); return; }
        size_t *order = mlxc_jv_alloc(d->rt->a, dd->n * sizeof *order);
        if (!order)
            mlxc_jinja_oom(d->rt);
        for (size_t i = 0; i < dd->n; i++)
            order[i] = i;
        if (d->sort) /* insertion sort: stable, and comparisons may raise */
            for (size_t i = 1; i < dd->n; i++)
                for (size_t j = i; j > 0 && mlxc_jinja_compare(d->rt, dd->k[order[j - 1]], dd->k[order[j]], 0) > 0; j--) {
                    size_t t = order[j];
                    order[j] = order[j - 1];
                    order[j - 1] = t;
                }
        mlxc_buf_putc(d->b, '{');
        for (size_t i = 0; i < dd->n; i++) {
            if (i) mlxc_buf_puts(d->b, d->isep);
            if (d->indent) newline(d, level + 1);
            dump_key(d, dd->k[order[i]]);
            mlxc_buf_puts(d->b, d->ksep);
            dump(d, dd->v[order[i]], level + 1);
        }
        if (d->indent) newline(d, level);
        mlxc_buf_putc(d->b, '}');
        return;
    }
    default:
        break;
    }
    mlxc_jinja_fail(d->rt, MLXC_EINVAL, "Object of type %s is not JSON serializable", mlxc_jv_type_name(v));
}

void mlxc_jinja_json_dump(struct jrt *rt, struct mlxc_buf *b, mlxc_jv v, int ensure_ascii, const char *indent,
                          const char *item_sep, const char *key_sep, int sort_keys)
{
    struct jd d = {.rt = rt, .b = b, .ascii = ensure_ascii, .sort = sort_keys, .indent = indent,
                   .isep = item_sep, .ksep = key_sep};
    dump(&d, v, 0);
}

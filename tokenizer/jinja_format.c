/* Python's string formatting as a template can reach it: str.format ("{0} {name!r:>10}") and
 * printf-style "%" ("%s", "%(name)d", "%.2f"). Format specs cover fill, alignment, sign, zero padding,
 * width, grouping, precision and the s/d/x/X/o/b/c/e/E/f/F/g/G/% types. */
#include "tokenizer/jinja_eval.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"

struct spec {
    char fill[5];
    char align;      /* '<', '>', '^', '=' or 0 */
    char sign;       /* '+', '-', ' ' or 0 */
    int alt, zero, width, prec, group;
    char type;
};

static void parse_spec(struct jrt *rt, const char *s, struct spec *sp)
{
    memset(sp, 0, sizeof *sp);
    sp->prec = -1;
    strcpy(sp->fill, " ");
    uint32_t cp;
    int k = mlxc_utf8_decode(s, strlen(s), &cp);
    if (k > 0 && s[k] && strchr("<>^=", s[k])) {
        memcpy(sp->fill, s, (size_t)k);
        sp->fill[k] = 0;
        sp->align = s[k];
        s += k + 1;
    } else if (*s && strchr("<>^=", *s))
        sp->align = *s++;
    if (*s == '+' || *s == '-' || *s == ' ')
        sp->sign = *s++;
    if (*s == '#') { sp->alt = 1; s++; }
    if (*s == '0') { sp->zero = 1; s++; }
    while (*s >= '0' && *s <= '9') {
        sp->width = sp->width * 10 + (*s++ - '0');
        if (sp->width > 100000)
            mlxc_jinja_fail(rt, MLXC_EINVAL, "Too many decimal digits in format string");
    }
    if (*s == ',' || *s == '_') sp->group = *s++;
    if (*s == '.') {
        s++;
        sp->prec = 0;
        if (*s < '0' || *s > '9')
            mlxc_jinja_fail(rt, MLXC_EINVAL, "Format specifier missing precision");
        while (*s >= '0' && *s <= '9') {
            sp->prec = sp->prec * 10 + (*s++ - '0');
            if (sp->prec > 1000)
                mlxc_jinja_fail(rt, MLXC_EINVAL, "precision too big");
        }
    }
    if (*s)
        sp->type = *s++;
    if (*s)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "Invalid format specifier");
}

/* Pads body (sign/prefix already split off for '=' alignment) to the spec's width. */
static void pad(struct mlxc_buf *b, const struct spec *sp, const char *prefix, const char *body, char dflt_align)
{
    size_t len = mlxc_jv_cplen(prefix, strlen(prefix)) + mlxc_jv_cplen(body, strlen(body));
    char align = sp->align ? sp->align : dflt_align;
    const char *fill = sp->fill;
    if (sp->zero && !sp->align) {
        align = '=';
        fill = "0";
    }
    int total = sp->width > (int)len ? sp->width - (int)len : 0, left = 0;
    if (align == '>' || align == '=') left = total;
    else if (align == '^') left = total / 2;
    if (align == '=')
        mlxc_buf_puts(b, prefix);
    for (int i = 0; i < left; i++) mlxc_buf_puts(b, fill);
    if (align != '=')
        mlxc_buf_puts(b, prefix);
    mlxc_buf_puts(b, body);
    for (int i = left; i < total; i++) mlxc_buf_puts(b, fill);
}

static void group_digits(char *digits, char sep)
{
    char tmp[512];
    char *dot = strpbrk(digits, ".eE");
    size_t ilen = dot ? (size_t)(dot - digits) : strlen(digits), k = 0;
    for (size_t i = 0; i < ilen; i++) {
        if (i && (ilen - i) % 3 == 0)
            tmp[k++] = sep;
        tmp[k++] = digits[i];
    }
    snprintf(tmp + k, sizeof tmp - k, "%s", dot ? dot : "");
    strcpy(digits, tmp);
}

/* format(v, spec) into b */
static void format_value(struct jrt *rt, struct mlxc_buf *b, mlxc_jv v, const char *specstr)
{
    struct spec sp;
    parse_spec(rt, specstr, &sp);
    char body[512], prefix[8] = "";
    if (v.t == JV_UNDEF)
        mlxc_jinja_undefined_error(rt, v);
    if (v.t == JV_STR || (!*specstr && v.t != JV_INT && v.t != JV_FLOAT)) {
        if (sp.type && sp.type != 's')
            mlxc_jinja_fail(rt, MLXC_EINVAL, "Unknown format code '%c' for object of type '%s'", sp.type,
                            mlxc_jv_type_name(v));
        mlxc_jv s = mlxc_jinja_to_string(rt, v);
        size_t n;
        uint32_t *cp = mlxc_jinja_codepoints(rt, s, &n);
        if (sp.prec >= 0 && (size_t)sp.prec < n)
            s = mlxc_jinja_from_codepoints(rt, cp, (size_t)sp.prec);
        pad(b, &sp, "", s.u.s->s, '<');
        return;
    }
    if (!mlxc_jv_is_number(v))
        mlxc_jinja_fail(rt, MLXC_EINVAL, "unsupported format string passed to %s.__format__", mlxc_jv_type_name(v));
    char type = sp.type;
    int is_int = v.t != JV_FLOAT && (!type || strchr("dnxXobc", type));
    if (is_int) {
        if (v.t == JV_BOOL && !type) {
            pad(b, &sp, "", v.u.i ? "True" : "False", '<');
            return;
        }
        int64_t x = v.u.i;
        uint64_t ax = x < 0 ? 0 - (uint64_t)x : (uint64_t)x;
        if (type == 'c') {
            char enc[5] = {0};
            if (mlxc_utf8_encode((uint32_t)x, enc) <= 0)
                mlxc_jinja_fail(rt, MLXC_EINVAL, "%%c arg not in range(0x110000)");
            pad(b, &sp, "", enc, '<');
            return;
        }
        if (type == 'x' || type == 'X') snprintf(body, sizeof body, type == 'x' ? "%llx" : "%llX", (unsigned long long)ax);
        else if (type == 'o') snprintf(body, sizeof body, "%llo", (unsigned long long)ax);
        else if (type == 'b') {
            char t[72];
            int k = 0;
            do { t[k++] = (char)('0' + (ax & 1)); ax >>= 1; } while (ax);
            for (int i = 0; i < k; i++) body[i] = t[k - 1 - i];
            body[k] = 0;
        } else
            snprintf(body, sizeof body, "%llu", (unsigned long long)ax);
        if (sp.group)
            group_digits(body, (char)sp.group);
        size_t pl = 0;
        if (x < 0) prefix[pl++] = '-';
        else if (sp.sign == '+' || sp.sign == ' ') prefix[pl++] = sp.sign;
        if (sp.alt && type && strchr("xXob", type)) {
            prefix[pl++] = '0';
            prefix[pl++] = type == 'X' ? 'X' : type;
        }
        prefix[pl] = 0;
        pad(b, &sp, prefix, body, '>');
        return;
    }
    double f = v.t == JV_FLOAT ? v.u.f : (double)v.u.i;
    double af = fabs(f);
    int neg = signbit(f) && !isnan(f);
    if (!type) {
        if (sp.prec < 0)
            mlxc_jv_float_repr(af, body);
        else {
            snprintf(body, sizeof body, "%.*g", sp.prec ? sp.prec : 1, af);
        }
    } else if (type == '%') {
        snprintf(body, sizeof body, "%.*f%%", sp.prec < 0 ? 6 : sp.prec, af * 100);
    } else if (strchr("eEfFgG", type)) {
        char fmt[8];
        snprintf(fmt, sizeof fmt, "%%.*%c", type);
        snprintf(body, sizeof body, fmt, sp.prec < 0 ? 6 : sp.prec, af);
    } else
        mlxc_jinja_fail(rt, MLXC_EINVAL, "Unknown format code '%c' for object of type 'float'", type);
    if (isinf(f)) strcpy(body, type && strchr("EFG", type) ? "INF" : "inf");
    if (isnan(f)) strcpy(body, type && strchr("EFG", type) ? "NAN" : "nan");
    if (sp.group)
        group_digits(body, (char)sp.group);
    size_t pl = 0;
    if (neg) prefix[pl++] = '-';
    else if (sp.sign == '+' || sp.sign == ' ') prefix[pl++] = sp.sign;
    prefix[pl] = 0;
    pad(b, &sp, prefix, body, '>');
}

/* ---- str.format ---- */

mlxc_jv mlxc_jinja_str_format(struct jrt *rt, mlxc_jv fmt, struct jargs *a)
{
    struct mlxc_buf *b = mlxc_jinja_tmpbuf(rt);
    const char *s = fmt.u.s->s, *end = s + fmt.u.s->len;
    int auto_idx = 0, manual = 0;
    while (s < end) {
        if (*s == '}') {
            if (s + 1 < end && s[1] == '}') { mlxc_buf_putc(b, '}'); s += 2; continue; }
            mlxc_jinja_fail(rt, MLXC_EINVAL, "Single '}' encountered in format string");
        }
        if (*s != '{') { mlxc_buf_putc(b, *s++); continue; }
        if (s + 1 < end && s[1] == '{') { mlxc_buf_putc(b, '{'); s += 2; continue; }
        const char *close = memchr(s, '}', (size_t)(end - s));
        if (!close)
            mlxc_jinja_fail(rt, MLXC_EINVAL, "Single '{' encountered in format string");
        char field[512];
        size_t fl = (size_t)(close - s - 1);
        if (fl >= sizeof field || memchr(s + 1, '{', fl))
            mlxc_jinja_fail(rt, MLXC_EUNSUP, "nested or overlong format fields are not supported");
        memcpy(field, s + 1, fl);
        field[fl] = 0;
        s = close + 1;
        char *spec = strchr(field, ':');
        if (spec) *spec++ = 0;
        char *conv = strchr(field, '!');
        if (conv) *conv++ = 0;
        /* the argument: index or name, then .attr / [key] */
        char *p = field;
        size_t nl = strcspn(p, ".[");
        mlxc_jv v;
        if (!nl) {
            if (manual)
                mlxc_jinja_fail(rt, MLXC_EINVAL, "cannot switch from manual field specification to automatic field numbering");
            if (auto_idx >= a->npos)
                mlxc_jinja_fail(rt, MLXC_EINVAL, "Replacement index %d out of range for positional args tuple", auto_idx);
            v = a->pos[auto_idx++];
        } else if (p[0] >= '0' && p[0] <= '9') {
            manual = 1;
            /* the digits may be any number of them: atoi would overflow (and a negative index read
             * before the arguments); anything past the arguments is out of range, as in Python */
            size_t nd = strspn(p, "0123456789");
            long long idx = nd <= 9 ? strtoll(p, NULL, 10) : LLONG_MAX;
            if (idx >= a->npos)
                mlxc_jinja_fail(rt, MLXC_EINVAL, "Replacement index %.*s out of range for positional args tuple",
                                (int)nd, p);
            v = a->pos[idx];
        } else {
            char name[512];
            memcpy(name, p, nl);
            name[nl] = 0;
            v = mlxc_jinja_arg(rt, a, -1, name, mlxc_jv_undef(NULL));
            if (v.t == JV_UNDEF && !v.u.hint)
                mlxc_jinja_fail(rt, MLXC_EINVAL, "'%s'", name);
        }
        p += nl;
        while (*p) {
            if (*p == '.') {
                size_t k = strcspn(p + 1, ".[");
                char name[512];
                memcpy(name, p + 1, k);
                name[k] = 0;
                v = mlxc_jinja_getattr(rt, v, name);
                p += 1 + k;
            } else {
                char *rb = strchr(p, ']');
                if (!rb)
                    mlxc_jinja_fail(rt, MLXC_EINVAL, "Missing ']' in format string");
                *rb = 0;
                mlxc_jv key = (p[1] >= '0' && p[1] <= '9') ? mlxc_jv_int(strtoll(p + 1, NULL, 10)) : mlxc_jinja_cstr(rt, p + 1);
                v = mlxc_jinja_getitem(rt, v, key);
                p = rb + 1;
            }
        }
        if (conv) {
            struct mlxc_buf t = MLXC_BUF_INIT;
            if (!strcmp(conv, "r") || !strcmp(conv, "a")) mlxc_jv_repr(&t, v);
            else if (!strcmp(conv, "s")) mlxc_jv_to_str(&t, v);
            else {
                mlxc_buf_free(&t);
                mlxc_jinja_fail(rt, MLXC_EINVAL, "Unknown conversion specifier %s", conv);
            }
            v = mlxc_jinja_buf_str(rt, &t);
        }
        format_value(rt, b, v, spec ? spec : "");
        if (b->len > rt->max_output)
            mlxc_jinja_fail(rt, MLXC_ENOMEM, "string is over the output limit");
    }
    return mlxc_jinja_tmpbuf_take(rt, b);
}

/* ---- printf-style % ---- */

mlxc_jv mlxc_jinja_str_percent(struct jrt *rt, mlxc_jv fmt, mlxc_jv args)
{
    struct mlxc_buf *b = mlxc_jinja_tmpbuf(rt);
    const char *s = fmt.u.s->s, *end = s + fmt.u.s->len;
    int is_tuple = args.t == JV_LIST && args.u.l->kind == JV_LIST_TUPLE;
    size_t next = 0;
    int used_mapping = 0;
    while (s < end) {
        if (*s != '%') { mlxc_buf_putc(b, *s++); continue; }
        s++;
        if (s >= end)
            mlxc_jinja_fail(rt, MLXC_EINVAL, "incomplete format");
        mlxc_jv v = mlxc_jv_none();
        int have = 0;
        if (*s == '(') {
            const char *c = memchr(s, ')', (size_t)(end - s));
            if (!c)
                mlxc_jinja_fail(rt, MLXC_EINVAL, "incomplete format key");
            if (args.t != JV_DICT)
                mlxc_jinja_fail(rt, MLXC_EINVAL, "format requires a mapping");
            long i = mlxc_jv_dict_find_str(args.u.d, s + 1, (size_t)(c - s - 1));
            if (i < 0)
                mlxc_jinja_fail(rt, MLXC_EINVAL, "'%.*s'", (int)(c - s - 1), s + 1);
            v = args.u.d->v[i];
            have = used_mapping = 1;
            s = c + 1;
        }
        char spec[64];
        size_t k = 0;
        struct spec sp;
        memset(&sp, 0, sizeof sp);
        while (s < end && strchr("-+ #0", *s) && k < 8) {
            if (*s == '-') sp.align = '<';
            else if (*s == '+') sp.sign = '+';
            else if (*s == ' ' && sp.sign != '+') sp.sign = ' ';
            else if (*s == '#') sp.alt = 1;
            else sp.zero = 1;
            s++;
        }
        int width = 0, prec = -1;
        while (s < end && *s >= '0' && *s <= '9' && width < 100000) width = width * 10 + (*s++ - '0');
        if (s < end && *s == '.') {
            s++;
            prec = 0;
            while (s < end && *s >= '0' && *s <= '9' && prec < 1000) prec = prec * 10 + (*s++ - '0');
        }
        while (s < end && strchr("hlL", *s)) s++;
        if (s >= end)
            mlxc_jinja_fail(rt, MLXC_EINVAL, "incomplete format");
        char type = *s++;
        if (type == '%') { mlxc_buf_putc(b, '%'); continue; }
        if (!have) {
            if (is_tuple) {
                if (next >= args.u.l->n)
                    mlxc_jinja_fail(rt, MLXC_EINVAL, "not enough arguments for format string");
                v = args.u.l->v[next++];
            } else {
                if (next++ > 0)
                    mlxc_jinja_fail(rt, MLXC_EINVAL, "not enough arguments for format string");
                v = args;
            }
        }
        /* build an equivalent format spec */
        k = 0;
        if (sp.align) spec[k++] = '<';
        else if (sp.zero && type != 's' && type != 'r' && type != 'a') { spec[k++] = '0'; spec[k++] = '='; }
        else spec[k++] = '>';
        if (sp.sign) spec[k++] = sp.sign;
        if (sp.alt) spec[k++] = '#';
        k += (size_t)snprintf(spec + k, sizeof spec - k, "%d", width);
        if (prec >= 0 && type != 'd' && type != 'i' && type != 'u')
            k += (size_t)snprintf(spec + k, sizeof spec - k, ".%d", prec);
        if (type == 's' || type == 'r' || type == 'a') {
            struct mlxc_buf t = MLXC_BUF_INIT;
            if (type == 's') mlxc_jv_to_str(&t, v);
            else mlxc_jv_repr(&t, v);
            v = mlxc_jinja_buf_str(rt, &t);
        } else if (strchr("diu", type)) {
            if (v.t == JV_FLOAT) { /* Python's int(): truncated; mlxc's integers end at 64 bits, as |int's do */
                if (!isfinite(v.u.f))
                    mlxc_jinja_fail(rt, MLXC_EINVAL, isnan(v.u.f) ? "cannot convert float NaN to integer" :
                                    "cannot convert float infinity to integer");
                if (fabs(v.u.f) >= 9.2e18)
                    mlxc_jinja_fail(rt, MLXC_EUNSUP, "integer overflow");
                v = mlxc_jv_int((int64_t)v.u.f);
            }
            if (v.t != JV_INT && v.t != JV_BOOL)
                mlxc_jinja_fail(rt, MLXC_EINVAL, "%%%c format: a real number is required, not %s", type, mlxc_jv_type_name(v));
            v = mlxc_jv_int(v.u.i);
            spec[k++] = 'd';
        } else if (strchr("xXoc", type)) {
            if (v.t != JV_INT && v.t != JV_BOOL)
                mlxc_jinja_fail(rt, MLXC_EINVAL, "%%%c format: an integer is required, not %s", type, mlxc_jv_type_name(v));
            v = mlxc_jv_int(v.u.i);
            spec[k++] = type;
        } else if (strchr("eEfFgG", type)) {
            if (!mlxc_jv_is_number(v))
                mlxc_jinja_fail(rt, MLXC_EINVAL, "must be real number, not %s", mlxc_jv_type_name(v));
            v = mlxc_jv_float(v.t == JV_FLOAT ? v.u.f : (double)v.u.i);
            spec[k++] = type;
        } else
            mlxc_jinja_fail(rt, MLXC_EINVAL, "unsupported format character '%c'", type);
        spec[k] = 0;
        format_value(rt, b, v, spec);
        if (b->len > rt->max_output)
            mlxc_jinja_fail(rt, MLXC_ENOMEM, "string is over the output limit");
    }
    if (!used_mapping && is_tuple && next < args.u.l->n)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "not all arguments converted during string formatting");
    return mlxc_jinja_tmpbuf_take(rt, b);
}

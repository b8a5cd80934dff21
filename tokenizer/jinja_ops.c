/* Python semantics of the Jinja engine's operations: attribute and item lookup (as jinja2's sandbox
 * does them), iteration, len(), arithmetic, comparisons and membership, plus small runtime helpers. */
#include "tokenizer/jinja_eval.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"

/* ---- errors ---- */

void mlxc_jinja_fail(struct jrt *rt, int code, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (rt->at)
        mlxc_errf(rt->e, code, "template line %d, column %d: %s", rt->at->line, rt->at->col, msg);
    else
        mlxc_errf(rt->e, code, "template: %s", msg);
    longjmp(rt->jb, 1);
}

void mlxc_jinja_oom(struct jrt *rt)
{
    mlxc_jinja_fail(rt, MLXC_ENOMEM, "out of memory (the render is over its memory limit)");
}

void mlxc_jinja_undefined_error(struct jrt *rt, mlxc_jv u)
{
    mlxc_jinja_fail(rt, MLXC_EINVAL, "%s", u.u.hint ? u.u.hint : "value is undefined");
}

/* ---- allocation ---- */

mlxc_jv mlxc_jinja_str(struct jrt *rt, const char *s, size_t n)
{
    if (n > rt->max_output)
        mlxc_jinja_fail(rt, MLXC_ENOMEM, "string of %zu bytes is over the output limit", n);
    struct mlxc_jv_str *r = mlxc_jv_str_new(rt->a, s, n);
    if (!r)
        mlxc_jinja_oom(rt);
    return mlxc_jv_of_str(r);
}

mlxc_jv mlxc_jinja_cstr(struct jrt *rt, const char *s) { return mlxc_jinja_str(rt, s, strlen(s)); }

mlxc_jv mlxc_jinja_buf_str(struct jrt *rt, struct mlxc_buf *b)
{
    if (b->oom) {
        mlxc_buf_free(b);
        mlxc_jinja_oom(rt);
    }
    if (b->len > rt->max_output) {
        size_t n = b->len;
        mlxc_buf_free(b);
        mlxc_jinja_fail(rt, MLXC_ENOMEM, "string of %zu bytes is over the output limit", n);
    }
    struct mlxc_jv_str *r = mlxc_jv_str_new(rt->a, b->data ? b->data : "", b->len);
    mlxc_buf_free(b);
    if (!r)
        mlxc_jinja_oom(rt);
    return mlxc_jv_of_str(r);
}

struct mlxc_jv_list *mlxc_jinja_list(struct jrt *rt, size_t cap)
{
    struct mlxc_jv_list *l = mlxc_jv_list_new(rt->a, cap);
    if (!l)
        mlxc_jinja_oom(rt);
    return l;
}

void mlxc_jinja_push(struct jrt *rt, struct mlxc_jv_list *l, mlxc_jv v)
{
    if (mlxc_jv_list_push(rt->a, l, v))
        mlxc_jinja_oom(rt);
}

struct mlxc_jv_dict *mlxc_jinja_dict(struct jrt *rt)
{
    struct mlxc_jv_dict *d = mlxc_jv_dict_new(rt->a, 0);
    if (!d)
        mlxc_jinja_oom(rt);
    return d;
}

void mlxc_jinja_dset(struct jrt *rt, struct mlxc_jv_dict *d, mlxc_jv k, mlxc_jv v)
{
    if (!mlxc_jv_hashable(k))
        mlxc_jinja_fail(rt, MLXC_EINVAL, "unhashable type: '%s'", mlxc_jv_type_name(k));
    if (mlxc_jv_dict_set(rt->a, d, k, v))
        mlxc_jinja_oom(rt);
}

const char *mlxc_jinja_fmt(struct jrt *rt, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    return mlxc_jinja_cstr(rt, tmp).u.s->s;
}

mlxc_jv mlxc_jinja_bound(struct jrt *rt, const char *name, jbuiltin_fn fn, mlxc_jv self)
{
    struct mlxc_jv_func *f = mlxc_jv_alloc(rt->a, sizeof *f);
    if (!f)
        mlxc_jinja_oom(rt);
    memset(f, 0, sizeof *f);
    f->name = name;
    f->fn = fn;
    f->self = self;
    mlxc_jv v = {.t = JV_FUNC};
    v.u.fn = f;
    return v;
}

/* ---- arguments ---- */

const mlxc_jv MLXC_JINJA_REQUIRED = {.t = JV_UNDEF, .u.hint = "required"};

mlxc_jv mlxc_jinja_arg(struct jrt *rt, struct jargs *args, int idx, const char *name, mlxc_jv dflt)
{
    if (idx >= 0 && idx < args->npos)
        return args->pos[idx];
    for (int k = 0; k < args->nkw; k++)
        if (!strcmp(args->kwn[k], name))
            return args->kwv[k];
    if (dflt.t == JV_UNDEF && dflt.u.hint == MLXC_JINJA_REQUIRED.u.hint)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "missing required argument '%s'", name);
    return dflt;
}

void mlxc_jinja_check_args(struct jrt *rt, struct jargs *args, int maxpos, const char *const *names,
                           const char *what)
{
    if (args->npos > maxpos)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "%s takes at most %d positional argument(s) (%d given)", what,
                        maxpos, args->npos);
    for (int k = 0; k < args->nkw; k++) {
        int ok = 0, idx = 0;
        for (const char *const *n = names; n && *n; n++, idx++)
            if (!strcmp(*n, args->kwn[k])) {
                ok = 1;
                if (idx < args->npos)
                    mlxc_jinja_fail(rt, MLXC_EINVAL, "%s got multiple values for argument '%s'", what,
                                    args->kwn[k]);
            }
        if (!ok)
            mlxc_jinja_fail(rt, MLXC_EINVAL, "%s got an unexpected keyword argument '%s'", what, args->kwn[k]);
    }
}

/* ---- conversions ---- */

mlxc_jv mlxc_jinja_to_string(struct jrt *rt, mlxc_jv v)
{
    if (v.t == JV_STR)
        return v;
    struct mlxc_buf b = MLXC_BUF_INIT;
    mlxc_jv_to_str(&b, v);
    return mlxc_jinja_buf_str(rt, &b);
}

uint32_t *mlxc_jinja_codepoints(struct jrt *rt, mlxc_jv s, size_t *n)
{
    const char *p = s.u.s->s;
    size_t len = s.u.s->len, k = 0;
    uint32_t *cp = mlxc_jv_alloc(rt->a, (len + 1) * sizeof *cp);
    if (!cp)
        mlxc_jinja_oom(rt);
    for (size_t i = 0; i < len;) {
        int m = mlxc_utf8_decode(p + i, len - i, &cp[k]);
        if (m <= 0) {
            cp[k] = (unsigned char)p[i];
            m = 1;
        }
        k++;
        i += (size_t)m;
    }
    *n = k;
    return cp;
}

mlxc_jv mlxc_jinja_from_codepoints(struct jrt *rt, const uint32_t *cp, size_t n)
{
    char *o = mlxc_jv_alloc(rt->a, n * 4 + 1);
    if (!o)
        mlxc_jinja_oom(rt);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += (size_t)mlxc_utf8_encode(cp[i], o + k);
    return mlxc_jinja_str(rt, o, k);
}

struct mlxc_jv_list *mlxc_jinja_iter(struct jrt *rt, mlxc_jv v)
{
    switch (v.t) {
    case JV_UNDEF:
        if (v.unsafe)
            mlxc_jinja_undefined_error(rt, v);
        return mlxc_jinja_list(rt, 0);
    case JV_LIST: return v.u.l;
    case JV_DICT: {
        struct mlxc_jv_list *l = mlxc_jinja_list(rt, v.u.d->n);
        for (size_t i = 0; i < v.u.d->n; i++)
            l->v[l->n++] = v.u.d->k[i];
        return l;
    }
    case JV_STR: {
        struct mlxc_jv_list *l = mlxc_jinja_list(rt, v.u.s->len);
        const char *s = v.u.s->s;
        size_t n = v.u.s->len;
        for (size_t i = 0; i < n;) {
            size_t k = 1;
            while (i + k < n && ((unsigned char)s[i + k] & 0xc0) == 0x80)
                k++;
            l->v[l->n++] = mlxc_jinja_str(rt, s + i, k);
            i += k;
        }
        return l;
    }
    default:
        mlxc_jinja_fail(rt, MLXC_EINVAL, "'%s' object is not iterable", mlxc_jv_type_name(v));
    }
}

int64_t mlxc_jinja_len(struct jrt *rt, mlxc_jv v)
{
    switch (v.t) {
    case JV_UNDEF: return 0;
    case JV_STR: return (int64_t)mlxc_jv_cplen(v.u.s->s, v.u.s->len);
    case JV_LIST: return (int64_t)v.u.l->n;
    case JV_DICT: return (int64_t)v.u.d->n;
    default:
        mlxc_jinja_fail(rt, MLXC_EINVAL, "object of type '%s' has no len()", mlxc_jv_type_name(v));
    }
}

/* ---- lookups ---- */

static mlxc_jv undefined_attr(struct jrt *rt, mlxc_jv obj, const char *name)
{
    return mlxc_jv_undef(mlxc_jinja_fmt(rt, "'%s' has no attribute '%s'", mlxc_jv_object_repr(obj), name));
}

static mlxc_jv undefined_item(struct jrt *rt, mlxc_jv obj, mlxc_jv key)
{
    if (key.t == JV_STR)
        return undefined_attr(rt, obj, key.u.s->s);
    struct mlxc_buf b = MLXC_BUF_INIT;
    mlxc_buf_printf(&b, "%s has no element ", mlxc_jv_object_repr(obj));
    mlxc_jv_repr(&b, key);
    return mlxc_jv_undef(mlxc_jinja_buf_str(rt, &b).u.s->s);
}

mlxc_jv mlxc_jinja_getattr(struct jrt *rt, mlxc_jv obj, const char *name)
{
    if (obj.t == JV_UNDEF)
        mlxc_jinja_undefined_error(rt, obj);
    if (obj.t == JV_LOOP)
        return mlxc_jinja_loop_attr(rt, obj, name);
    if (obj.t == JV_CYCLER)
        return mlxc_jinja_cycler_attr(rt, obj, name);
    if (obj.t == JV_NS) {
        long i = mlxc_jv_dict_find_str(obj.u.d, name, strlen(name));
        return i >= 0 ? obj.u.d->v[i] : undefined_attr(rt, obj, name);
    }
    if (mlxc_jv_is_number(obj) && (!strcmp(name, "real") || !strcmp(name, "imag"))) {
        int real = name[0] == 'r';
        if (obj.t == JV_FLOAT)
            return mlxc_jv_float(real ? obj.u.f : 0.0);
        return mlxc_jv_int(real ? obj.u.i : 0);
    }
    mlxc_jv m = mlxc_jinja_method(rt, obj, name);
    if (m.t != JV_UNDEF || m.u.hint)
        return m;
    if (name[0] == '_' && (obj.t == JV_STR || obj.t == JV_LIST || obj.t == JV_DICT)) {
        /* dunder attributes exist on every object and the sandbox refuses them */
        if (name[1] == '_') {
            mlxc_jv u = mlxc_jv_undef(mlxc_jinja_fmt(rt, "access to attribute '%s' of '%s' object is unsafe.",
                                                     name, mlxc_jv_type_name(obj)));
            u.unsafe = 1;
            return u;
        }
    }
    if (obj.t == JV_DICT) {
        long i = mlxc_jv_dict_find_str(obj.u.d, name, strlen(name));
        if (i >= 0)
            return obj.u.d->v[i];
    }
    return undefined_attr(rt, obj, name);
}

static int64_t index_of(mlxc_jv key) { return key.u.i; }

mlxc_jv mlxc_jinja_getitem(struct jrt *rt, mlxc_jv obj, mlxc_jv key)
{
    if (obj.t == JV_UNDEF)
        mlxc_jinja_undefined_error(rt, obj);
    if (key.t == JV_UNDEF && obj.t != JV_DICT)
        mlxc_jinja_undefined_error(rt, key);
    if ((obj.t == JV_LIST || obj.t == JV_STR) && (key.t == JV_INT || key.t == JV_BOOL)) {
        int64_t i = index_of(key);
        if (obj.t == JV_LIST) {
            int64_t n = (int64_t)obj.u.l->n;
            if (i < 0)
                i += n;
            if (i >= 0 && i < n)
                return obj.u.l->v[i];
        } else {
            size_t n;
            uint32_t *cp = mlxc_jinja_codepoints(rt, obj, &n);
            if (i < 0)
                i += (int64_t)n;
            if (i >= 0 && i < (int64_t)n)
                return mlxc_jinja_from_codepoints(rt, cp + i, 1);
        }
        return undefined_item(rt, obj, key);
    }
    if (obj.t == JV_DICT && mlxc_jv_hashable(key)) {
        long i = mlxc_jv_dict_find(obj.u.d, key);
        if (i >= 0)
            return obj.u.d->v[i];
    }
    if (key.t == JV_STR) {
        mlxc_jv m = obj.t == JV_NS ? mlxc_jv_undef(NULL) : mlxc_jinja_method(rt, obj, key.u.s->s);
        if (obj.t == JV_LOOP || obj.t == JV_CYCLER)
            return mlxc_jinja_getattr(rt, obj, key.u.s->s);
        if (m.t != JV_UNDEF || m.u.hint)
            return m;
    }
    return undefined_item(rt, obj, key);
}

/* ---- arithmetic ---- */

static const char *op_name(int op)
{
    switch (op) {
    case JT_ADD: return "+";
    case JT_SUB: return "-";
    case JT_MUL: return "*";
    case JT_DIV: return "/";
    case JT_FLOORDIV: return "//";
    case JT_MOD: return "%";
    default: return "**";
    }
}

__attribute__((noreturn)) static void unsupported(struct jrt *rt, int op, mlxc_jv a, mlxc_jv b)
{
    if (op == JT_POW)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "unsupported operand type(s) for ** or pow(): '%s' and '%s'",
                        mlxc_jv_type_name(a), mlxc_jv_type_name(b));
    mlxc_jinja_fail(rt, MLXC_EINVAL, "unsupported operand type(s) for %s: '%s' and '%s'", op_name(op),
                    mlxc_jv_type_name(a), mlxc_jv_type_name(b));
}

static double fval(mlxc_jv v) { return v.t == JV_FLOAT ? v.u.f : (double)v.u.i; }

/* Python's float divmod: the quotient and remainder rounded towards -inf, sign of the remainder
 * following the divisor. */
static void float_divmod(double vx, double wx, double *div, double *mod)
{
    double m = fmod(vx, wx), d = (vx - m) / wx;
    if (m != 0) {
        if ((wx < 0) != (m < 0)) {
            m += wx;
            d -= 1.0;
        }
    } else
        m = copysign(0.0, wx);
    double fd;
    if (d != 0) {
        fd = floor(d);
        if (d - fd > 0.5)
            fd += 1.0;
    } else
        fd = copysign(0.0, vx / wx);
    *div = fd;
    *mod = m;
}

static mlxc_jv repeat(struct jrt *rt, mlxc_jv seq, int64_t times)
{
    if (times < 0)
        times = 0;
    if (seq.t == JV_STR) {
        size_t n = seq.u.s->len;
        if (n && (uint64_t)times > rt->max_output / n)
            mlxc_jinja_fail(rt, MLXC_ENOMEM, "repeated string is over the output limit");
        char *o = mlxc_jv_alloc(rt->a, n * (size_t)times + 1);
        if (!o)
            mlxc_jinja_oom(rt);
        for (int64_t i = 0; i < times; i++)
            memcpy(o + (size_t)i * n, seq.u.s->s, n);
        return mlxc_jinja_str(rt, o, n * (size_t)times);
    }
    size_t n = seq.u.l->n;
    if (n && (uint64_t)times > (rt->max_output / 16) / n)
        mlxc_jinja_fail(rt, MLXC_ENOMEM, "repeated list is too long");
    struct mlxc_jv_list *l = mlxc_jinja_list(rt, n * (size_t)times);
    l->kind = seq.u.l->kind == JV_LIST_TUPLE ? JV_LIST_TUPLE : JV_LIST_PLAIN;
    for (int64_t i = 0; i < times; i++)
        for (size_t k = 0; k < n; k++)
            l->v[l->n++] = seq.u.l->v[k];
    return mlxc_jv_of_list(l);
}

static mlxc_jv escape_str(struct jrt *rt, mlxc_jv v);

mlxc_jv mlxc_jinja_binop(struct jrt *rt, int op, mlxc_jv a, mlxc_jv b)
{
    if (a.t == JV_UNDEF)
        mlxc_jinja_undefined_error(rt, a);
    if (b.t == JV_UNDEF)
        mlxc_jinja_undefined_error(rt, b);
    int na = mlxc_jv_is_number(a), nb = mlxc_jv_is_number(b);
    if (na && nb) {
        int isf = a.t == JV_FLOAT || b.t == JV_FLOAT;
        int64_t x = a.u.i, y = b.u.i, r;
        double fx = fval(a), fy = fval(b), d, m;
        switch (op) {
        case JT_ADD:
            if (isf) return mlxc_jv_float(fx + fy);
            if (__builtin_add_overflow(x, y, &r)) break;
            return mlxc_jv_int(r);
        case JT_SUB:
            if (isf) return mlxc_jv_float(fx - fy);
            if (__builtin_sub_overflow(x, y, &r)) break;
            return mlxc_jv_int(r);
        case JT_MUL:
            if (isf) return mlxc_jv_float(fx * fy);
            if (__builtin_mul_overflow(x, y, &r)) break;
            return mlxc_jv_int(r);
        case JT_DIV:
            if (fy == 0)
                mlxc_jinja_fail(rt, MLXC_EINVAL, isf ? "float division by zero" : "division by zero");
            return mlxc_jv_float(fx / fy);
        case JT_FLOORDIV:
        case JT_MOD:
            if (isf) {
                if (fy == 0)
                    mlxc_jinja_fail(rt, MLXC_EINVAL, op == JT_MOD ? "float modulo" : "float floor division by zero");
                float_divmod(fx, fy, &d, &m);
                return mlxc_jv_float(op == JT_MOD ? m : d);
            }
            if (y == 0)
                mlxc_jinja_fail(rt, MLXC_EINVAL, "integer division or modulo by zero");
            if (x == INT64_MIN && y == -1) break;
            {
                /* floor division: the quotient rounds towards -inf, the remainder takes y's sign */
                int64_t q = x / y, rem = x % y;
                if (rem != 0 && ((rem < 0) != (y < 0))) {
                    q -= 1;
                    rem += y;
                }
                return mlxc_jv_int(op == JT_MOD ? rem : q);
            }
        case JT_POW:
            if (!isf && y >= 0) {
                int64_t acc = 1, base = x;
                int64_t e = y;
                int over = 0;
                while (e > 0 && !over) {
                    if (e & 1)
                        over |= __builtin_mul_overflow(acc, base, &acc);
                    e >>= 1;
                    if (e)
                        over |= __builtin_mul_overflow(base, base, &base);
                }
                if (over) break;
                return mlxc_jv_int(acc);
            }
            if (fx == 0 && fy < 0)
                mlxc_jinja_fail(rt, MLXC_EINVAL, "0.0 cannot be raised to a negative power");
            if (fx < 0 && fy != floor(fy))
                mlxc_jinja_fail(rt, MLXC_EUNSUP, "complex results are not supported");
            return mlxc_jv_float(pow(fx, fy));
        }
        mlxc_jinja_fail(rt, MLXC_EUNSUP, "integer overflow (Python integers are unbounded; this engine's are 64-bit)");
    }
    if (op == JT_ADD) {
        if (a.t == JV_STR && b.t == JV_STR) {
            /* Markup + str escapes the plain side */
            if (a.u.s->markup && !b.u.s->markup) b = escape_str(rt, b);
            if (b.u.s->markup && !a.u.s->markup) a = escape_str(rt, a);
            size_t n = a.u.s->len + b.u.s->len;
            if (n > rt->max_output)
                mlxc_jinja_fail(rt, MLXC_ENOMEM, "string of %zu bytes is over the output limit", n);
            struct mlxc_jv_str *s = mlxc_jv_str_new(rt->a, NULL, n);
            if (!s)
                mlxc_jinja_oom(rt);
            memcpy(s->s, a.u.s->s, a.u.s->len);
            memcpy(s->s + a.u.s->len, b.u.s->s, b.u.s->len);
            s->markup = a.u.s->markup || b.u.s->markup;
            return mlxc_jv_of_str(s);
        }
        if (a.t == JV_STR)
            mlxc_jinja_fail(rt, MLXC_EINVAL, "can only concatenate str (not \"%s\") to str", mlxc_jv_type_name(b));
        if (a.t == JV_LIST && b.t == JV_LIST && a.u.l->kind != JV_LIST_ITEMS && a.u.l->kind <= JV_LIST_TUPLE) {
            if (a.u.l->kind != b.u.l->kind)
                mlxc_jinja_fail(rt, MLXC_EINVAL, "can only concatenate %s (not \"%s\") to %s", mlxc_jv_type_name(a),
                                mlxc_jv_type_name(b), mlxc_jv_type_name(a));
            struct mlxc_jv_list *l = mlxc_jinja_list(rt, a.u.l->n + b.u.l->n);
            l->kind = a.u.l->kind;
            for (size_t i = 0; i < a.u.l->n; i++) l->v[l->n++] = a.u.l->v[i];
            for (size_t i = 0; i < b.u.l->n; i++) l->v[l->n++] = b.u.l->v[i];
            return mlxc_jv_of_list(l);
        }
        if (a.t == JV_LIST && a.u.l->kind <= JV_LIST_TUPLE)
            mlxc_jinja_fail(rt, MLXC_EINVAL, "can only concatenate %s (not \"%s\") to %s", mlxc_jv_type_name(a),
                            mlxc_jv_type_name(b), mlxc_jv_type_name(a));
    }
    if (op == JT_MUL) {
        int seqa = a.t == JV_STR || (a.t == JV_LIST && a.u.l->kind <= JV_LIST_TUPLE);
        int seqb = b.t == JV_STR || (b.t == JV_LIST && b.u.l->kind <= JV_LIST_TUPLE);
        if (seqa && (b.t == JV_INT || b.t == JV_BOOL))
            return repeat(rt, a, b.u.i);
        if (seqb && (a.t == JV_INT || a.t == JV_BOOL))
            return repeat(rt, b, a.u.i);
        if (seqa || seqb)
            mlxc_jinja_fail(rt, MLXC_EINVAL, "can't multiply sequence by non-int of type '%s'",
                            mlxc_jv_type_name(seqa ? b : a));
    }
    if (op == JT_MOD && a.t == JV_STR)
        return mlxc_jinja_str_percent(rt, a, b);
    unsupported(rt, op, a, b);
}

static mlxc_jv escape_str(struct jrt *rt, mlxc_jv v)
{
    struct jargs none = {0};
    return mlxc_jinja_filter(rt, "escape", v, &none);
}

/* ---- comparisons ---- */

int mlxc_jinja_compare(struct jrt *rt, mlxc_jv a, mlxc_jv b, int fold)
{
    if (a.t == JV_UNDEF)
        mlxc_jinja_undefined_error(rt, a);
    if (b.t == JV_UNDEF)
        mlxc_jinja_undefined_error(rt, b);
    if (fold && a.t == JV_STR && b.t == JV_STR) {
        struct jargs none = {0};
        a = mlxc_jinja_filter(rt, "lower", a, &none);
        b = mlxc_jinja_filter(rt, "lower", b, &none);
    }
    int c;
    if (mlxc_jv_cmp(a, b, &c))
        mlxc_jinja_fail(rt, MLXC_EINVAL, "'<' not supported between instances of '%s' and '%s'",
                        mlxc_jv_type_name(a), mlxc_jv_type_name(b));
    return c;
}

int mlxc_jinja_contains(struct jrt *rt, mlxc_jv c, mlxc_jv item)
{
    switch (c.t) {
    case JV_UNDEF:
        return 0;
    case JV_STR:
        if (item.t != JV_STR)
            mlxc_jinja_fail(rt, MLXC_EINVAL, "'in <string>' requires string as left operand, not %s",
                            mlxc_jv_type_name(item));
        if (!item.u.s->len)
            return 1;
        return memmem(c.u.s->s, c.u.s->len, item.u.s->s, item.u.s->len) != NULL;
    case JV_LIST:
        for (size_t i = 0; i < c.u.l->n; i++)
            if (mlxc_jv_eq(c.u.l->v[i], item))
                return 1;
        return 0;
    case JV_DICT:
        if (!mlxc_jv_hashable(item))
            mlxc_jinja_fail(rt, MLXC_EINVAL, "unhashable type: '%s'", mlxc_jv_type_name(item));
        return mlxc_jv_dict_find(c.u.d, item) >= 0;
    default:
        mlxc_jinja_fail(rt, MLXC_EINVAL, "argument of type '%s' is not iterable", mlxc_jv_type_name(c));
    }
}

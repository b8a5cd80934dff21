/* The global functions a chat template sees: jinja2's range, dict, namespace, cycler and joiner (with
 * the sandbox's range limit), and transformers' raise_exception and strftime_now. */
#include "tokenizer/jinja_eval.h"

#include <string.h>
#include <time.h>

#define MAX_RANGE 100000 /* jinja2.sandbox.MAX_RANGE */

static int64_t int_of(struct jrt *rt, mlxc_jv v)
{
    if (v.t == JV_INT || v.t == JV_BOOL)
        return v.u.i;
    if (v.t == JV_UNDEF)
        mlxc_jinja_undefined_error(rt, v);
    mlxc_jinja_fail(rt, MLXC_EINVAL, "'%s' object cannot be interpreted as an integer", mlxc_jv_type_name(v));
}

static mlxc_jv g_range(struct jrt *rt, mlxc_jv self, struct jargs *a)
{
    (void)self;
    if (a->nkw)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "range() takes no keyword arguments");
    if (a->npos < 1 || a->npos > 3)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "range expected at least 1 argument, got %d", a->npos);
    int64_t start = 0, stop, step = 1;
    if (a->npos == 1)
        stop = int_of(rt, a->pos[0]);
    else {
        start = int_of(rt, a->pos[0]);
        stop = int_of(rt, a->pos[1]);
        if (a->npos == 3)
            step = int_of(rt, a->pos[2]);
    }
    if (!step)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "range() arg 3 must not be zero");
    /* length without overflow: computed in long double is exact enough for the limit check */
    long double span = step > 0 ? (long double)stop - start : (long double)start - stop;
    long double len = span <= 0 ? 0 : (span + (step > 0 ? step : -step) - 1) / (step > 0 ? step : -(long double)step);
    if (len > MAX_RANGE)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "Range too big. The sandbox blocks ranges larger than MAX_RANGE (%d).",
                        MAX_RANGE);
    struct mlxc_jv_list *l = mlxc_jinja_list(rt, (size_t)len);
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step)
        l->v[l->n++] = mlxc_jv_int(i);
    return mlxc_jv_of_list(l);
}

/* dict(mapping_or_pairs=None, **kwargs) into d */
static void fill_dict(struct jrt *rt, struct mlxc_jv_dict *d, struct jargs *a, const char *what)
{
    if (a->npos > 1)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "%s expected at most 1 argument, got %d", what, a->npos);
    if (a->npos) {
        mlxc_jv src = a->pos[0];
        if (src.t == JV_DICT || src.t == JV_NS) {
            for (size_t i = 0; i < src.u.d->n; i++)
                mlxc_jinja_dset(rt, d, src.u.d->k[i], src.u.d->v[i]);
        } else {
            struct mlxc_jv_list *items = mlxc_jinja_iter(rt, src);
            for (size_t i = 0; i < items->n; i++) {
                struct mlxc_jv_list *kv = mlxc_jinja_iter(rt, items->v[i]);
                if (kv->n != 2)
                    mlxc_jinja_fail(rt, MLXC_EINVAL, "dictionary update sequence element #%zu has length %zu; 2 is required",
                                    i, kv->n);
                mlxc_jinja_dset(rt, d, kv->v[0], kv->v[1]);
            }
        }
    }
    for (int i = 0; i < a->nkw; i++)
        mlxc_jinja_dset(rt, d, mlxc_jinja_cstr(rt, a->kwn[i]), a->kwv[i]);
}

static mlxc_jv g_dict(struct jrt *rt, mlxc_jv self, struct jargs *a)
{
    (void)self;
    struct mlxc_jv_dict *d = mlxc_jinja_dict(rt);
    fill_dict(rt, d, a, "dict");
    return mlxc_jv_of_dict(d);
}

static mlxc_jv g_namespace(struct jrt *rt, mlxc_jv self, struct jargs *a)
{
    (void)self;
    struct mlxc_jv_dict *d = mlxc_jinja_dict(rt);
    fill_dict(rt, d, a, "namespace");
    mlxc_jv v = {.t = JV_NS};
    v.u.d = d;
    return v;
}

/* ---- cycler ---- */

struct jcyc {
    struct mlxc_jv_list *items;
    size_t pos;
};

static mlxc_jv cyc_next(struct jrt *rt, mlxc_jv self, struct jargs *a)
{
    (void)rt;
    (void)a;
    struct jcyc *c = self.u.p;
    mlxc_jv v = c->items->v[c->pos];
    c->pos = (c->pos + 1) % c->items->n;
    return v;
}

static mlxc_jv cyc_reset(struct jrt *rt, mlxc_jv self, struct jargs *a)
{
    (void)rt;
    (void)a;
    ((struct jcyc *)self.u.p)->pos = 0;
    return mlxc_jv_none();
}

mlxc_jv mlxc_jinja_cycler_attr(struct jrt *rt, mlxc_jv cyc, const char *name)
{
    struct jcyc *c = cyc.u.p;
    if (!strcmp(name, "current"))
        return c->items->v[c->pos];
    if (!strcmp(name, "next"))
        return mlxc_jinja_bound(rt, "next", cyc_next, cyc);
    if (!strcmp(name, "reset"))
        return mlxc_jinja_bound(rt, "reset", cyc_reset, cyc);
    return mlxc_jv_undef(mlxc_jinja_fmt(rt, "'%s' has no attribute '%s'", mlxc_jv_object_repr(cyc), name));
}

static mlxc_jv g_cycler(struct jrt *rt, mlxc_jv self, struct jargs *a)
{
    (void)self;
    if (!a->npos)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "at least one item has to be provided");
    struct jcyc *c = mlxc_jv_alloc(rt->a, sizeof *c);
    if (!c)
        mlxc_jinja_oom(rt);
    c->items = mlxc_jinja_list(rt, (size_t)a->npos);
    for (int i = 0; i < a->npos; i++)
        c->items->v[c->items->n++] = a->pos[i];
    c->pos = 0;
    mlxc_jv v = {.t = JV_CYCLER};
    v.u.p = c;
    return v;
}

static mlxc_jv g_joiner(struct jrt *rt, mlxc_jv self, struct jargs *a)
{
    (void)self;
    mlxc_jv *st = mlxc_jv_alloc(rt->a, 2 * sizeof *st);
    if (!st)
        mlxc_jinja_oom(rt);
    st[0] = mlxc_jinja_to_string(rt, mlxc_jinja_arg(rt, a, 0, "sep", mlxc_jinja_cstr(rt, ", ")));
    st[1] = mlxc_jv_int(0);
    mlxc_jv v = {.t = JV_JOINER};
    v.u.p = st;
    return v;
}

/* transformers: raise jinja2.exceptions.TemplateError(message) */
static mlxc_jv g_raise_exception(struct jrt *rt, mlxc_jv self, struct jargs *a)
{
    (void)self;
    mlxc_jv m = mlxc_jinja_to_string(rt, mlxc_jinja_arg(rt, a, 0, "message", MLXC_JINJA_REQUIRED));
    mlxc_jinja_fail(rt, MLXC_EINVAL, "%s", m.u.s->s);
}

/* transformers: datetime.now().strftime(format) */
static mlxc_jv g_strftime_now(struct jrt *rt, mlxc_jv self, struct jargs *a)
{
    (void)self;
    mlxc_jv f = mlxc_jinja_arg(rt, a, 0, "format", MLXC_JINJA_REQUIRED);
    if (f.t != JV_STR)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "strftime() argument 1 must be str, not %s", mlxc_jv_type_name(f));
    if (!f.u.s->len)
        return f;
    char out[4096];
    size_t n = strftime(out, sizeof out, f.u.s->s, &rt->now);
    if (!n)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "strftime format is too long or empty in its result");
    return mlxc_jinja_str(rt, out, n);
}

void mlxc_jinja_add_globals(struct jrt *rt, struct jframe *f,
                            void (*set)(struct jrt *, struct jframe *, const char *, mlxc_jv))
{
    static const struct { const char *name; jbuiltin_fn fn; } G[] = {
        {"range", g_range}, {"dict", g_dict}, {"namespace", g_namespace}, {"cycler", g_cycler},
        {"joiner", g_joiner}, {"raise_exception", g_raise_exception}, {"strftime_now", g_strftime_now}};
    for (size_t i = 0; i < sizeof G / sizeof G[0]; i++)
        set(rt, f, G[i].name, mlxc_jinja_bound(rt, G[i].name, G[i].fn, mlxc_jv_none()));
}

/* The Jinja evaluator: scopes, expressions, statements, macros and loops, and the render entry point.
 *
 * Scoping follows jinja2: a for-loop iteration, a macro call, {% with %}, {% filter %} and block-set
 * bodies get a frame of their own; `if` does not. {% set %} writes into the current frame, so a set
 * inside a loop is gone in the next iteration and after the loop (hence namespace()). Lookups walk the
 * frames outwards: a macro's frame is a child of the frame where it was defined. */
#include "tokenizer/jinja.h"
#include "tokenizer/jinja_eval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mlxc_jinja {
    struct mlxc_jv_arena arena;  /* tokens and syntax tree */
    struct jnodes body;
};

struct jframe {
    struct jframe *parent;
    size_t n, cap;
    const char **names;
    mlxc_jv *vals;
};

/* for-loop state behind the `loop` variable */
struct jloop {
    struct mlxc_jv_list *items;
    size_t i;
    int depth;                   /* 1-based */
    const struct jnode *node;    /* the FOR node (recursive loops call it again) */
    struct jframe *frame;        /* where the loop statement runs */
    mlxc_jv last_changed;
    int has_changed;
};

enum { FLOW_NORMAL, FLOW_BREAK, FLOW_CONTINUE };

static mlxc_jv eval(struct jrt *rt, struct jframe *f, const struct jnode *nd);
static int exec_body(struct jrt *rt, struct jframe *f, const struct jnodes *body, struct mlxc_buf *out);

/* ---- frames ---- */

static struct jframe *frame_new(struct jrt *rt, struct jframe *parent)
{
    struct jframe *f = mlxc_jv_alloc(rt->a, sizeof *f);
    if (!f)
        mlxc_jinja_oom(rt);
    memset(f, 0, sizeof *f);
    f->parent = parent;
    return f;
}

static void frame_set(struct jrt *rt, struct jframe *f, const char *name, mlxc_jv v)
{
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->names[i], name)) {
            f->vals[i] = v;
            return;
        }
    if (f->n == f->cap) {
        size_t nc = f->cap ? f->cap * 2 : 8;
        const char **nn = mlxc_jv_realloc(rt->a, f->names, nc * sizeof *nn);
        if (!nn)
            mlxc_jinja_oom(rt);
        f->names = nn;
        mlxc_jv *nv = mlxc_jv_realloc(rt->a, f->vals, nc * sizeof *nv);
        if (!nv)
            mlxc_jinja_oom(rt);
        f->vals = nv;
        f->cap = nc;
    }
    f->names[f->n] = name;
    f->vals[f->n++] = v;
}

static mlxc_jv lookup(struct jrt *rt, struct jframe *f, const char *name)
{
    for (; f; f = f->parent)
        for (size_t i = f->n; i-- > 0;)
            if (!strcmp(f->names[i], name))
                return f->vals[i];
    return mlxc_jv_undef(mlxc_jinja_fmt(rt, "'%s' is undefined", name));
}

/* ---- output ---- */

static void emit(struct jrt *rt, struct mlxc_buf *out, const char *s, size_t n)
{
    if (out->len + n > rt->max_output)
        mlxc_jinja_fail(rt, MLXC_ENOMEM, "the output is over its limit of %zu bytes", rt->max_output);
    mlxc_buf_append(out, s, n);
    if (out->oom)
        mlxc_jinja_oom(rt);
}

/* Temporary output buffers (macro bodies, set blocks) live on a stack that the render entry frees
 * when an error unwinds through them. */
struct bufstack {
    struct mlxc_buf *v[256];
    int n;
};

static struct bufstack *bufs_of(struct jrt *rt) { return rt->bufs; }

struct mlxc_buf *mlxc_jinja_tmpbuf(struct jrt *rt)
{
    struct bufstack *bs = bufs_of(rt);
    if (bs->n >= (int)(sizeof bs->v / sizeof bs->v[0]))
        mlxc_jinja_fail(rt, MLXC_ENOMEM, "blocks nested too deeply");
    struct mlxc_buf *b = mlxc_jv_alloc(rt->a, sizeof *b);
    if (!b)
        mlxc_jinja_oom(rt);
    memset(b, 0, sizeof *b);
    bs->v[bs->n++] = b;
    return b;
}

/* Pops the top temporary buffer into a string value. */
mlxc_jv mlxc_jinja_tmpbuf_take(struct jrt *rt, struct mlxc_buf *b)
{
    struct bufstack *bs = bufs_of(rt);
    /* copy out before popping: a failure in the copy still frees b through the stack */
    if (b->oom)
        mlxc_jinja_oom(rt);
    mlxc_jv v = mlxc_jinja_str(rt, b->data ? b->data : "", b->len);
    bs->n--;
    mlxc_buf_free(b);
    return v;
}

/* ---- steps and depth ---- */

static void step(struct jrt *rt, const struct jnode *nd)
{
    rt->at = nd;
    if (++rt->steps > rt->max_steps)
        mlxc_jinja_fail(rt, MLXC_ENOMEM, "the template ran for more than %llu steps",
                        (unsigned long long)rt->max_steps);
}

static void enter(struct jrt *rt)
{
    if (++rt->depth > rt->max_depth)
        mlxc_jinja_fail(rt, MLXC_ENOMEM, "maximum recursion depth exceeded (%d nested calls)", rt->max_depth);
}

/* ---- assignment ---- */

static void assign(struct jrt *rt, struct jframe *f, const struct jnode *target, mlxc_jv v)
{
    if (target->kind == JN_NAME) {
        frame_set(rt, f, target->name, v);
        return;
    }
    if (target->kind == JN_NSREF) {
        mlxc_jv ns = lookup(rt, f, target->name);
        if (ns.t != JV_NS)
            mlxc_jinja_fail(rt, MLXC_EINVAL, "cannot assign attribute on non-namespace object");
        mlxc_jinja_dset(rt, ns.u.d, mlxc_jinja_cstr(rt, target->attr), v);
        return;
    }
    /* tuple unpacking */
    struct mlxc_jv_list *items = mlxc_jinja_iter(rt, v);
    int want = target->l1.n;
    if ((int64_t)items->n < want)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "not enough values to unpack (expected %d, got %zu)", want, items->n);
    if ((int64_t)items->n > want)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "too many values to unpack (expected %d)", want);
    for (int i = 0; i < want; i++)
        assign(rt, f, target->l1.v[i], items->v[i]);
}

/* ---- calls ---- */

static void eval_args(struct jrt *rt, struct jframe *f, const struct jnode *nd, struct jargs *args,
                      mlxc_jv extra_caller)
{
    int npos = nd->l1.n, nkw = nd->l2.n + (extra_caller.t != JV_UNDEF);
    struct mlxc_jv_list *star = NULL;
    struct mlxc_jv_dict *dstar = NULL;
    if (nd->c) {
        mlxc_jv s = eval(rt, f, nd->c);
        star = mlxc_jinja_iter(rt, s);
        npos += (int)star->n;
    }
    if (nd->d) {
        mlxc_jv s = eval(rt, f, nd->d);
        if (s.t != JV_DICT)
            mlxc_jinja_fail(rt, MLXC_EINVAL, "argument after ** must be a mapping, not %s", mlxc_jv_type_name(s));
        dstar = s.u.d;
        nkw += (int)dstar->n;
    }
    args->pos = mlxc_jv_alloc(rt->a, (size_t)(npos + 1) * sizeof *args->pos);
    args->kwn = mlxc_jv_alloc(rt->a, (size_t)(nkw + 1) * sizeof *args->kwn);
    args->kwv = mlxc_jv_alloc(rt->a, (size_t)(nkw + 1) * sizeof *args->kwv);
    if (!args->pos || !args->kwn || !args->kwv)
        mlxc_jinja_oom(rt);
    args->npos = args->nkw = 0;
    for (int i = 0; i < nd->l1.n; i++)
        args->pos[args->npos++] = eval(rt, f, nd->l1.v[i]);
    for (size_t i = 0; star && i < star->n; i++)
        args->pos[args->npos++] = star->v[i];
    for (int i = 0; i < nd->l2.n; i++) {
        args->kwn[args->nkw] = nd->l2.v[i]->name;
        args->kwv[args->nkw++] = eval(rt, f, nd->l2.v[i]->a);
    }
    for (size_t i = 0; dstar && i < dstar->n; i++) {
        if (dstar->k[i].t != JV_STR)
            mlxc_jinja_fail(rt, MLXC_EINVAL, "keywords must be strings");
        args->kwn[args->nkw] = dstar->k[i].u.s->s;
        args->kwv[args->nkw++] = dstar->v[i];
    }
    if (extra_caller.t != JV_UNDEF) {
        args->kwn[args->nkw] = "caller";
        args->kwv[args->nkw++] = extra_caller;
    }
}

/* Calls a macro (or a {% call %} block's caller) the way jinja2's Macro.__call__ binds arguments. */
static mlxc_jv call_macro(struct jrt *rt, struct mlxc_jv_func *fn, struct jargs *args)
{
    const struct jnode *m = fn->macro;
    const char *name = m->kind == JN_MACRO ? m->name : "caller";
    int nargs = m->l1.n, ndef = m->l2.n;
    struct jframe *f = frame_new(rt, fn->closure);
    int *used = mlxc_jv_alloc(rt->a, (size_t)(args->nkw + 1) * sizeof *used);
    if (!used)
        mlxc_jinja_oom(rt);
    memset(used, 0, (size_t)(args->nkw + 1) * sizeof *used);
    enter(rt);
    int found_caller = 0;
    for (int i = 0; i < nargs; i++) {
        const char *pn = m->l1.v[i]->name;
        mlxc_jv v = {.t = JV_UNDEF, .u.hint = NULL};
        int have = 0;
        if (i < args->npos) {
            v = args->pos[i];
            have = 1;
        } else
            for (int k = 0; k < args->nkw; k++)
                if (!used[k] && !strcmp(args->kwn[k], pn)) {
                    v = args->kwv[k];
                    used[k] = 1;
                    have = 1;
                    break;
                }
        if (!strcmp(pn, "caller"))
            found_caller = 1;
        if (!have) {
            int di = i - (nargs - ndef);
            if (di >= 0)
                v = eval(rt, f, m->l2.v[di]);
            else
                v = mlxc_jv_undef(mlxc_jinja_fmt(rt, "parameter '%s' was not provided", pn));
        }
        frame_set(rt, f, pn, v);
    }
    if (m->uses_caller && !found_caller) {
        mlxc_jv c = mlxc_jv_undef("No caller defined");
        for (int k = 0; k < args->nkw; k++)
            if (!used[k] && !strcmp(args->kwn[k], "caller")) {
                c = args->kwv[k];
                used[k] = 1;
            }
        frame_set(rt, f, "caller", c);
    }
    struct mlxc_jv_dict *kw = mlxc_jinja_dict(rt);
    for (int k = 0; k < args->nkw; k++)
        if (!used[k]) {
            if (!m->uses_kwargs) {
                if (!strcmp(args->kwn[k], "caller"))
                    mlxc_jinja_fail(rt, MLXC_EINVAL, "macro '%s' was invoked with two values for the special "
                                    "caller argument. This is most likely a bug.", name);
                mlxc_jinja_fail(rt, MLXC_EINVAL, "macro '%s' takes no keyword argument '%s'", name, args->kwn[k]);
            }
            mlxc_jinja_dset(rt, kw, mlxc_jinja_cstr(rt, args->kwn[k]), args->kwv[k]);
        }
    if (m->uses_kwargs)
        frame_set(rt, f, "kwargs", mlxc_jv_of_dict(kw));
    if (args->npos > nargs && !m->uses_varargs)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "macro '%s' takes not more than %d argument(s)", name, nargs);
    if (m->uses_varargs) {
        struct mlxc_jv_list *va = mlxc_jinja_list(rt, 0);
        va->kind = JV_LIST_TUPLE;
        for (int i = nargs; i < args->npos; i++)
            mlxc_jinja_push(rt, va, args->pos[i]);
        frame_set(rt, f, "varargs", mlxc_jv_of_list(va));
    }
    struct mlxc_buf *out = mlxc_jinja_tmpbuf(rt);
    exec_body(rt, f, &m->l3, out);
    rt->depth--;
    return mlxc_jinja_tmpbuf_take(rt, out);
}

static mlxc_jv make_macro(struct jrt *rt, const struct jnode *m, struct jframe *closure)
{
    struct mlxc_jv_func *fn = mlxc_jv_alloc(rt->a, sizeof *fn);
    if (!fn)
        mlxc_jinja_oom(rt);
    memset(fn, 0, sizeof *fn);
    fn->name = m->name ? m->name : "caller";
    fn->macro = m;
    fn->closure = closure;
    mlxc_jv v = {.t = JV_FUNC};
    v.u.fn = fn;
    return v;
}

static mlxc_jv run_for(struct jrt *rt, struct jframe *f, const struct jnode *nd, mlxc_jv iterable, int depth,
                       struct mlxc_buf *out);

mlxc_jv mlxc_jinja_call(struct jrt *rt, mlxc_jv fn, struct jargs *args)
{
    if (fn.t == JV_UNDEF) {
        if (fn.unsafe)
            mlxc_jinja_fail(rt, MLXC_EINVAL, "%s", fn.u.hint);
        mlxc_jinja_undefined_error(rt, fn);
    }
    if (fn.t == JV_LOOP) {
        struct jloop *lp = fn.u.p;
        if (!lp->node->op)
            mlxc_jinja_fail(rt, MLXC_EINVAL, "Tried to call non recursive loop.  Maybe you forgot the 'recursive' modifier.");
        if (args->npos != 1 || args->nkw)
            mlxc_jinja_fail(rt, MLXC_EINVAL, "loop() takes exactly one argument");
        enter(rt);
        struct mlxc_buf *out = mlxc_jinja_tmpbuf(rt);
        run_for(rt, lp->frame, lp->node, args->pos[0], lp->depth + 1, out);
        rt->depth--;
        return mlxc_jinja_tmpbuf_take(rt, out);
    }
    if (fn.t == JV_JOINER) {
        mlxc_jv *st = fn.u.p; /* [0] separator, [1] used flag */
        if (!st[1].u.i) {
            st[1].u.i = 1;
            return mlxc_jinja_cstr(rt, "");
        }
        return st[0];
    }
    if (fn.t != JV_FUNC)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "'%s' object is not callable", mlxc_jv_type_name(fn));
    if (fn.u.fn->macro)
        return call_macro(rt, fn.u.fn, args);
    return fn.u.fn->fn(rt, fn.u.fn->self, args);
}

/* ---- the loop object ---- */

static mlxc_jv loop_cycle(struct jrt *rt, mlxc_jv self, struct jargs *args)
{
    struct jloop *lp = self.u.p;
    if (!args->npos)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "no items for cycling given");
    return args->pos[lp->i % (size_t)args->npos];
}

static mlxc_jv loop_changed(struct jrt *rt, mlxc_jv self, struct jargs *args)
{
    struct jloop *lp = self.u.p;
    struct mlxc_jv_list *l = mlxc_jinja_list(rt, (size_t)args->npos);
    l->kind = JV_LIST_TUPLE;
    for (int i = 0; i < args->npos; i++)
        l->v[l->n++] = args->pos[i];
    mlxc_jv v = mlxc_jv_of_list(l);
    if (!lp->has_changed || !mlxc_jv_eq(v, lp->last_changed)) {
        lp->has_changed = 1;
        lp->last_changed = v;
        return mlxc_jv_bool(1);
    }
    return mlxc_jv_bool(0);
}

mlxc_jv mlxc_jinja_loop_attr(struct jrt *rt, mlxc_jv loop, const char *name)
{
    struct jloop *lp = loop.u.p;
    int64_t n = (int64_t)lp->items->n, i = (int64_t)lp->i;
    if (!strcmp(name, "index")) return mlxc_jv_int(i + 1);
    if (!strcmp(name, "index0")) return mlxc_jv_int(i);
    if (!strcmp(name, "revindex")) return mlxc_jv_int(n - i);
    if (!strcmp(name, "revindex0")) return mlxc_jv_int(n - i - 1);
    if (!strcmp(name, "first")) return mlxc_jv_bool(i == 0);
    if (!strcmp(name, "last")) return mlxc_jv_bool(i == n - 1);
    if (!strcmp(name, "length")) return mlxc_jv_int(n);
    if (!strcmp(name, "depth")) return mlxc_jv_int(lp->depth);
    if (!strcmp(name, "depth0")) return mlxc_jv_int(lp->depth - 1);
    if (!strcmp(name, "previtem"))
        return i > 0 ? lp->items->v[i - 1] : mlxc_jv_undef("there is no previous item");
    if (!strcmp(name, "nextitem"))
        return i + 1 < n ? lp->items->v[i + 1] : mlxc_jv_undef("there is no next item");
    if (!strcmp(name, "cycle")) return mlxc_jinja_bound(rt, "cycle", loop_cycle, loop);
    if (!strcmp(name, "changed")) return mlxc_jinja_bound(rt, "changed", loop_changed, loop);
    return mlxc_jv_undef(mlxc_jinja_fmt(rt, "'%s' has no attribute '%s'", mlxc_jv_object_repr(loop), name));
}

static mlxc_jv run_for(struct jrt *rt, struct jframe *f, const struct jnode *nd, mlxc_jv iterable, int depth,
                       struct mlxc_buf *out)
{
    struct mlxc_jv_list *src = mlxc_jinja_iter(rt, iterable), *items = src;
    if (nd->c) {
        /* `for x in y if cond`: filter first, so loop.length and loop.last count kept items only */
        items = mlxc_jinja_list(rt, 0);
        for (size_t i = 0; i < src->n; i++) {
            struct jframe *tf = frame_new(rt, f);
            assign(rt, tf, nd->a, src->v[i]);
            if (mlxc_jv_truthy(eval(rt, tf, nd->c)))
                mlxc_jinja_push(rt, items, src->v[i]);
        }
    }
    struct jloop *lp = mlxc_jv_alloc(rt->a, sizeof *lp);
    if (!lp)
        mlxc_jinja_oom(rt);
    memset(lp, 0, sizeof *lp);
    lp->items = items;
    lp->depth = depth;
    lp->node = nd;
    lp->frame = f;
    mlxc_jv loopv = {.t = JV_LOOP};
    loopv.u.p = lp;
    for (lp->i = 0; lp->i < items->n; lp->i++) {
        step(rt, nd); /* an empty body still costs a step per iteration */
        struct jframe *it = frame_new(rt, f);
        frame_set(rt, it, "loop", loopv);
        assign(rt, it, nd->a, items->v[lp->i]);
        int flow = exec_body(rt, it, &nd->l1, out);
        if (flow == FLOW_BREAK)
            break;
    }
    if (!items->n && nd->l2.n)
        exec_body(rt, frame_new(rt, f), &nd->l2, out);
    return mlxc_jv_none();
}

/* ---- expressions ---- */

static mlxc_jv eval_filter(struct jrt *rt, struct jframe *f, const struct jnode *nd, mlxc_jv base)
{
    mlxc_jv v;
    if (!nd->a)
        v = base;
    else if (nd->a->kind == JN_FILTER)
        v = eval_filter(rt, f, nd->a, base);
    else
        v = eval(rt, f, nd->a);
    struct jargs args;
    eval_args(rt, f, nd, &args, mlxc_jv_undef(NULL));
    rt->at = nd;
    return mlxc_jinja_filter(rt, nd->name, v, &args);
}

static int64_t slice_index(struct jrt *rt, mlxc_jv v)
{
    if (v.t == JV_INT || v.t == JV_BOOL)
        return v.u.i;
    mlxc_jinja_fail(rt, MLXC_EINVAL, "slice indices must be integers or None or have an __index__ method");
}

/* Python's slice.indices() followed by the copy. */
static mlxc_jv do_slice(struct jrt *rt, struct jframe *f, mlxc_jv obj, const struct jnode *s)
{
    mlxc_jv a = s->a ? eval(rt, f, s->a) : mlxc_jv_none();
    mlxc_jv b = s->b ? eval(rt, f, s->b) : mlxc_jv_none();
    mlxc_jv c = s->c ? eval(rt, f, s->c) : mlxc_jv_none();
    if (obj.t == JV_UNDEF)
        mlxc_jinja_undefined_error(rt, obj);
    if (obj.t != JV_STR && !(obj.t == JV_LIST && obj.u.l->kind <= JV_LIST_TUPLE))
        return mlxc_jv_undef(mlxc_jinja_fmt(rt, "%s has no element slice", mlxc_jv_object_repr(obj)));
    size_t n;
    uint32_t *cp = NULL;
    if (obj.t == JV_STR)
        cp = mlxc_jinja_codepoints(rt, obj, &n);
    else
        n = obj.u.l->n;
    int64_t len = (int64_t)n, stp = c.t == JV_NONE ? 1 : slice_index(rt, c), start, stop;
    if (stp == 0)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "slice step cannot be zero");
    if (a.t == JV_NONE)
        start = stp < 0 ? len - 1 : 0;
    else {
        start = slice_index(rt, a);
        if (start < 0) { start += len; if (start < 0) start = stp < 0 ? -1 : 0; }
        else if (start >= len) start = stp < 0 ? len - 1 : len;
    }
    if (b.t == JV_NONE)
        stop = stp < 0 ? -1 : len;
    else {
        stop = slice_index(rt, b);
        if (stop < 0) { stop += len; if (stop < 0) stop = stp < 0 ? -1 : 0; }
        else if (stop >= len) stop = stp < 0 ? len - 1 : len;
    }
    struct mlxc_jv_list *l = obj.t == JV_LIST ? mlxc_jinja_list(rt, 0) : NULL;
    uint32_t *o = cp ? mlxc_jv_alloc(rt->a, (n + 1) * sizeof *o) : NULL;
    size_t k = 0;
    if (cp && !o)
        mlxc_jinja_oom(rt);
    for (int64_t i = start; stp > 0 ? i < stop : i > stop; i += stp) {
        if (l)
            mlxc_jinja_push(rt, l, obj.u.l->v[i]);
        else
            o[k++] = cp[i];
    }
    if (l) {
        l->kind = obj.u.l->kind;
        return mlxc_jv_of_list(l);
    }
    return mlxc_jinja_from_codepoints(rt, o, k);
}

#define MAX_C_RECURSION 3000

static mlxc_jv eval_node(struct jrt *rt, struct jframe *f, const struct jnode *nd);

static mlxc_jv eval(struct jrt *rt, struct jframe *f, const struct jnode *nd)
{
    if (++rt->cdepth > MAX_C_RECURSION)
        mlxc_jinja_fail(rt, MLXC_ENOMEM, "maximum recursion depth exceeded (expressions nested too deeply)");
    mlxc_jv v = eval_node(rt, f, nd);
    rt->cdepth--;
    return v;
}

static mlxc_jv eval_node(struct jrt *rt, struct jframe *f, const struct jnode *nd)
{
    step(rt, nd);
    switch (nd->kind) {
    case JN_CONST:
        return nd->value;
    case JN_NAME:
        return lookup(rt, f, nd->name);
    case JN_TUPLE:
    case JN_LIST: {
        struct mlxc_jv_list *l = mlxc_jinja_list(rt, (size_t)nd->l1.n);
        l->kind = nd->kind == JN_TUPLE ? JV_LIST_TUPLE : JV_LIST_PLAIN;
        for (int i = 0; i < nd->l1.n; i++)
            l->v[l->n++] = eval(rt, f, nd->l1.v[i]);
        return mlxc_jv_of_list(l);
    }
    case JN_DICT: {
        struct mlxc_jv_dict *d = mlxc_jinja_dict(rt);
        for (int i = 0; i < nd->l1.n; i++) {
            mlxc_jv k = eval(rt, f, nd->l1.v[i]);
            mlxc_jv v = eval(rt, f, nd->l2.v[i]);
            rt->at = nd;
            mlxc_jinja_dset(rt, d, k, v);
        }
        return mlxc_jv_of_dict(d);
    }
    case JN_GETATTR: {
        mlxc_jv o = eval(rt, f, nd->a);
        rt->at = nd;
        return mlxc_jinja_getattr(rt, o, nd->name);
    }
    case JN_GETITEM: {
        mlxc_jv o = eval(rt, f, nd->a);
        if (nd->b->kind == JN_SLICE)
            return do_slice(rt, f, o, nd->b);
        mlxc_jv k = eval(rt, f, nd->b);
        rt->at = nd;
        return mlxc_jinja_getitem(rt, o, k);
    }
    case JN_CALL: {
        mlxc_jv fn = eval(rt, f, nd->a);
        struct jargs args;
        eval_args(rt, f, nd, &args, mlxc_jv_undef(NULL));
        rt->at = nd;
        return mlxc_jinja_call(rt, fn, &args);
    }
    case JN_FILTER:
        return eval_filter(rt, f, nd, mlxc_jv_undef(NULL));
    case JN_TEST: {
        mlxc_jv v = eval(rt, f, nd->a);
        struct jargs args;
        eval_args(rt, f, nd, &args, mlxc_jv_undef(NULL));
        rt->at = nd;
        return mlxc_jv_bool(mlxc_jinja_test(rt, nd->name, v, &args));
    }
    case JN_BINOP: {
        mlxc_jv a = eval(rt, f, nd->a), b = eval(rt, f, nd->b);
        rt->at = nd;
        return mlxc_jinja_binop(rt, nd->op, a, b);
    }
    case JN_NEG:
    case JN_POS: {
        mlxc_jv v = eval(rt, f, nd->a);
        rt->at = nd;
        if (v.t == JV_UNDEF)
            mlxc_jinja_undefined_error(rt, v);
        if (v.t == JV_FLOAT)
            return mlxc_jv_float(nd->kind == JN_NEG ? -v.u.f : v.u.f);
        if (v.t == JV_INT || v.t == JV_BOOL) {
            if (nd->kind == JN_NEG && v.u.i == INT64_MIN)
                mlxc_jinja_fail(rt, MLXC_EUNSUP, "integer overflow");
            return mlxc_jv_int(nd->kind == JN_NEG ? -v.u.i : v.u.i);
        }
        mlxc_jinja_fail(rt, MLXC_EINVAL, "bad operand type for unary %c: '%s'", nd->kind == JN_NEG ? '-' : '+',
                        mlxc_jv_type_name(v));
    }
    case JN_NOT:
        return mlxc_jv_bool(!mlxc_jv_truthy(eval(rt, f, nd->a)));
    case JN_AND: {
        mlxc_jv a = eval(rt, f, nd->a);
        return mlxc_jv_truthy(a) ? eval(rt, f, nd->b) : a;
    }
    case JN_OR: {
        mlxc_jv a = eval(rt, f, nd->a);
        return mlxc_jv_truthy(a) ? a : eval(rt, f, nd->b);
    }
    case JN_COMPARE: {
        mlxc_jv l = eval(rt, f, nd->a);
        for (int i = 0; i < nd->l1.n; i++) {
            mlxc_jv r = eval(rt, f, nd->l1.v[i]);
            int op = nd->ops[i], ok;
            rt->at = nd;
            if (op == JT_EQ) ok = mlxc_jv_eq(l, r);
            else if (op == JT_NE) ok = !mlxc_jv_eq(l, r);
            else if (op == JOP_IN) ok = mlxc_jinja_contains(rt, r, l);
            else if (op == JOP_NOTIN) ok = !mlxc_jinja_contains(rt, r, l);
            else {
                if (l.t == JV_UNDEF) mlxc_jinja_undefined_error(rt, l);
                if (r.t == JV_UNDEF) mlxc_jinja_undefined_error(rt, r);
                int c;
                if (mlxc_jv_cmp(l, r, &c)) {
                    const char *sym = op == JT_LT ? "<" : op == JT_LTEQ ? "<=" : op == JT_GT ? ">" : ">=";
                    mlxc_jinja_fail(rt, MLXC_EINVAL, "'%s' not supported between instances of '%s' and '%s'", sym,
                                    mlxc_jv_type_name(l), mlxc_jv_type_name(r));
                }
                ok = op == JT_LT ? c < 0 : op == JT_LTEQ ? c <= 0 : op == JT_GT ? c > 0 : c >= 0;
            }
            if (!ok)
                return mlxc_jv_bool(0);
            l = r;
        }
        return mlxc_jv_bool(1);
    }
    case JN_CONCAT: {
        /* evaluate every part first: an error must not leave a malloc'd buffer behind */
        mlxc_jv *parts = mlxc_jv_alloc(rt->a, (size_t)nd->l1.n * sizeof *parts);
        if (!parts)
            mlxc_jinja_oom(rt);
        size_t total = 0;
        for (int i = 0; i < nd->l1.n; i++) {
            parts[i] = mlxc_jinja_to_string(rt, eval(rt, f, nd->l1.v[i]));
            total += parts[i].u.s->len;
        }
        rt->at = nd;
        if (total > rt->max_output)
            mlxc_jinja_fail(rt, MLXC_ENOMEM, "string is over the output limit");
        struct mlxc_jv_str *s = mlxc_jv_str_new(rt->a, NULL, total);
        if (!s)
            mlxc_jinja_oom(rt);
        size_t k = 0;
        for (int i = 0; i < nd->l1.n; i++) {
            memcpy(s->s + k, parts[i].u.s->s, parts[i].u.s->len);
            k += parts[i].u.s->len;
        }
        s->s[k] = 0;
        return mlxc_jv_of_str(s);
    }
    case JN_CONDEXPR:
        if (mlxc_jv_truthy(eval(rt, f, nd->a)))
            return eval(rt, f, nd->b);
        if (nd->c)
            return eval(rt, f, nd->c);
        return mlxc_jv_undef(mlxc_jinja_fmt(rt, "the inline if-expression on line %d evaluated to false and no "
                                            "else section was defined.", nd->line));
    default:
        mlxc_jinja_fail(rt, MLXC_EINVAL, "internal error: node %d is not an expression", nd->kind);
    }
}

/* ---- statements ---- */

static void print_value(struct jrt *rt, mlxc_jv v, struct mlxc_buf *out)
{
    if (v.t == JV_STR) {
        emit(rt, out, v.u.s->s, v.u.s->len);
        return;
    }
    mlxc_jv s = mlxc_jinja_to_string(rt, v);
    emit(rt, out, s.u.s->s, s.u.s->len);
}

static int exec_stmt(struct jrt *rt, struct jframe *f, const struct jnode *nd, struct mlxc_buf *out)
{
    step(rt, nd);
    switch (nd->kind) {
    case JN_DATA:
        emit(rt, out, nd->value.u.s->s, nd->value.u.s->len);
        return FLOW_NORMAL;
    case JN_PRINT:
        print_value(rt, eval(rt, f, nd->a), out);
        return FLOW_NORMAL;
    case JN_IF:
        if (mlxc_jv_truthy(eval(rt, f, nd->a)))
            return exec_body(rt, f, &nd->l1, out);
        return exec_body(rt, f, &nd->l2, out);
    case JN_FOR: {
        mlxc_jv it = eval(rt, f, nd->b);
        rt->at = nd;
        run_for(rt, f, nd, it, 1, out);
        return FLOW_NORMAL;
    }
    case JN_SET: {
        mlxc_jv v = eval(rt, f, nd->b);
        rt->at = nd;
        assign(rt, f, nd->a, v);
        return FLOW_NORMAL;
    }
    case JN_SETBLOCK: {
        struct mlxc_buf *b = mlxc_jinja_tmpbuf(rt);
        exec_body(rt, frame_new(rt, f), &nd->l1, b);
        mlxc_jv v = mlxc_jinja_tmpbuf_take(rt, b);
        if (nd->b)
            v = eval_filter(rt, f, nd->b, v);
        assign(rt, f, nd->a, v);
        return FLOW_NORMAL;
    }
    case JN_MACRO:
        frame_set(rt, f, nd->name, make_macro(rt, nd, f));
        return FLOW_NORMAL;
    case JN_CALLBLOCK: {
        const struct jnode *call = nd->a;
        mlxc_jv fn = eval(rt, f, call->a);
        struct jargs args;
        eval_args(rt, f, call, &args, make_macro(rt, nd, f));
        rt->at = nd;
        print_value(rt, mlxc_jinja_call(rt, fn, &args), out);
        return FLOW_NORMAL;
    }
    case JN_FILTERBLOCK: {
        struct mlxc_buf *b = mlxc_jinja_tmpbuf(rt);
        exec_body(rt, frame_new(rt, f), &nd->l1, b);
        mlxc_jv v = mlxc_jinja_tmpbuf_take(rt, b);
        print_value(rt, eval_filter(rt, f, nd->a, v), out);
        return FLOW_NORMAL;
    }
    case JN_WITH: {
        struct jframe *w = frame_new(rt, f);
        for (int i = 0; i < nd->l1.n; i++)
            assign(rt, w, nd->l1.v[i], eval(rt, f, nd->l2.v[i]));
        return exec_body(rt, w, &nd->l3, out);
    }
    case JN_SCOPE:
        return exec_body(rt, nd->op ? frame_new(rt, f) : f, &nd->l1, out);
    case JN_BREAK:
        return FLOW_BREAK;
    case JN_CONTINUE:
        return FLOW_CONTINUE;
    default:
        mlxc_jinja_fail(rt, MLXC_EINVAL, "internal error: node %d is not a statement", nd->kind);
    }
}

static int exec_body(struct jrt *rt, struct jframe *f, const struct jnodes *body, struct mlxc_buf *out)
{
    if (++rt->cdepth > MAX_C_RECURSION)
        mlxc_jinja_fail(rt, MLXC_ENOMEM, "maximum recursion depth exceeded (blocks nested too deeply)");
    for (int i = 0; i < body->n; i++) {
        int flow = exec_stmt(rt, f, body->v[i], out);
        if (flow != FLOW_NORMAL) {
            rt->cdepth--;
            return flow;
        }
    }
    rt->cdepth--;
    return FLOW_NORMAL;
}

/* ---- compile and render ---- */

int mlxc_jinja_compile(const char *src, size_t n, struct mlxc_jinja **out, struct mlxc_err *e)
{
    *out = NULL;
    struct mlxc_jinja *t = calloc(1, sizeof *t);
    if (!t)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    mlxc_jv_arena_init(&t->arena, 0);
    struct jtokens toks;
    int r = mlxc_jinja_lex(&t->arena, src, n, &toks, e);
    if (!r)
        r = mlxc_jinja_parse(&t->arena, &toks, &t->body, e);
    if (r) {
        mlxc_jinja_free(t);
        return r;
    }
    *out = t;
    return 0;
}

void mlxc_jinja_free(struct mlxc_jinja *t)
{
    if (!t)
        return;
    mlxc_jv_arena_free(&t->arena);
    free(t);
}

void mlxc_jinja_limits_default(struct mlxc_jinja_limits *l)
{
    l->max_output = (size_t)16 << 20;
    l->max_steps = 20000000;
    l->max_depth = 100;
    l->max_memory = (size_t)512 << 20;
    l->now = NULL;
}

/* Everything a render owns, on the heap so that nothing changes in automatic variables between the
 * setjmp and a longjmp. */
struct render_state {
    struct mlxc_jv_arena arena;
    struct bufstack bufs;
    struct mlxc_buf result;
    struct jrt rt;
};

int mlxc_jinja_render(const struct mlxc_jinja *t, const char *ctx_json, size_t ctx_len,
                      const struct mlxc_jinja_limits *limits, char **out, size_t *out_len,
                      struct mlxc_err *e)
{
    struct mlxc_jinja_limits dl;
    if (!limits) {
        mlxc_jinja_limits_default(&dl);
        limits = &dl;
    }
    *out = NULL;
    if (out_len)
        *out_len = 0;
    struct render_state *st = calloc(1, sizeof *st);
    if (!st)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    mlxc_jv_arena_init(&st->arena, limits->max_memory);
    struct jrt *rt = &st->rt;
    rt->a = &st->arena;
    rt->e = e;
    rt->max_steps = limits->max_steps;
    rt->max_depth = limits->max_depth;
    rt->max_output = limits->max_output;
    rt->bufs = &st->bufs;
    if (limits->now)
        rt->now = *limits->now;
    else {
        time_t now = time(NULL);
        localtime_r(&now, &rt->now);
    }
    int rc = 0;
    if (setjmp(rt->jb)) {
        rc = e && e->code ? e->code : MLXC_EINVAL;
        goto done;
    }
    mlxc_jv ctx = mlxc_jv_none();
    if (ctx_json) {
        struct mlxc_err pe = {0};
        if (mlxc_jinja_json_parse(&st->arena, ctx_json, ctx_len, &ctx, &pe)) {
            rc = mlxc_errf(e, pe.code, "template context: %s", pe.msg);
            goto done;
        }
        if (ctx.t != JV_DICT) {
            rc = mlxc_errf(e, MLXC_EINVAL, "template context: not a JSON object");
            goto done;
        }
    }
    struct jframe *globals = frame_new(rt, NULL);
    mlxc_jinja_add_globals(rt, globals, frame_set);
    rt->globals = globals;
    struct jframe *top = frame_new(rt, globals);
    for (size_t i = 0; ctx.t == JV_DICT && i < ctx.u.d->n; i++)
        frame_set(rt, top, ctx.u.d->k[i].u.s->s, ctx.u.d->v[i]);
    exec_body(rt, top, &t->body, &st->result);
    size_t len = st->result.len;
    if (st->result.oom || !(*out = mlxc_buf_take(&st->result)))
        rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    else if (out_len)
        *out_len = len;
done:
    for (int i = 0; i < st->bufs.n; i++)
        mlxc_buf_free(st->bufs.v[i]);
    mlxc_buf_free(&st->result);
    mlxc_jv_arena_free(&st->arena);
    free(st);
    return rc;
}

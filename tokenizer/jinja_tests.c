/* The tests of the Jinja engine (`x is defined`, `x is string`...), as jinja2 3.1 defines them. */
#include "tokenizer/jinja_eval.h"

#include <math.h>
#include <string.h>

static mlxc_jv arg0(struct jrt *rt, struct jargs *a, const char *name)
{
    return mlxc_jinja_arg(rt, a, 0, name, MLXC_JINJA_REQUIRED);
}

static int cmp_test(struct jrt *rt, mlxc_jv v, mlxc_jv o, int op)
{
    if (op == JT_EQ) return mlxc_jv_eq(v, o);
    if (op == JT_NE) return !mlxc_jv_eq(v, o);
    int c = mlxc_jinja_compare(rt, v, o, 0);
    return op == JT_LT ? c < 0 : op == JT_LTEQ ? c <= 0 : op == JT_GT ? c > 0 : c >= 0;
}

static int is_int(mlxc_jv v) { return v.t == JV_INT; }

static int divisible(struct jrt *rt, mlxc_jv v, mlxc_jv n)
{
    mlxc_jv r = mlxc_jinja_binop(rt, JT_MOD, v, n);
    return mlxc_jv_eq(r, mlxc_jv_int(0));
}

static int sameas(mlxc_jv v, mlxc_jv o)
{
    if (v.t != o.t)
        return 0;
    switch (v.t) {
    case JV_NONE: case JV_UNDEF: return v.t == JV_NONE;
    case JV_BOOL: return v.u.i == o.u.i;
    case JV_INT: return v.u.i == o.u.i && v.u.i >= -5 && v.u.i <= 256; /* CPython's small-int cache */
    default: return v.u.p == o.u.p;
    }
}

static const char *const NAMES[] = {
    "odd", "even", "divisibleby", "defined", "undefined", "none", "boolean", "false", "true", "integer",
    "float", "lower", "upper", "string", "mapping", "number", "sequence", "iterable", "callable", "sameas",
    "escaped", "in", "==", "eq", "equalto", "!=", "ne", ">", "gt", "greaterthan", ">=", "ge", "<", "lt",
    "lessthan", "<=", "le", "filter", "test", NULL};

int mlxc_jinja_has_test(const char *name)
{
    for (const char *const *n = NAMES; *n; n++)
        if (!strcmp(*n, name))
            return 1;
    return 0;
}

int mlxc_jinja_test(struct jrt *rt, const char *t, mlxc_jv v, struct jargs *a)
{
#define IS(x) (!strcmp(t, (x)))
    if (IS("defined")) return v.t != JV_UNDEF;
    if (IS("undefined")) return v.t == JV_UNDEF;
    if (IS("none")) return v.t == JV_NONE;
    if (IS("boolean")) return v.t == JV_BOOL;
    if (IS("false")) return v.t == JV_BOOL && !v.u.i;
    if (IS("true")) return v.t == JV_BOOL && v.u.i;
    if (IS("integer")) return is_int(v);
    if (IS("float")) return v.t == JV_FLOAT;
    if (IS("number")) return mlxc_jv_is_number(v);
    if (IS("string")) return v.t == JV_STR;
    if (IS("mapping")) return v.t == JV_DICT;
    if (IS("sequence")) return v.t == JV_STR || v.t == JV_DICT || (v.t == JV_LIST && v.u.l->kind <= JV_LIST_TUPLE);
    if (IS("iterable")) return v.t == JV_STR || v.t == JV_DICT || v.t == JV_LIST || v.t == JV_UNDEF;
    if (IS("callable"))
        return v.t == JV_FUNC || v.t == JV_UNDEF || v.t == JV_LOOP || v.t == JV_JOINER;
    if (IS("escaped")) return v.t == JV_STR && v.u.s->markup;
    if (IS("lower") || IS("upper")) {
        mlxc_jv s = mlxc_jinja_to_string(rt, v);
        mlxc_jv m = mlxc_jinja_method(rt, s, IS("lower") ? "islower" : "isupper");
        struct jargs none = {0};
        return mlxc_jv_truthy(mlxc_jinja_call(rt, m, &none));
    }
    if (IS("odd") || IS("even")) {
        if (v.t == JV_UNDEF)
            mlxc_jinja_undefined_error(rt, v);
        int d = divisible(rt, v, mlxc_jv_int(2));
        return IS("even") ? d : !d;
    }
    if (IS("divisibleby")) return divisible(rt, v, arg0(rt, a, "num"));
    if (IS("sameas")) return sameas(v, arg0(rt, a, "other"));
    if (IS("in")) return mlxc_jinja_contains(rt, arg0(rt, a, "seq"), v);
    if (IS("==") || IS("eq") || IS("equalto")) return cmp_test(rt, v, arg0(rt, a, "other"), JT_EQ);
    if (IS("!=") || IS("ne")) return cmp_test(rt, v, arg0(rt, a, "other"), JT_NE);
    if (IS(">") || IS("gt") || IS("greaterthan")) return cmp_test(rt, v, arg0(rt, a, "other"), JT_GT);
    if (IS(">=") || IS("ge")) return cmp_test(rt, v, arg0(rt, a, "other"), JT_GTEQ);
    if (IS("<") || IS("lt") || IS("lessthan")) return cmp_test(rt, v, arg0(rt, a, "other"), JT_LT);
    if (IS("<=") || IS("le")) return cmp_test(rt, v, arg0(rt, a, "other"), JT_LTEQ);
    if (IS("filter")) return v.t == JV_STR && mlxc_jinja_has_filter(v.u.s->s);
    if (IS("test")) return v.t == JV_STR && mlxc_jinja_has_test(v.u.s->s);
#undef IS
    mlxc_jinja_fail(rt, MLXC_EINVAL, "No test named '%s'.", t);
}

/* The filters of the Jinja engine: jinja2 3.1's builtin filters (as the sandbox runs them, without
 * autoescape) and transformers' tojson. Each follows the jinja2 function named in its comment. */
#include "tokenizer/jinja_eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#define REQ MLXC_JINJA_REQUIRED
#define ARG(i, name, dflt) mlxc_jinja_arg(rt, a, (i), (name), (dflt))
#define CHECK(maxpos, ...) do { static const char *const n_[] = {__VA_ARGS__, NULL}; \
        mlxc_jinja_check_args(rt, a, (maxpos), n_, "filter"); } while (0)

static mlxc_jv S(struct jrt *rt, mlxc_jv v) { return mlxc_jinja_to_string(rt, v); }

static int64_t as_int(struct jrt *rt, mlxc_jv v, const char *what)
{
    if (v.t == JV_INT || v.t == JV_BOOL)
        return v.u.i;
    if (v.t == JV_UNDEF)
        mlxc_jinja_undefined_error(rt, v);
    mlxc_jinja_fail(rt, MLXC_EINVAL, "%s: '%s' object cannot be interpreted as an integer", what, mlxc_jv_type_name(v));
}

/* make_attrgetter: "a.b.0" walks getitem (integers index); default replaces an Undefined result */
static mlxc_jv attr_get(struct jrt *rt, mlxc_jv item, mlxc_jv attribute, mlxc_jv dflt)
{
    if (attribute.t == JV_NONE || attribute.t == JV_UNDEF)
        return item;
    if (attribute.t == JV_INT)
        return mlxc_jinja_getitem(rt, item, attribute);
    if (attribute.t != JV_STR)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "attribute must be a string or an integer");
    const char *s = attribute.u.s->s;
    while (1) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        mlxc_jv key = mlxc_jinja_str(rt, s, n);
        int digits = n > 0;
        for (size_t i = 0; i < n; i++)
            digits &= s[i] >= '0' && s[i] <= '9';
        if (digits && n < 18)
            key = mlxc_jv_int(strtoll(key.u.s->s, NULL, 10));
        item = mlxc_jinja_getitem(rt, item, key);
        if (dflt.t != JV_UNDEF && dflt.t != JV_NONE && item.t == JV_UNDEF)
            item = dflt;
        if (!dot)
            return item;
        s = dot + 1;
    }
}

/* ---- string filters ---- */

static mlxc_jv f_trim(struct jrt *rt, mlxc_jv v, struct jargs *a)
{ CHECK(1, "chars"); return mlxc_jinja_strip(rt, S(rt, v), ARG(0, "chars", mlxc_jv_none()), JSTRIP_BOTH); }
static mlxc_jv f_upper(struct jrt *rt, mlxc_jv v, struct jargs *a)
{ CHECK(0, ""); return mlxc_jinja_case(rt, S(rt, v), JCASE_UPPER); }
static mlxc_jv f_lower(struct jrt *rt, mlxc_jv v, struct jargs *a)
{ CHECK(0, ""); return mlxc_jinja_case(rt, S(rt, v), JCASE_LOWER); }
static mlxc_jv f_capitalize(struct jrt *rt, mlxc_jv v, struct jargs *a)
{ CHECK(0, ""); return mlxc_jinja_case(rt, S(rt, v), JCASE_CAPITALIZE); }

/* do_title: split on runs of [-\s({[<], then each piece gets item[0].upper() + item[1:].lower() */
static int title_sep(uint32_t c) { return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || mlxc_jv_isspace(c); }
static mlxc_jv f_title(struct jrt *rt, mlxc_jv v, struct jargs *a)
{
    CHECK(0, "");
    size_t n;
    uint32_t *cp = mlxc_jinja_codepoints(rt, S(rt, v), &n);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        int sep = title_sep(cp[i]);
        while (j < n && title_sep(cp[j]) == sep)
            j++;
        cp[i] = (uint32_t)utf8proc_toupper((utf8proc_int32_t)cp[i]);
        for (size_t k = i + 1; k < j; k++)
            cp[k] = (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp[k]);
        i = j;
    }
    return mlxc_jinja_from_codepoints(rt, cp, n);
}

static mlxc_jv f_replace(struct jrt *rt, mlxc_jv v, struct jargs *a)
{
    CHECK(3, "old", "new", "count");
    mlxc_jv c = ARG(2, "count", mlxc_jv_none());
    return mlxc_jinja_replace(rt, S(rt, v), S(rt, ARG(0, "old", REQ)), S(rt, ARG(1, "new", REQ)),
                              c.t == JV_NONE ? -1 : as_int(rt, c, "replace"));
}

static mlxc_jv f_string(struct jrt *rt, mlxc_jv v, struct jargs *a) { CHECK(0, ""); return S(rt, v); }

static mlxc_jv f_safe(struct jrt *rt, mlxc_jv v, struct jargs *a)
{
    CHECK(0, "");
    mlxc_jv s = S(rt, v);
    if (s.u.s->markup)
        return s;
    mlxc_jv c = mlxc_jinja_str(rt, s.u.s->s, s.u.s->len);
    c.u.s->markup = 1;
    return c;
}

/* markupsafe.escape */
static mlxc_jv f_escape(struct jrt *rt, mlxc_jv v, struct jargs *a)
{
    CHECK(0, "");
    if (v.t == JV_STR && v.u.s->markup)
        return v;
    mlxc_jv s = S(rt, v);
    struct mlxc_buf *b = mlxc_jinja_tmpbuf(rt);
    for (size_t i = 0; i < s.u.s->len; i++) {
        char c = s.u.s->s[i];
        switch (c) {
        case '&': mlxc_buf_puts(b, "&amp;"); break;
        case '<': mlxc_buf_puts(b, "&lt;"); break;
        case '>': mlxc_buf_puts(b, "&gt;"); break;
        case '"': mlxc_buf_puts(b, "&#34;"); break;
        case '\'': mlxc_buf_puts(b, "&#39;"); break;
        default: mlxc_buf_putc(b, c);
        }
    }
    mlxc_jv r = mlxc_jinja_tmpbuf_take(rt, b);
    r.u.s->markup = 1;
    return r;
}

static mlxc_jv f_forceescape(struct jrt *rt, mlxc_jv v, struct jargs *a)
{
    mlxc_jv s = S(rt, v);
    mlxc_jv c = mlxc_jinja_str(rt, s.u.s->s, s.u.s->len);
    return f_escape(rt, c, a);
}

/* do_indent (3.1): width may be a string; first and blank default to False */
static mlxc_jv f_indent(struct jrt *rt, mlxc_jv v, struct jargs *a)
{
    CHECK(3, "width", "first", "blank");
    mlxc_jv w = ARG(0, "width", mlxc_jv_int(4));
    int first = mlxc_jv_truthy(ARG(1, "first", mlxc_jv_bool(0)));
    int blank = mlxc_jv_truthy(ARG(2, "blank", mlxc_jv_bool(0)));
    if (v.t == JV_UNDEF)
        mlxc_jinja_undefined_error(rt, v);
    if (v.t != JV_STR)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "unsupported operand type(s) for +=: '%s' and 'str'", mlxc_jv_type_name(v));
    mlxc_jv ind = w.t == JV_STR ? w : mlxc_jinja_binop(rt, JT_MUL, mlxc_jinja_cstr(rt, " "), w);
    mlxc_jv s = mlxc_jinja_binop(rt, JT_ADD, v, mlxc_jinja_cstr(rt, "\n"));
    struct mlxc_jv_list *lines = mlxc_jinja_splitlines(rt, s, 0);
    struct mlxc_buf *b = mlxc_jinja_tmpbuf(rt);
    if (first)
        mlxc_buf_append(b, ind.u.s->s, ind.u.s->len);
    for (size_t i = 0; i < lines->n; i++) {
        mlxc_jv line = lines->v[i];
        if (i) {
            mlxc_buf_putc(b, '\n');
            if (blank || line.u.s->len)
                mlxc_buf_append(b, ind.u.s->s, ind.u.s->len);
        }
        mlxc_buf_append(b, line.u.s->s, line.u.s->len);
        if (b->len > rt->max_output)
            mlxc_jinja_fail(rt, MLXC_ENOMEM, "string is over the output limit");
    }
    return mlxc_jinja_tmpbuf_take(rt, b);
}

static mlxc_jv f_center(struct jrt *rt, mlxc_jv v, struct jargs *a)
{
    CHECK(1, "width");
    mlxc_jv m = mlxc_jinja_method(rt, S(rt, v), "center");
    struct jargs ca = {.npos = 1, .pos = (mlxc_jv[]){ARG(0, "width", mlxc_jv_int(80))}};
    return mlxc_jinja_call(rt, m, &ca);
}

/* do_truncate with the default leeway of 5 */
static mlxc_jv f_truncate(struct jrt *rt, mlxc_jv v, struct jargs *a)
{
    CHECK(4, "length", "killwords", "end", "leeway");
    mlxc_jv s = S(rt, v);
    int64_t length = as_int(rt, ARG(0, "length", mlxc_jv_int(255)), "truncate");
    int killwords = mlxc_jv_truthy(ARG(1, "killwords", mlxc_jv_bool(0)));
    mlxc_jv end = S(rt, ARG(2, "end", mlxc_jinja_cstr(rt, "...")));
    mlxc_jv lw = ARG(3, "leeway", mlxc_jv_none());
    int64_t leeway = lw.t == JV_NONE ? 5 : as_int(rt, lw, "truncate");
    size_t n, en = mlxc_jv_cplen(end.u.s->s, end.u.s->len);
    uint32_t *cp = mlxc_jinja_codepoints(rt, s, &n);
    if (length < (int64_t)en)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "expected length >= %zu, got %lld", en, (long long)length);
    if (leeway < 0)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "expected leeway >= 0, got %lld", (long long)leeway);
    if ((int64_t)n <= length + leeway)
        return s;
    size_t keep = (size_t)(length - (int64_t)en);
    if (!killwords) {
        /* s[:keep].rsplit(" ", 1)[0] */
        size_t k = keep;
        while (k > 0 && cp[k - 1] != ' ')
            k--;
        if (k > 0)
            keep = k - 1;
    }
    mlxc_jv head = mlxc_jinja_from_codepoints(rt, cp, keep);
    return mlxc_jinja_binop(rt, JT_ADD, head, end);
}

static int word_char(uint32_t c)
{
    if (c == '_')
        return 1;
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) ||
           (k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO);
}

static mlxc_jv f_wordcount(struct jrt *rt, mlxc_jv v, struct jargs *a)
{
    CHECK(0, "");
    size_t n;
    uint32_t *cp = mlxc_jinja_codepoints(rt, S(rt, v), &n);
    int64_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (word_char(cp[i]) && (i == 0 || !word_char(cp[i - 1])))
            c++;
    return mlxc_jv_int(c);
}

/* do_format: soft_str(value) % (kwargs or args) */
static mlxc_jv f_format(struct jrt *rt, mlxc_jv v, struct jargs *a)
{
    if (a->npos && a->nkw)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "can't handle positional and keyword arguments at the same time");
    mlxc_jv args;
    if (a->nkw) {
        struct mlxc_jv_dict *d = mlxc_jinja_dict(rt);
        for (int i = 0; i < a->nkw; i++)
            mlxc_jinja_dset(rt, d, mlxc_jinja_cstr(rt, a->kwn[i]), a->kwv[i]);
        args = mlxc_jv_of_dict(d);
    } else {
        struct mlxc_jv_list *l = mlxc_jinja_list(rt, (size_t)a->npos);
        l->kind = JV_LIST_TUPLE;
        for (int i = 0; i < a->npos; i++)
            l->v[l->n++] = a->pos[i];
        args = mlxc_jv_of_list(l);
    }
    return mlxc_jinja_str_percent(rt, S(rt, v), args);
}

/* transformers' tojson: json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False) */
static mlxc_jv f_tojson(struct jrt *rt, mlxc_jv v, struct jargs *a)
{
    CHECK(4, "ensure_ascii", "indent", "separators", "sort_keys");
    int ascii = mlxc_jv_truthy(ARG(0, "ensure_ascii", mlxc_jv_bool(0)));
    mlxc_jv ind = ARG(1, "indent", mlxc_jv_none());
    mlxc_jv sep = ARG(2, "separators", mlxc_jv_none());
    int sort = mlxc_jv_truthy(ARG(3, "sort_keys", mlxc_jv_bool(0)));
    const char *indent = NULL, *isep = ", ", *ksep = ": ";
    if (ind.t == JV_STR)
        indent = ind.u.s->s;
    else if (ind.t == JV_INT || ind.t == JV_BOOL) {
        int64_t n = ind.u.i < 0 ? 0 : ind.u.i > 1000 ? 1000 : ind.u.i;
        indent = mlxc_jinja_binop(rt, JT_MUL, mlxc_jinja_cstr(rt, " "), mlxc_jv_int(n)).u.s->s;
    } else if (ind.t != JV_NONE)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "indent must be an integer or a string");
    if (indent)
        isep = ",";
    if (sep.t == JV_LIST && sep.u.l->n == 2 && sep.u.l->v[0].t == JV_STR && sep.u.l->v[1].t == JV_STR) {
        isep = sep.u.l->v[0].u.s->s;
        ksep = sep.u.l->v[1].u.s->s;
    } else if (sep.t != JV_NONE)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "separators must be a (item_separator, key_separator) pair of strings");
    struct mlxc_buf *b = mlxc_jinja_tmpbuf(rt);
    mlxc_jinja_json_dump(rt, b, v, ascii, indent, isep, ksep, sort);
    return mlxc_jinja_tmpbuf_take(rt, b);
}

/* ---- sequence filters ---- */

static mlxc_jv f_length(struct jrt *rt, mlxc_jv v, struct jargs *a) { CHECK(0, ""); return mlxc_jv_int(mlxc_jinja_len(rt, v)); }

static mlxc_jv f_default(struct jrt *rt, mlxc_jv v, struct jargs *a)
{
    CHECK(2, "default_value", "boolean");
    mlxc_jv d = ARG(0, "default_value", mlxc_jinja_cstr(rt, ""));
    int boolean = mlxc_jv_truthy(ARG(1, "boolean", mlxc_jv_bool(0)));
    if (v.t == JV_UNDEF || (boolean && !mlxc_jv_truthy(v)))
        return d;
    return v;
}

static mlxc_jv tuple2(struct jrt *rt, mlxc_jv x, mlxc_jv y)
{
    struct mlxc_jv_list *t = mlxc_jinja_list(rt, 2);
    t->kind = JV_LIST_TUPLE;
    t->v[0] = x;
    t->v[1] = y;
    t->n = 2;
    return mlxc_jv_of_list(t);
}

static mlxc_jv f_items(struct jrt *rt, mlxc_jv v, struct jargs *a)
{
    CHECK(0, "");
    struct mlxc_jv_list *l = mlxc_jinja_list(rt, 0);
    if (v.t == JV_UNDEF)
        return mlxc_jv_of_list(l);
    if (v.t != JV_DICT)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "Can only get item pairs from a mapping.");
    for (size_t i = 0; i < v.u.d->n; i++)
        mlxc_jinja_push(rt, l, tuple2(rt, v.u.d->k[i], v.u.d->v[i]));
    return mlxc_jv_of_list(l);
}

static mlxc_jv f_join(struct jrt *rt, mlxc_jv v, struct jargs *a)
{
    CHECK(2, "d", "attribute");
    mlxc_jv d = S(rt, ARG(0, "d", mlxc_jinja_cstr(rt, "")));
    mlxc_jv attr = ARG(1, "attribute", mlxc_jv_none());
    struct mlxc_jv_list *items = mlxc_jinja_iter(rt, v);
    mlxc_jv *parts = mlxc_jv_alloc(rt->a, (items->n + 1) * sizeof *parts);
    if (!parts)
        mlxc_jinja_oom(rt);
    int markup = d.u.s->markup;
    for (size_t i = 0; i < items->n; i++) {
        parts[i] = S(rt, attr_get(rt, items->v[i], attr, mlxc_jv_none()));
        markup |= parts[i].u.s->markup;
    }
    (void)markup; /* without autoescape jinja2 joins with str() */
    struct mlxc_buf *b = mlxc_jinja_tmpbuf(rt);
    for (size_t i = 0; i < items->n; i++) {
        if (i)
            mlxc_buf_append(b, d.u.s->s, d.u.s->len);
        mlxc_buf_append(b, parts[i].u.s->s, parts[i].u.s->len);
        if (b->len > rt->max_output)
            mlxc_jinja_fail(rt, MLXC_ENOMEM, "string is over the output limit");
    }
    return mlxc_jinja_tmpbuf_take(rt, b);
}

static mlxc_jv f_first(struct jrt *rt, mlxc_jv v, struct jargs *a)
{
    CHECK(0, "");
    struct mlxc_jv_list *l = mlxc_jinja_iter(rt, v);
    return l->n ? l->v[0] : mlxc_jv_undef("No first item, sequence was empty.");
}

static mlxc_jv f_last(struct jrt *rt, mlxc_jv v, struct jargs *a)
{
    CHECK(0, "");
    struct mlxc_jv_list *l = mlxc_jinja_iter(rt, v);
    return l->n ? l->v[l->n - 1] : mlxc_jv_undef("No last item, sequence was empty.");
}

static mlxc_jv f_list(struct jrt *rt, mlxc_jv v, struct jargs *a)
{
    CHECK(0, "");
    struct mlxc_jv_list *src = mlxc_jinja_iter(rt, v), *l = mlxc_jinja_list(rt, src->n);
    if (src->n)
        memcpy(l->v, src->v, src->n * sizeof *l->v);
    l->n = src->n;
    return mlxc_jv_of_list(l);
}

static mlxc_jv f_reverse(struct jrt *rt, mlxc_jv v, struct jargs *a)
{
    CHECK(0, "");
    if (v.t == JV_STR) {
        size_t n;
        uint32_t *cp = mlxc_jinja_codepoints(rt, v, &n);
        for (size_t i = 0; i < n / 2; i++) {
            uint32_t t = cp[i];
            cp[i] = cp[n - 1 - i];
            cp[n - 1 - i] = t;
        }
        return mlxc_jinja_from_codepoints(rt, cp, n);
    }
    struct mlxc_jv_list *src = mlxc_jinja_iter(rt, v), *l = mlxc_jinja_list(rt, src->n);
    for (size_t i = src->n; i-- > 0;)
        l->v[l->n++] = src->v[i];
    return mlxc_jv_of_list(l);
}

/* map(filter_name, *args, **kwargs) or map(attribute=..., default=...) */
static mlxc_jv f_map(struct jrt *rt, mlxc_jv v, struct jargs *a)
{
    struct mlxc_jv_list *out = mlxc_jinja_list(rt, 0);
    if (!mlxc_jv_truthy(v))
        return mlxc_jv_of_list(out);
    struct mlxc_jv_list *items = mlxc_jinja_iter(rt, v);
    if (!a->npos) {
        CHECK(0, "attribute", "default");
        mlxc_jv attr = ARG(-1, "attribute", REQ), dflt = ARG(-1, "default", mlxc_jv_none());
        for (size_t i = 0; i < items->n; i++)
            mlxc_jinja_push(rt, out, attr_get(rt, items->v[i], attr, dflt));
        return mlxc_jv_of_list(out);
    }
    if (a->pos[0].t != JV_STR)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "map: the filter name must be a string");
    const char *name = a->pos[0].u.s->s;
    if (!mlxc_jinja_has_filter(name))
        mlxc_jinja_fail(rt, MLXC_EINVAL, "No filter named '%s'.", name);
    struct jargs rest = *a;
    rest.npos--;
    rest.pos++;
    for (size_t i = 0; i < items->n; i++)
        mlxc_jinja_push(rt, out, mlxc_jinja_filter(rt, name, items->v[i], &rest));
    return mlxc_jv_of_list(out);
}

/* select / reject / selectattr / rejectattr (jinja2's select_or_reject) */
static mlxc_jv select_impl(struct jrt *rt, mlxc_jv v, struct jargs *a, int keep, int lookup_attr)
{
    struct mlxc_jv_list *out = mlxc_jinja_list(rt, 0);
    struct jargs rest = *a;
    mlxc_jv attr = mlxc_jv_none();
    if (lookup_attr) {
        if (!rest.npos)
            mlxc_jinja_fail(rt, MLXC_EINVAL, "Missing parameter for attribute name");
        attr = rest.pos[0];
        rest.pos++;
        rest.npos--;
    }
    const char *test = NULL;
    if (rest.npos) {
        if (rest.pos[0].t != JV_STR)
            mlxc_jinja_fail(rt, MLXC_EINVAL, "the test name must be a string");
        test = rest.pos[0].u.s->s;
        if (!mlxc_jinja_has_test(test))
            mlxc_jinja_fail(rt, MLXC_EINVAL, "No test named '%s'.", test);
        rest.pos++;
        rest.npos--;
    }
    if (!mlxc_jv_truthy(v))
        return mlxc_jv_of_list(out);
    struct mlxc_jv_list *items = mlxc_jinja_iter(rt, v);
    for (size_t i = 0; i < items->n; i++) {
        mlxc_jv x = lookup_attr ? attr_get(rt, items->v[i], attr, mlxc_jv_none()) : items->v[i];
        int ok = test ? mlxc_jinja_test(rt, test, x, &rest) : mlxc_jv_truthy(x);
        if (ok == keep)
            mlxc_jinja_push(rt, out, items->v[i]);
    }
    return mlxc_jv_of_list(out);
}
static mlxc_jv f_select(struct jrt *rt, mlxc_jv v, struct jargs *a) { return select_impl(rt, v, a, 1, 0); }
static mlxc_jv f_reject(struct jrt *rt, mlxc_jv v, struct jargs *a) { return select_impl(rt, v, a, 0, 0); }
static mlxc_jv f_selectattr(struct jrt *rt, mlxc_jv v, struct jargs *a) { return select_impl(rt, v, a, 1, 1); }
static mlxc_jv f_rejectattr(struct jrt *rt, mlxc_jv v, struct jargs *a) { return select_impl(rt, v, a, 0, 1); }

/* Sort keys: the attribute (comma separated for several), lower-cased unless case_sensitive. */
static mlxc_jv sort_key(struct jrt *rt, mlxc_jv item, mlxc_jv attr, int case_sensitive)
{
    mlxc_jv k;
    if (attr.t == JV_STR && strchr(attr.u.s->s, ',')) {
        struct mlxc_jv_list *parts = mlxc_jinja_list(rt, 0);
        parts->kind = JV_LIST_TUPLE;
        const char *s = attr.u.s->s;
        for (;;) {
            const char *c = strchr(s, ',');
            size_t n = c ? (size_t)(c - s) : strlen(s);
            mlxc_jv one = attr_get(rt, item, mlxc_jinja_str(rt, s, n), mlxc_jv_none());
            if (!case_sensitive && one.t == JV_STR)
                one = mlxc_jinja_case(rt, one, JCASE_LOWER);
            mlxc_jinja_push(rt, parts, one);
            if (!c)
                break;
            s = c + 1;
        }
        return mlxc_jv_of_list(parts);
    }
    k = attr_get(rt, item, attr, mlxc_jv_none());
    if (!case_sensitive && k.t == JV_STR)
        k = mlxc_jinja_case(rt, k, JCASE_LOWER);
    return k;
}

/* Stable merge sort of items by keys (Python's sorted, reverse keeps equal items in order). */
static void sort_by(struct jrt *rt, mlxc_jv *items, mlxc_jv *keys, size_t n, int reverse)
{
    if (n < 2)
        return;
    mlxc_jv *ti = mlxc_jv_alloc(rt->a, n * sizeof *ti), *tk = mlxc_jv_alloc(rt->a, n * sizeof *tk);
    if (!ti || !tk)
        mlxc_jinja_oom(rt);
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n, i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                int c = mlxc_jinja_compare(rt, keys[j], keys[i], 0);
                int take_right = reverse ? c > 0 : c < 0;
                if (take_right) { ti[k] = items[j]; tk[k++] = keys[j++]; }
                else { ti[k] = items[i]; tk[k++] = keys[i++]; }
            }
            while (i < mid) { ti[k] = items[i]; tk[k++] = keys[i++]; }
            while (j < hi) { ti[k] = items[j]; tk[k++] = keys[j++]; }
        }
        memcpy(items, ti, n * sizeof *ti);
        memcpy(keys, tk, n * sizeof *tk);
    }
}

static mlxc_jv f_sort(struct jrt *rt, mlxc_jv v, struct jargs *a)
{
    CHECK(3, "reverse", "case_sensitive", "attribute");
    int reverse = mlxc_jv_truthy(ARG(0, "reverse", mlxc_jv_bool(0)));
    int cs = mlxc_jv_truthy(ARG(1, "case_sensitive", mlxc_jv_bool(0)));
    mlxc_jv attr = ARG(2, "attribute", mlxc_jv_none());
    struct mlxc_jv_list *src = mlxc_jinja_iter(rt, v), *l = mlxc_jinja_list(rt, src->n);
    mlxc_jv *keys = mlxc_jv_alloc(rt->a, (src->n + 1) * sizeof *keys);
    if (!keys)
        mlxc_jinja_oom(rt);
    for (size_t i = 0; i < src->n; i++) {
        l->v[i] = src->v[i];
        keys[i] = sort_key(rt, src->v[i], attr, cs);
    }
    l->n = src->n;
    sort_by(rt, l->v, keys, l->n, reverse);
    return mlxc_jv_of_list(l);
}

static mlxc_jv f_dictsort(struct jrt *rt, mlxc_jv v, struct jargs *a)
{
    CHECK(3, "case_sensitive", "by", "reverse");
    int cs = mlxc_jv_truthy(ARG(0, "case_sensitive", mlxc_jv_bool(0)));
    mlxc_jv by = ARG(1, "by", mlxc_jinja_cstr(rt, "key"));
    int reverse = mlxc_jv_truthy(ARG(2, "reverse", mlxc_jv_bool(0)));
    int pos;
    if (by.t == JV_STR && !strcmp(by.u.s->s, "key")) pos = 0;
    else if (by.t == JV_STR && !strcmp(by.u.s->s, "value")) pos = 1;
    else mlxc_jinja_fail(rt, MLXC_EINVAL, "You can only sort by either \"key\" or \"value\"");
    if (v.t != JV_DICT)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "'%s' object has no attribute 'items'", mlxc_jv_type_name(v));
    size_t n = v.u.d->n;
    struct mlxc_jv_list *l = mlxc_jinja_list(rt, n);
    mlxc_jv *keys = mlxc_jv_alloc(rt->a, (n + 1) * sizeof *keys);
    if (!keys)
        mlxc_jinja_oom(rt);
    for (size_t i = 0; i < n; i++) {
        l->v[i] = tuple2(rt, v.u.d->k[i], v.u.d->v[i]);
        keys[i] = pos ? v.u.d->v[i] : v.u.d->k[i];
        if (!cs && keys[i].t == JV_STR)
            keys[i] = mlxc_jinja_case(rt, keys[i], JCASE_LOWER);
    }
    l->n = n;
    sort_by(rt, l->v, keys, n, reverse);
    return mlxc_jv_of_list(l);
}

static mlxc_jv f_unique(struct jrt *rt, mlxc_jv v, struct jargs *a)
{
    CHECK(2, "case_sensitive", "attribute");
    int cs = mlxc_jv_truthy(ARG(0, "case_sensitive", mlxc_jv_bool(0)));
    mlxc_jv attr = ARG(1, "attribute", mlxc_jv_none());
    struct mlxc_jv_list *src = mlxc_jinja_iter(rt, v), *out = mlxc_jinja_list(rt, 0), *seen = mlxc_jinja_list(rt, 0);
    for (size_t i = 0; i < src->n; i++) {
        mlxc_jv k = sort_key(rt, src->v[i], attr, cs);
        if (!mlxc_jv_hashable(k))
            mlxc_jinja_fail(rt, MLXC_EINVAL, "unhashable type: '%s'", mlxc_jv_type_name(k));
        int dup = 0;
        for (size_t j = 0; j < seen->n && !dup; j++)
            dup = mlxc_jv_eq(seen->v[j], k);
        if (!dup) {
            mlxc_jinja_push(rt, seen, k);
            mlxc_jinja_push(rt, out, src->v[i]);
        }
    }
    return mlxc_jv_of_list(out);
}

static mlxc_jv minmax(struct jrt *rt, mlxc_jv v, struct jargs *a, int want_max)
{
    CHECK(2, "case_sensitive", "attribute");
    int cs = mlxc_jv_truthy(ARG(0, "case_sensitive", mlxc_jv_bool(0)));
    mlxc_jv attr = ARG(1, "attribute", mlxc_jv_none());
    struct mlxc_jv_list *src = mlxc_jinja_iter(rt, v);
    if (!src->n)
        return mlxc_jv_undef("No aggregated item, sequence was empty.");
    size_t best = 0;
    mlxc_jv bk = sort_key(rt, src->v[0], attr, cs);
    for (size_t i = 1; i < src->n; i++) {
        mlxc_jv k = sort_key(rt, src->v[i], attr, cs);
        int c = mlxc_jinja_compare(rt, k, bk, 0);
        if (want_max ? c > 0 : c < 0) {
            best = i;
            bk = k;
        }
    }
    return src->v[best];
}
static mlxc_jv f_min(struct jrt *rt, mlxc_jv v, struct jargs *a) { return minmax(rt, v, a, 0); }
static mlxc_jv f_max(struct jrt *rt, mlxc_jv v, struct jargs *a) { return minmax(rt, v, a, 1); }

static mlxc_jv f_sum(struct jrt *rt, mlxc_jv v, struct jargs *a)
{
    CHECK(2, "attribute", "start");
    mlxc_jv attr = ARG(0, "attribute", mlxc_jv_none()), acc = ARG(1, "start", mlxc_jv_int(0));
    struct mlxc_jv_list *src = mlxc_jinja_iter(rt, v);
    for (size_t i = 0; i < src->n; i++)
        acc = mlxc_jinja_binop(rt, JT_ADD, acc, attr_get(rt, src->v[i], attr, mlxc_jv_none()));
    return acc;
}

static mlxc_jv f_batch(struct jrt *rt, mlxc_jv v, struct jargs *a)
{
    CHECK(2, "linecount", "fill_with");
    int64_t count = as_int(rt, ARG(0, "linecount", REQ), "batch");
    mlxc_jv fill = ARG(1, "fill_with", mlxc_jv_none());
    if (count <= 0)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "batch size must be positive");
    struct mlxc_jv_list *src = mlxc_jinja_iter(rt, v), *out = mlxc_jinja_list(rt, 0), *cur = NULL;
    for (size_t i = 0; i < src->n; i++) {
        if (!cur)
            cur = mlxc_jinja_list(rt, 0);
        mlxc_jinja_push(rt, cur, src->v[i]);
        if ((int64_t)cur->n == count) {
            mlxc_jinja_push(rt, out, mlxc_jv_of_list(cur));
            cur = NULL;
        }
    }
    if (cur) {
        if (fill.t != JV_NONE)
            while ((int64_t)cur->n < count)
                mlxc_jinja_push(rt, cur, fill);
        mlxc_jinja_push(rt, out, mlxc_jv_of_list(cur));
    }
    return mlxc_jv_of_list(out);
}

static mlxc_jv f_slice(struct jrt *rt, mlxc_jv v, struct jargs *a)
{
    CHECK(2, "slices", "fill_with");
    int64_t slices = as_int(rt, ARG(0, "slices", REQ), "slice");
    mlxc_jv fill = ARG(1, "fill_with", mlxc_jv_none());
    if (slices <= 0 || slices > 100000)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "slice count out of range");
    struct mlxc_jv_list *seq = mlxc_jinja_iter(rt, v), *out = mlxc_jinja_list(rt, 0);
    int64_t length = (int64_t)seq->n, per = length / slices, with_extra = length % slices, offset = 0;
    for (int64_t i = 0; i < slices; i++) {
        int64_t start = offset + i * per;
        if (i < with_extra)
            offset++;
        int64_t end = offset + (i + 1) * per;
        struct mlxc_jv_list *tmp = mlxc_jinja_list(rt, 0);
        for (int64_t k = start; k < end; k++)
            mlxc_jinja_push(rt, tmp, seq->v[k]);
        if (fill.t != JV_NONE && i >= with_extra)
            mlxc_jinja_push(rt, tmp, fill);
        mlxc_jinja_push(rt, out, mlxc_jv_of_list(tmp));
    }
    return mlxc_jv_of_list(out);
}

static mlxc_jv f_groupby(struct jrt *rt, mlxc_jv v, struct jargs *a)
{
    CHECK(3, "attribute", "default", "case_sensitive");
    mlxc_jv attr = ARG(0, "attribute", REQ), dflt = ARG(1, "default", mlxc_jv_none());
    int cs = mlxc_jv_truthy(ARG(2, "case_sensitive", mlxc_jv_bool(0)));
    struct mlxc_jv_list *src = mlxc_jinja_iter(rt, v);
    size_t n = src->n;
    mlxc_jv *items = mlxc_jv_alloc(rt->a, (n + 1) * sizeof *items), *keys = mlxc_jv_alloc(rt->a, (n + 1) * sizeof *keys);
    mlxc_jv *raw = mlxc_jv_alloc(rt->a, (n + 1) * sizeof *raw);
    if (!items || !keys || !raw)
        mlxc_jinja_oom(rt);
    for (size_t i = 0; i < n; i++) {
        items[i] = src->v[i];
        keys[i] = attr_get(rt, src->v[i], attr, dflt);
        if (!cs && keys[i].t == JV_STR)
            keys[i] = mlxc_jinja_case(rt, keys[i], JCASE_LOWER);
    }
    sort_by(rt, items, keys, n, 0);
    struct mlxc_jv_list *out = mlxc_jinja_list(rt, 0);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        struct mlxc_jv_list *grp = mlxc_jinja_list(rt, 0);
        while (j < n && mlxc_jv_eq(keys[j], keys[i]))
            mlxc_jinja_push(rt, grp, items[j++]);
        mlxc_jv grouper = cs ? keys[i] : attr_get(rt, items[i], attr, dflt);
        mlxc_jinja_push(rt, out, tuple2(rt, grouper, mlxc_jv_of_list(grp)));
        i = j;
    }
    return mlxc_jv_of_list(out);
}

static mlxc_jv f_attr(struct jrt *rt, mlxc_jv v, struct jargs *a)
{
    CHECK(1, "name");
    mlxc_jv n = S(rt, ARG(0, "name", REQ));
    /* do_attr: getattr only, never the item */
    if (v.t == JV_LOOP || v.t == JV_CYCLER || v.t == JV_NS || v.t == JV_UNDEF)
        return mlxc_jinja_getattr(rt, v, n.u.s->s);
    mlxc_jv m = mlxc_jinja_method(rt, v, n.u.s->s);
    if (m.t != JV_UNDEF || m.u.hint)
        return m;
    return mlxc_jv_undef(mlxc_jinja_fmt(rt, "'%s' has no attribute '%s'", mlxc_jv_object_repr(v), n.u.s->s));
}

/* ---- numbers ---- */

static mlxc_jv f_abs(struct jrt *rt, mlxc_jv v, struct jargs *a)
{
    CHECK(0, "");
    if (v.t == JV_FLOAT) return mlxc_jv_float(fabs(v.u.f));
    if (v.t == JV_INT || v.t == JV_BOOL) {
        if (v.u.i == INT64_MIN)
            mlxc_jinja_fail(rt, MLXC_EUNSUP, "integer overflow");
        return mlxc_jv_int(v.u.i < 0 ? -v.u.i : v.u.i);
    }
    if (v.t == JV_UNDEF) mlxc_jinja_undefined_error(rt, v);
    mlxc_jinja_fail(rt, MLXC_EINVAL, "bad operand type for abs(): '%s'", mlxc_jv_type_name(v));
}

/* Python's round(x, n) for floats: correctly rounded, ties to even (glibc's printf does the same). */
static double py_round(double x, int64_t nd)
{
    if (!isfinite(x) || nd > 300)
        return x;
    if (nd < -308)
        return copysign(0.0, x);
    if (nd < 0) {
        double p = pow(10.0, (double)-nd), y = x / p, r = nearbyint(y);
        return r * p;
    }
    char buf[400];
    snprintf(buf, sizeof buf, "%.*f", (int)nd, x);
    return strtod(buf, NULL);
}

static mlxc_jv f_round(struct jrt *rt, mlxc_jv v, struct jargs *a)
{
    CHECK(2, "precision", "method");
    int64_t prec = as_int(rt, ARG(0, "precision", mlxc_jv_int(0)), "round");
    mlxc_jv m = ARG(1, "method", mlxc_jinja_cstr(rt, "common"));
    const char *method = m.t == JV_STR ? m.u.s->s : "";
    if (strcmp(method, "common") && strcmp(method, "ceil") && strcmp(method, "floor"))
        mlxc_jinja_fail(rt, MLXC_EINVAL, "method must be common, ceil or floor");
    if (v.t == JV_UNDEF)
        mlxc_jinja_undefined_error(rt, v);
    if (!mlxc_jv_is_number(v))
        mlxc_jinja_fail(rt, MLXC_EINVAL, "type %s doesn't define __round__ method", mlxc_jv_type_name(v));
    if (!strcmp(method, "common")) {
        if (v.t != JV_FLOAT)
            return mlxc_jv_int(v.u.i); /* round(int, n) stays an int (n >= 0) */
        return mlxc_jv_float(py_round(v.u.f, prec));
    }
    double x = v.t == JV_FLOAT ? v.u.f : (double)v.u.i, p = pow(10.0, (double)prec);
    return mlxc_jv_float((!strcmp(method, "ceil") ? ceil(x * p) : floor(x * p)) / p);
}

/* Python's int(str, base): optional sign and surrounding whitespace, single underscores between digits */
static int parse_int_str(const char *s, int base, int64_t *out)
{
    while (*s == ' ' || (*s >= 9 && *s <= 13)) s++;
    int neg = 0;
    if (*s == '+' || *s == '-') neg = *s++ == '-';
    if (base == 0 || base == 16 || base == 8 || base == 2) {
        if (s[0] == '0' && s[1] && strchr("xXoObB", s[1])) {
            int b = (s[1] | 32) == 'x' ? 16 : (s[1] | 32) == 'o' ? 8 : 2;
            if (base && base != b) return -1;
            base = b;
            s += 2;
            if (*s == '_') s++;
        } else if (!base)
            base = 10;
    }
    uint64_t acc = 0;
    int nd = 0, prev_us = 0;
    for (; *s; s++) {
        if (*s == '_') {
            if (!nd || prev_us) return -1;
            prev_us = 1;
            continue;
        }
        int d = *s >= '0' && *s <= '9' ? *s - '0' : (*s | 32) >= 'a' && (*s | 32) <= 'z' ? (*s | 32) - 'a' + 10 : 99;
        if (d >= base) break;
        if (acc > (UINT64_MAX - (uint64_t)d) / (uint64_t)base) return -2;
        acc = acc * (uint64_t)base + (uint64_t)d;
        nd++;
        prev_us = 0;
    }
    if (prev_us) return -1;
    while (*s == ' ' || (*s >= 9 && *s <= 13)) s++;
    if (*s || !nd) return -1;
    if (acc > (uint64_t)INT64_MAX + neg) return -2;
    *out = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return 0;
}

/* Python's float(str) (whitespace, "inf", "nan", underscores); -1 when it is not a number */
static int parse_float_str(const char *s, double *out)
{
    char buf[512];
    size_t k = 0;
    while (*s == ' ' || (*s >= 9 && *s <= 13)) s++;
    for (; *s && k < sizeof buf - 1; s++)
        if (*s != '_')
            buf[k++] = *s;
    while (k && (buf[k - 1] == ' ' || (buf[k - 1] >= 9 && buf[k - 1] <= 13))) k--;
    buf[k] = 0;
    if (!k || strchr(buf, 'x') || strchr(buf, 'X') || strchr(buf, 'p') || strchr(buf, 'P'))
        return -1;
    char *end;
    double d = strtod(buf, &end);
    if (*end)
        return -1;
    *out = d;
    return 0;
}

static mlxc_jv f_int(struct jrt *rt, mlxc_jv v, struct jargs *a)
{
    CHECK(2, "default", "base");
    mlxc_jv dflt = ARG(0, "default", mlxc_jv_int(0));
    int64_t base = as_int(rt, ARG(1, "base", mlxc_jv_int(10)), "int");
    int64_t r;
    double d;
    switch (v.t) {
    case JV_UNDEF: mlxc_jinja_undefined_error(rt, v);
    case JV_BOOL: case JV_INT: return mlxc_jv_int(v.u.i);
    case JV_FLOAT:
        if (!isfinite(v.u.f))
            mlxc_jinja_fail(rt, MLXC_EINVAL, isnan(v.u.f) ? "cannot convert float NaN to integer" :
                            "cannot convert float infinity to integer");
        if (fabs(v.u.f) >= 9.2e18)
            mlxc_jinja_fail(rt, MLXC_EUNSUP, "integer overflow");
        return mlxc_jv_int((int64_t)v.u.f);
    case JV_STR: {
        int rc = parse_int_str(v.u.s->s, (int)base, &r);
        if (!rc)
            return mlxc_jv_int(r);
        if (rc == -2)
            mlxc_jinja_fail(rt, MLXC_EUNSUP, "integer overflow");
        /* "42.23"|int gives 42 */
        if (!parse_float_str(v.u.s->s, &d)) {
            if (!isfinite(d))
                mlxc_jinja_fail(rt, MLXC_EINVAL, "cannot convert float to integer");
            if (fabs(d) >= 9.2e18)
                mlxc_jinja_fail(rt, MLXC_EUNSUP, "integer overflow");
            return mlxc_jv_int((int64_t)d);
        }
        return dflt;
    }
    default:
        return dflt;
    }
}

static mlxc_jv f_float(struct jrt *rt, mlxc_jv v, struct jargs *a)
{
    CHECK(1, "default");
    mlxc_jv dflt = ARG(0, "default", mlxc_jv_float(0.0));
    double d;
    switch (v.t) {
    case JV_UNDEF: mlxc_jinja_undefined_error(rt, v);
    case JV_BOOL: case JV_INT: return mlxc_jv_float((double)v.u.i);
    case JV_FLOAT: return v;
    case JV_STR: return parse_float_str(v.u.s->s, &d) ? dflt : mlxc_jv_float(d);
    default: return dflt;
    }
}

/* ---- table ---- */

struct filter {
    const char *name;
    mlxc_jv (*fn)(struct jrt *rt, mlxc_jv v, struct jargs *a);
};

static const struct filter FILTERS[] = {
    {"abs", f_abs}, {"attr", f_attr}, {"batch", f_batch}, {"capitalize", f_capitalize}, {"center", f_center},
    {"count", f_length}, {"d", f_default}, {"default", f_default}, {"dictsort", f_dictsort}, {"e", f_escape},
    {"escape", f_escape}, {"first", f_first}, {"float", f_float}, {"forceescape", f_forceescape},
    {"format", f_format}, {"groupby", f_groupby}, {"indent", f_indent}, {"int", f_int}, {"items", f_items},
    {"join", f_join}, {"last", f_last}, {"length", f_length}, {"list", f_list}, {"lower", f_lower},
    {"map", f_map}, {"max", f_max}, {"min", f_min}, {"reject", f_reject}, {"rejectattr", f_rejectattr},
    {"replace", f_replace}, {"reverse", f_reverse}, {"round", f_round}, {"safe", f_safe}, {"select", f_select},
    {"selectattr", f_selectattr}, {"slice", f_slice}, {"sort", f_sort}, {"string", f_string}, {"sum", f_sum},
    {"title", f_title}, {"tojson", f_tojson}, {"trim", f_trim}, {"truncate", f_truncate}, {"unique", f_unique},
    {"upper", f_upper}, {"wordcount", f_wordcount},
    /* jinja2 filters this engine does not implement: they compile, and fail when used */
    {"filesizeformat", NULL}, {"pprint", NULL}, {"striptags", NULL}, {"urlencode", NULL}, {"urlize", NULL},
    {"wordwrap", NULL}, {"xmlattr", NULL},
    {NULL, NULL}};

int mlxc_jinja_has_filter(const char *name)
{
    for (const struct filter *f = FILTERS; f->name; f++)
        if (!strcmp(f->name, name))
            return 1;
    return 0;
}

mlxc_jv mlxc_jinja_filter(struct jrt *rt, const char *name, mlxc_jv v, struct jargs *a)
{
    for (const struct filter *f = FILTERS; f->name; f++)
        if (!strcmp(f->name, name)) {
            if (!f->fn)
                mlxc_jinja_fail(rt, MLXC_EUNSUP, "filter '%s' is not supported", name);
            return f->fn(rt, v, a);
        }
    mlxc_jinja_fail(rt, MLXC_EINVAL, "No filter named '%s'.", name);
}

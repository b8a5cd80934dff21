/* Values of the Jinja engine: arena, containers, and Python's truthiness, equality, ordering, str()
 * and repr(). */
#include "tokenizer/jinja_value.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "core/utf8.h"

/* ---- arena: every block is its own malloc, linked so the whole arena frees at once ---- */

struct blk {
    struct blk *prev, *next;
    size_t size;
    max_align_t data[];
};

void mlxc_jv_arena_init(struct mlxc_jv_arena *a, size_t limit)
{
    a->head = NULL;
    a->used = 0;
    a->limit = limit;
}

void mlxc_jv_arena_free(struct mlxc_jv_arena *a)
{
    struct blk *b = a->head;
    while (b) {
        struct blk *n = b->next;
        free(b);
        b = n;
    }
    a->head = NULL;
    a->used = 0;
}

void *mlxc_jv_alloc(struct mlxc_jv_arena *a, size_t n)
{
    if (n > ((size_t)1 << 40) || (a->limit && a->used + n > a->limit))
        return NULL;
    struct blk *b = malloc(sizeof *b + (n ? n : 1));
    if (!b)
        return NULL;
    b->prev = NULL;
    b->next = a->head;
    b->size = n;
    if (a->head)
        ((struct blk *)a->head)->prev = b;
    a->head = b;
    a->used += n;
    return b->data;
}

void *mlxc_jv_realloc(struct mlxc_jv_arena *a, void *p, size_t n)
{
    if (!p)
        return mlxc_jv_alloc(a, n);
    struct blk *b = (struct blk *)((char *)p - offsetof(struct blk, data));
    if (n > ((size_t)1 << 40) || (a->limit && n > b->size && a->used + (n - b->size) > a->limit))
        return NULL;
    size_t old = b->size;
    struct blk *nb = realloc(b, sizeof *nb + (n ? n : 1));
    if (!nb)
        return NULL;
    if (nb->prev)
        nb->prev->next = nb;
    else
        a->head = nb;
    if (nb->next)
        nb->next->prev = nb;
    nb->size = n;
    a->used = a->used - old + n;
    return nb->data;
}

/* ---- containers ---- */

struct mlxc_jv_str *mlxc_jv_str_new(struct mlxc_jv_arena *a, const char *s, size_t n)
{
    struct mlxc_jv_str *r = mlxc_jv_alloc(a, sizeof *r + n + 1);
    if (!r)
        return NULL;
    r->len = n;
    r->markup = 0;
    if (n && s)
        memcpy(r->s, s, n);
    r->s[n] = 0;
    return r;
}

struct mlxc_jv_list *mlxc_jv_list_new(struct mlxc_jv_arena *a, size_t cap)
{
    struct mlxc_jv_list *l = mlxc_jv_alloc(a, sizeof *l);
    if (!l)
        return NULL;
    l->n = 0;
    l->cap = cap;
    l->kind = JV_LIST_PLAIN;
    l->v = NULL;
    if (cap && !(l->v = mlxc_jv_alloc(a, cap * sizeof *l->v)))
        return NULL;
    return l;
}

int mlxc_jv_list_push(struct mlxc_jv_arena *a, struct mlxc_jv_list *l, mlxc_jv v)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 4;
        mlxc_jv *nv = mlxc_jv_realloc(a, l->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = v;
    return 0;
}

struct mlxc_jv_dict *mlxc_jv_dict_new(struct mlxc_jv_arena *a, size_t cap)
{
    struct mlxc_jv_dict *d = mlxc_jv_alloc(a, sizeof *d);
    if (!d)
        return NULL;
    d->n = 0;
    d->cap = 0;
    d->k = d->v = NULL;
    (void)cap;
    return d;
}

long mlxc_jv_dict_find(const struct mlxc_jv_dict *d, mlxc_jv k)
{
    for (size_t i = 0; i < d->n; i++)
        if (mlxc_jv_eq(d->k[i], k))
            return (long)i;
    return -1;
}

long mlxc_jv_dict_find_str(const struct mlxc_jv_dict *d, const char *k, size_t n)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->k[i].t == JV_STR && d->k[i].u.s->len == n && !memcmp(d->k[i].u.s->s, k, n))
            return (long)i;
    return -1;
}

int mlxc_jv_dict_set(struct mlxc_jv_arena *a, struct mlxc_jv_dict *d, mlxc_jv k, mlxc_jv v)
{
    long i = mlxc_jv_dict_find(d, k);
    if (i >= 0) {
        d->v[i] = v;
        return 0;
    }
    if (d->n == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 4;
        mlxc_jv *nk = mlxc_jv_realloc(a, d->k, nc * sizeof *nk);
        if (!nk)
            return -1;
        d->k = nk;
        mlxc_jv *nv = mlxc_jv_realloc(a, d->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        d->v = nv;
        d->cap = nc;
    }
    d->k[d->n] = k;
    d->v[d->n] = v;
    d->n++;
    return 0;
}

/* ---- Python semantics ---- */

int mlxc_jv_is_number(mlxc_jv v)
{
    return v.t == JV_BOOL || v.t == JV_INT || v.t == JV_FLOAT;
}

int mlxc_jv_truthy(mlxc_jv v)
{
    switch (v.t) {
    case JV_UNDEF: case JV_NONE: return 0;
    case JV_BOOL: case JV_INT: return v.u.i != 0;
    case JV_FLOAT: return v.u.f != 0.0;
    case JV_STR: return v.u.s->len != 0;
    case JV_LIST: return v.u.l->n != 0;
    case JV_DICT: return v.u.d->n != 0;
    default: return 1;
    }
}

static double num_f(mlxc_jv v) { return v.t == JV_FLOAT ? v.u.f : (double)v.u.i; }

int mlxc_jv_eq(mlxc_jv a, mlxc_jv b)
{
    if (mlxc_jv_is_number(a) && mlxc_jv_is_number(b)) {
        if (a.t != JV_FLOAT && b.t != JV_FLOAT)
            return a.u.i == b.u.i;
        return num_f(a) == num_f(b);
    }
    if (a.t != b.t)
        return 0;
    switch (a.t) {
    case JV_UNDEF: case JV_NONE: return 1;
    case JV_STR: return a.u.s->len == b.u.s->len && !memcmp(a.u.s->s, b.u.s->s, a.u.s->len);
    case JV_LIST: {
        int ta = a.u.l->kind == JV_LIST_TUPLE, tb = b.u.l->kind == JV_LIST_TUPLE;
        if (ta != tb || a.u.l->n != b.u.l->n)
            return 0;
        for (size_t i = 0; i < a.u.l->n; i++)
            if (!mlxc_jv_eq(a.u.l->v[i], b.u.l->v[i]))
                return 0;
        return 1;
    }
    case JV_DICT: {
        if (a.u.d->n != b.u.d->n)
            return 0;
        for (size_t i = 0; i < a.u.d->n; i++) {
            long j = mlxc_jv_dict_find(b.u.d, a.u.d->k[i]);
            if (j < 0 || !mlxc_jv_eq(a.u.d->v[i], b.u.d->v[j]))
                return 0;
        }
        return 1;
    }
    default: return a.u.p == b.u.p;
    }
}

int mlxc_jv_hashable(mlxc_jv v)
{
    if (v.t == JV_LIST && v.u.l->kind == JV_LIST_TUPLE) {
        for (size_t i = 0; i < v.u.l->n; i++)
            if (!mlxc_jv_hashable(v.u.l->v[i]))
                return 0;
        return 1;
    }
    return v.t != JV_LIST && v.t != JV_DICT && v.t != JV_NS && v.t != JV_UNDEF;
}

int mlxc_jv_cmp(mlxc_jv a, mlxc_jv b, int *out)
{
    if (mlxc_jv_is_number(a) && mlxc_jv_is_number(b)) {
        if (a.t != JV_FLOAT && b.t != JV_FLOAT)
            *out = (a.u.i > b.u.i) - (a.u.i < b.u.i);
        else {
            double x = num_f(a), y = num_f(b);
            *out = (x > y) - (x < y);
        }
        return 0;
    }
    if (a.t == JV_STR && b.t == JV_STR) {
        /* UTF-8 byte order is code point order */
        size_t n = a.u.s->len < b.u.s->len ? a.u.s->len : b.u.s->len;
        int c = memcmp(a.u.s->s, b.u.s->s, n);
        *out = c ? (c > 0 ? 1 : -1) : (a.u.s->len > b.u.s->len) - (a.u.s->len < b.u.s->len);
        return 0;
    }
    if (a.t == JV_LIST && b.t == JV_LIST && (a.u.l->kind == JV_LIST_TUPLE) == (b.u.l->kind == JV_LIST_TUPLE)) {
        size_t n = a.u.l->n < b.u.l->n ? a.u.l->n : b.u.l->n;
        for (size_t i = 0; i < n; i++) {
            if (mlxc_jv_eq(a.u.l->v[i], b.u.l->v[i]))
                continue;
            return mlxc_jv_cmp(a.u.l->v[i], b.u.l->v[i], out);
        }
        *out = (a.u.l->n > b.u.l->n) - (a.u.l->n < b.u.l->n);
        return 0;
    }
    return -1;
}

const char *mlxc_jv_type_name(mlxc_jv v)
{
    switch (v.t) {
    case JV_UNDEF: return "Undefined";
    case JV_NONE: return "NoneType";
    case JV_BOOL: return "bool";
    case JV_INT: return "int";
    case JV_FLOAT: return "float";
    case JV_STR: return v.u.s->markup ? "Markup" : "str";
    case JV_LIST:
        switch (v.u.l->kind) {
        case JV_LIST_TUPLE: return "tuple";
        case JV_LIST_ITEMS: return "dict_items";
        case JV_LIST_KEYS: return "dict_keys";
        case JV_LIST_VALUES: return "dict_values";
        default: return "list";
        }
    case JV_DICT: return "dict";
    case JV_FUNC: return "function";
    case JV_NS: return "Namespace";
    case JV_LOOP: return "LoopContext";
    case JV_CYCLER: return "Cycler";
    default: return "Joiner";
    }
}

const char *mlxc_jv_object_repr(mlxc_jv v)
{
    switch (v.t) {
    case JV_NONE: return "None";
    case JV_BOOL: return "bool object";
    case JV_INT: return "int object";
    case JV_FLOAT: return "float object";
    case JV_STR: return v.u.s->markup ? "jinja2.utils.Markup object" : "str object";
    case JV_LIST:
        switch (v.u.l->kind) {
        case JV_LIST_TUPLE: return "tuple object";
        case JV_LIST_ITEMS: return "dict_items object";
        case JV_LIST_KEYS: return "dict_keys object";
        case JV_LIST_VALUES: return "dict_values object";
        default: return "list object";
        }
    case JV_DICT: return "dict object";
    case JV_FUNC: return "builtin_function_or_method object";
    case JV_NS: return "jinja2.utils.Namespace object";
    case JV_LOOP: return "jinja2.runtime.LoopContext object";
    case JV_CYCLER: return "jinja2.utils.Cycler object";
    case JV_JOINER: return "jinja2.utils.Joiner object";
    default: return "jinja2.runtime.Undefined object";
    }
}

/* ---- str() and repr() ---- */

void mlxc_jv_float_repr(double f, char *out)
{
    if (isnan(f)) { strcpy(out, "nan"); return; }
    if (isinf(f)) { strcpy(out, f < 0 ? "-inf" : "inf"); return; }
    if (f == 0) { strcpy(out, signbit(f) ? "-0.0" : "0.0"); return; }
    /* shortest %.Ne that reads back exactly, as Python's repr does */
    char tmp[40];
    for (int p = 0; p < 17; p++) {
        snprintf(tmp, sizeof tmp, "%.*e", p, f);
        if (strtod(tmp, NULL) == f)
            break;
    }
    char digits[24];
    size_t nd = 0;
    const char *q = tmp;
    int neg = 0;
    if (*q == '-') { neg = 1; q++; }
    for (; *q && *q != 'e'; q++)
        if (*q >= '0' && *q <= '9')
            digits[nd++] = *q;
    int exp = atoi(q + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    char *o = out;
    if (neg) *o++ = '-';
    if (exp >= -5 + 1 && exp < 16) {
        /* fixed notation */
        if (exp >= 0) {
            for (int i = 0; i <= exp; i++)
                *o++ = (size_t)i < nd ? digits[i] : '0';
            *o++ = '.';
            if ((size_t)exp + 1 < nd)
                for (size_t i = exp + 1; i < nd; i++) *o++ = digits[i];
            else
                *o++ = '0';
        } else {
            *o++ = '0';
            *o++ = '.';
            for (int i = 0; i < -exp - 1; i++) *o++ = '0';
            for (size_t i = 0; i < nd; i++) *o++ = digits[i];
        }
        *o = 0;
    } else {
        *o++ = digits[0];
        if (nd > 1) {
            *o++ = '.';
            for (size_t i = 1; i < nd; i++) *o++ = digits[i];
        }
        sprintf(o, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    }
}

int mlxc_jv_isspace(uint32_t c)
{
    return (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
           c == 0x3000;
}

size_t mlxc_jv_cplen(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xc0) != 0x80;
    return c;
}

static int printable(uint32_t cp)
{
    if (cp == ' ')
        return 1;
    switch (utf8proc_category((utf8proc_int32_t)cp)) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO: case UTF8PROC_CATEGORY_CN: case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP: case UTF8PROC_CATEGORY_ZS:
        return 0;
    default:
        return 1;
    }
}

static void repr_str(struct mlxc_buf *b, const char *s, size_t n)
{
    char q = (memchr(s, '\'', n) && !memchr(s, '"', n)) ? '"' : '\'';
    mlxc_buf_putc(b, q);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int k = mlxc_utf8_decode(s + i, n - i, &cp);
        if (k <= 0) { cp = (unsigned char)s[i]; k = 1; }
        if (cp == (uint32_t)q || cp == '\\') {
            mlxc_buf_putc(b, '\\');
            mlxc_buf_putc(b, (char)cp);
        } else if (cp == '\n') mlxc_buf_puts(b, "\\n");
        else if (cp == '\r') mlxc_buf_puts(b, "\\r");
        else if (cp == '\t') mlxc_buf_puts(b, "\\t");
        else if (!printable(cp)) {
            if (cp < 0x100) mlxc_buf_printf(b, "\\x%02x", cp);
            else if (cp < 0x10000) mlxc_buf_printf(b, "\\u%04x", cp);
            else mlxc_buf_printf(b, "\\U%08x", cp);
        } else
            mlxc_buf_append(b, s + i, k);
        i += k;
    }
    mlxc_buf_putc(b, q);
}

static void repr_items(struct mlxc_buf *b, const struct mlxc_jv_list *l, const char *open, const char *close)
{
    mlxc_buf_puts(b, open);
    for (size_t i = 0; i < l->n; i++) {
        if (i) mlxc_buf_puts(b, ", ");
        mlxc_jv_repr(b, l->v[i]);
    }
    mlxc_buf_puts(b, close);
}

static void repr_dict(struct mlxc_buf *b, const struct mlxc_jv_dict *d)
{
    mlxc_buf_putc(b, '{');
    for (size_t i = 0; i < d->n; i++) {
        if (i) mlxc_buf_puts(b, ", ");
        mlxc_jv_repr(b, d->k[i]);
        mlxc_buf_puts(b, ": ");
        mlxc_jv_repr(b, d->v[i]);
    }
    mlxc_buf_putc(b, '}');
}

void mlxc_jv_repr(struct mlxc_buf *b, mlxc_jv v)
{
    char tmp[40];
    switch (v.t) {
    case JV_UNDEF: mlxc_buf_puts(b, "Undefined"); return;
    case JV_STR:
        if (v.u.s->markup) mlxc_buf_puts(b, "Markup(");
        repr_str(b, v.u.s->s, v.u.s->len);
        if (v.u.s->markup) mlxc_buf_putc(b, ')');
        return;
    case JV_LIST:
        switch (v.u.l->kind) {
        case JV_LIST_TUPLE:
            repr_items(b, v.u.l, "(", v.u.l->n == 1 ? ",)" : ")");
            return;
        case JV_LIST_ITEMS: repr_items(b, v.u.l, "dict_items([", "])"); return;
        case JV_LIST_KEYS: repr_items(b, v.u.l, "dict_keys([", "])"); return;
        case JV_LIST_VALUES: repr_items(b, v.u.l, "dict_values([", "])"); return;
        default: repr_items(b, v.u.l, "[", "]"); return;
        }
    case JV_DICT: repr_dict(b, v.u.d); return;
    case JV_NS:
        mlxc_buf_puts(b, "<Namespace ");
        repr_dict(b, v.u.d);
        mlxc_buf_putc(b, '>');
        return;
    case JV_FLOAT:
        mlxc_jv_float_repr(v.u.f, tmp);
        mlxc_buf_puts(b, tmp);
        return;
    default:
        mlxc_jv_to_str(b, v);
    }
}

void mlxc_jv_to_str(struct mlxc_buf *b, mlxc_jv v)
{
    switch (v.t) {
    case JV_UNDEF: return;
    case JV_NONE: mlxc_buf_puts(b, "None"); return;
    case JV_BOOL: mlxc_buf_puts(b, v.u.i ? "True" : "False"); return;
    case JV_INT: mlxc_buf_printf(b, "%lld", (long long)v.u.i); return;
    case JV_STR: mlxc_buf_append(b, v.u.s->s, v.u.s->len); return;
    case JV_FUNC: mlxc_buf_puts(b, "<function>"); return;
    case JV_LOOP: mlxc_buf_puts(b, "<LoopContext>"); return;
    case JV_CYCLER: mlxc_buf_puts(b, "<Cycler>"); return;
    case JV_JOINER: mlxc_buf_puts(b, "<Joiner>"); return;
    default: mlxc_jv_repr(b, v);
    }
}

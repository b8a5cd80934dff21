/* Methods of str, dict and list values (what `s.strip()`, `d.items()` and `l.index(x)` call), with
 * Python's semantics, and the sandbox's refusal of methods that mutate (append, pop, update...). */
#include "tokenizer/jinja_eval.h"

#include <string.h>

#include <utf8proc.h>

#include "core/utf8.h"

/* ---- shared str helpers ---- */

static int is_space_cp(uint32_t c) { return mlxc_jv_isspace(c); }

static int memchr_u32(const uint32_t *v, size_t n, uint32_t c)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == c)
            return 1;
    return 0;
}

mlxc_jv mlxc_jinja_strip(struct jrt *rt, mlxc_jv s, mlxc_jv chars, int mode)
{
    size_t n, nc = 0;
    uint32_t *cp = mlxc_jinja_codepoints(rt, s, &n), *cc = NULL;
    if (chars.t == JV_STR)
        cc = mlxc_jinja_codepoints(rt, chars, &nc);
    else if (chars.t != JV_NONE && chars.t != JV_UNDEF)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "strip arg must be None or str");
    size_t b = 0, e = n;
#define STRIPPABLE(c) (cc ? memchr_u32(cc, nc, (c)) : is_space_cp(c))
    if (mode != JSTRIP_RIGHT)
        while (b < e && STRIPPABLE(cp[b]))
            b++;
    if (mode != JSTRIP_LEFT)
        while (e > b && STRIPPABLE(cp[e - 1]))
            e--;
#undef STRIPPABLE
    return mlxc_jinja_from_codepoints(rt, cp + b, e - b);
}

int mlxc_jinja_is_cased(uint32_t cp, int *upper, int *lower)
{
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    *upper = c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LT;
    *lower = c == UTF8PROC_CATEGORY_LL;
    return *upper || *lower;
}

/* Python's full case mappings that are more than one character (SpecialCasing.txt, the common ones):
 * upper and title of the sharp s and the Latin ligatures, lower of the dotted capital I. */
static int special_case(uint32_t c, int to_upper, int title, uint32_t out[3])
{
    static const struct { uint32_t c; const char *up, *ti; } T[] = {
        {0xdf, "SS", "Ss"}, {0xfb00, "FF", "Ff"}, {0xfb01, "FI", "Fi"}, {0xfb02, "FL", "Fl"},
        {0xfb03, "FFI", "Ffi"}, {0xfb04, "FFL", "Ffl"}, {0xfb05, "ST", "St"}, {0xfb06, "ST", "St"}};
    if (!to_upper) {
        if (c != 0x130)
            return 0;
        out[0] = 'i';
        out[1] = 0x307;
        return 2;
    }
    for (size_t k = 0; k < sizeof T / sizeof T[0]; k++)
        if (T[k].c == c) {
            const char *s = title ? T[k].ti : T[k].up;
            int n = 0;
            for (; s[n]; n++)
                out[n] = (uint32_t)s[n];
            return n;
        }
    if (c == 0x149) { /* ŉ */
        out[0] = 0x2bc;
        out[1] = 'N';
        return 2;
    }
    return 0;
}

static int is_letter(uint32_t c)
{
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO;
}

mlxc_jv mlxc_jinja_case(struct jrt *rt, mlxc_jv s, int mode)
{
    size_t n, k = 0;
    uint32_t *cp = mlxc_jinja_codepoints(rt, s, &n);
    uint32_t *o = mlxc_jv_alloc(rt->a, (3 * n + 1) * sizeof *o);
    if (!o)
        mlxc_jinja_oom(rt);
    int prev_cased = 0, up, lo;
    for (size_t i = 0; i < n; i++) {
        utf8proc_int32_t c = (utf8proc_int32_t)cp[i];
        int upper;  /* 1: upper, 2: title, 0: lower */
        switch (mode) {
        case JCASE_UPPER: upper = 1; break;
        case JCASE_LOWER: upper = 0; break;
        case JCASE_CAPITALIZE: upper = i ? 0 : 2; break;
        default: /* str.title: title-case after an uncased character, lower-case after a cased one */
            upper = prev_cased ? 0 : 2;
            prev_cased = mlxc_jinja_is_cased(cp[i], &up, &lo);
        }
        int m = special_case(cp[i], upper != 0, upper == 2, o + k);
        if (m) {
            k += (size_t)m;
            continue;
        }
        if (!upper && c == 0x3a3) {
            /* final sigma: after a letter and not before one */
            o[k++] = (i > 0 && is_letter(cp[i - 1]) && !(i + 1 < n && is_letter(cp[i + 1]))) ? 0x3c2 : 0x3c3;
            continue;
        }
        o[k++] = (uint32_t)(upper == 1 ? utf8proc_toupper(c) : upper == 2 ? utf8proc_totitle(c) : utf8proc_tolower(c));
    }
    return mlxc_jinja_from_codepoints(rt, o, k);
}

mlxc_jv mlxc_jinja_replace(struct jrt *rt, mlxc_jv s, mlxc_jv old, mlxc_jv new_, int64_t count)
{
    struct mlxc_buf *b = mlxc_jinja_tmpbuf(rt);
    const char *p = s.u.s->s;
    size_t n = s.u.s->len, on = old.u.s->len;
    int64_t done = 0;
    if (!on) {
        /* an empty pattern matches before every character and at the end */
        for (size_t i = 0; i <= n;) {
            if (count < 0 || done < count) {
                mlxc_buf_append(b, new_.u.s->s, new_.u.s->len);
                done++;
            }
            if (i == n)
                break;
            size_t k = 1;
            while (i + k < n && ((unsigned char)p[i + k] & 0xc0) == 0x80)
                k++;
            mlxc_buf_append(b, p + i, k);
            i += k;
            if (b->len > rt->max_output)
                mlxc_jinja_fail(rt, MLXC_ENOMEM, "string is over the output limit");
        }
        return mlxc_jinja_tmpbuf_take(rt, b);
    }
    size_t i = 0;
    while (i < n) {
        const char *hit = (count < 0 || done < count) ? memmem(p + i, n - i, old.u.s->s, on) : NULL;
        if (!hit) {
            mlxc_buf_append(b, p + i, n - i);
            break;
        }
        mlxc_buf_append(b, p + i, (size_t)(hit - (p + i)));
        mlxc_buf_append(b, new_.u.s->s, new_.u.s->len);
        i = (size_t)(hit - p) + on;
        done++;
        if (b->len > rt->max_output)
            mlxc_jinja_fail(rt, MLXC_ENOMEM, "string is over the output limit");
    }
    return mlxc_jinja_tmpbuf_take(rt, b);
}

static int line_break(uint32_t c)
{
    return c == '\n' || c == '\r' || c == 0x0b || c == 0x0c || c == 0x1c || c == 0x1d || c == 0x1e ||
           c == 0x85 || c == 0x2028 || c == 0x2029;
}

struct mlxc_jv_list *mlxc_jinja_splitlines(struct jrt *rt, mlxc_jv s, int keepends)
{
    size_t n;
    uint32_t *cp = mlxc_jinja_codepoints(rt, s, &n);
    struct mlxc_jv_list *l = mlxc_jinja_list(rt, 0);
    size_t st = 0;
    for (size_t i = 0; i < n;) {
        if (!line_break(cp[i])) {
            i++;
            continue;
        }
        size_t eol = i + 1;
        if (cp[i] == '\r' && eol < n && cp[eol] == '\n')
            eol++;
        mlxc_jinja_push(rt, l, mlxc_jinja_from_codepoints(rt, cp + st, (keepends ? eol : i) - st));
        st = i = eol;
    }
    if (st < n)
        mlxc_jinja_push(rt, l, mlxc_jinja_from_codepoints(rt, cp + st, n - st));
    return l;
}

/* ---- str methods ---- */

static mlxc_jv str_arg(struct jrt *rt, struct jargs *a, int i, const char *name, mlxc_jv dflt)
{
    mlxc_jv v = mlxc_jinja_arg(rt, a, i, name, dflt);
    if (v.t != JV_STR && !(dflt.t == JV_NONE && v.t == JV_NONE))
        mlxc_jinja_fail(rt, MLXC_EINVAL, "%s must be str, not %s", name, mlxc_jv_type_name(v));
    return v;
}

static int64_t int_arg(struct jrt *rt, struct jargs *a, int i, const char *name, int64_t dflt)
{
    mlxc_jv v = mlxc_jinja_arg(rt, a, i, name, mlxc_jv_int(dflt));
    if (v.t != JV_INT && v.t != JV_BOOL)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "'%s' object cannot be interpreted as an integer", mlxc_jv_type_name(v));
    return v.u.i;
}

static mlxc_jv m_strip(struct jrt *rt, mlxc_jv s, struct jargs *a)
{ mlxc_jinja_check_args(rt, a, 1, NULL, "strip()"); return mlxc_jinja_strip(rt, s, mlxc_jinja_arg(rt, a, 0, "", mlxc_jv_none()), JSTRIP_BOTH); }
static mlxc_jv m_lstrip(struct jrt *rt, mlxc_jv s, struct jargs *a)
{ mlxc_jinja_check_args(rt, a, 1, NULL, "lstrip()"); return mlxc_jinja_strip(rt, s, mlxc_jinja_arg(rt, a, 0, "", mlxc_jv_none()), JSTRIP_LEFT); }
static mlxc_jv m_rstrip(struct jrt *rt, mlxc_jv s, struct jargs *a)
{ mlxc_jinja_check_args(rt, a, 1, NULL, "rstrip()"); return mlxc_jinja_strip(rt, s, mlxc_jinja_arg(rt, a, 0, "", mlxc_jv_none()), JSTRIP_RIGHT); }
static mlxc_jv m_upper(struct jrt *rt, mlxc_jv s, struct jargs *a)
{ mlxc_jinja_check_args(rt, a, 0, NULL, "upper()"); return mlxc_jinja_case(rt, s, JCASE_UPPER); }
static mlxc_jv m_lower(struct jrt *rt, mlxc_jv s, struct jargs *a)
{ mlxc_jinja_check_args(rt, a, 0, NULL, "lower()"); return mlxc_jinja_case(rt, s, JCASE_LOWER); }
static mlxc_jv m_title(struct jrt *rt, mlxc_jv s, struct jargs *a)
{ mlxc_jinja_check_args(rt, a, 0, NULL, "title()"); return mlxc_jinja_case(rt, s, JCASE_TITLE); }
static mlxc_jv m_capitalize(struct jrt *rt, mlxc_jv s, struct jargs *a)
{ mlxc_jinja_check_args(rt, a, 0, NULL, "capitalize()"); return mlxc_jinja_case(rt, s, JCASE_CAPITALIZE); }

static mlxc_jv split_impl(struct jrt *rt, mlxc_jv s, struct jargs *a, int from_right)
{
    static const char *const names[] = {"sep", "maxsplit", NULL};
    mlxc_jinja_check_args(rt, a, 2, names, from_right ? "rsplit()" : "split()");
    mlxc_jv sep = str_arg(rt, a, 0, "sep", mlxc_jv_none());
    int64_t maxsplit = int_arg(rt, a, 1, "maxsplit", -1);
    size_t n;
    uint32_t *cp = mlxc_jinja_codepoints(rt, s, &n);
    struct mlxc_jv_list *l = mlxc_jinja_list(rt, 0);
    if (sep.t == JV_NONE) {
        /* runs of whitespace; no empty strings */
        size_t i = 0, e = n;
        int64_t splits = 0;
        if (!from_right) {
            for (;;) {
                while (i < n && mlxc_jv_isspace(cp[i])) i++;
                if (i >= n) break;
                if (maxsplit >= 0 && splits >= maxsplit) {
                    /* the rest keeps its trailing whitespace, as CPython's split does */
                    mlxc_jinja_push(rt, l, mlxc_jinja_from_codepoints(rt, cp + i, n - i));
                    break;
                }
                size_t st = i;
                while (i < n && !mlxc_jv_isspace(cp[i])) i++;
                mlxc_jinja_push(rt, l, mlxc_jinja_from_codepoints(rt, cp + st, i - st));
                splits++;
            }
            return mlxc_jv_of_list(l);
        }
        struct mlxc_jv_list *r = mlxc_jinja_list(rt, 0);
        for (;;) {
            while (e > 0 && mlxc_jv_isspace(cp[e - 1])) e--;
            if (!e) break;
            if (maxsplit >= 0 && splits >= maxsplit) {
                mlxc_jinja_push(rt, r, mlxc_jinja_from_codepoints(rt, cp, e));
                break;
            }
            size_t end = e;
            while (e > 0 && !mlxc_jv_isspace(cp[e - 1])) e--;
            mlxc_jinja_push(rt, r, mlxc_jinja_from_codepoints(rt, cp + e, end - e));
            splits++;
        }
        for (size_t k = r->n; k-- > 0;)
            mlxc_jinja_push(rt, l, r->v[k]);
        return mlxc_jv_of_list(l);
    }
    size_t sn;
    uint32_t *sp = mlxc_jinja_codepoints(rt, sep, &sn);
    if (!sn)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "empty separator");
    int64_t splits = 0;
    if (!from_right) {
        size_t st = 0;
        for (size_t i = 0; i + sn <= n;) {
            if ((maxsplit < 0 || splits < maxsplit) && !memcmp(cp + i, sp, sn * sizeof *cp)) {
                mlxc_jinja_push(rt, l, mlxc_jinja_from_codepoints(rt, cp + st, i - st));
                i += sn;
                st = i;
                splits++;
            } else
                i++;
        }
        mlxc_jinja_push(rt, l, mlxc_jinja_from_codepoints(rt, cp + st, n - st));
        return mlxc_jv_of_list(l);
    }
    struct mlxc_jv_list *r = mlxc_jinja_list(rt, 0);
    size_t end = n;
    for (size_t i = n; i >= sn;) {
        if ((maxsplit < 0 || splits < maxsplit) && !memcmp(cp + i - sn, sp, sn * sizeof *cp)) {
            mlxc_jinja_push(rt, r, mlxc_jinja_from_codepoints(rt, cp + i, end - i));
            i -= sn;
            end = i;
            splits++;
        } else
            i--;
    }
    mlxc_jinja_push(rt, r, mlxc_jinja_from_codepoints(rt, cp, end));
    for (size_t k = r->n; k-- > 0;)
        mlxc_jinja_push(rt, l, r->v[k]);
    return mlxc_jv_of_list(l);
}

static mlxc_jv m_split(struct jrt *rt, mlxc_jv s, struct jargs *a) { return split_impl(rt, s, a, 0); }
static mlxc_jv m_rsplit(struct jrt *rt, mlxc_jv s, struct jargs *a) { return split_impl(rt, s, a, 1); }

static mlxc_jv m_splitlines(struct jrt *rt, mlxc_jv s, struct jargs *a)
{
    static const char *const names[] = {"keepends", NULL};
    mlxc_jinja_check_args(rt, a, 1, names, "splitlines()");
    return mlxc_jv_of_list(mlxc_jinja_splitlines(rt, s, mlxc_jv_truthy(mlxc_jinja_arg(rt, a, 0, "keepends", mlxc_jv_bool(0)))));
}

static int starts_or_ends(mlxc_jv s, mlxc_jv x, int ends)
{
    if (x.u.s->len > s.u.s->len)
        return 0;
    const char *p = ends ? s.u.s->s + s.u.s->len - x.u.s->len : s.u.s->s;
    return !memcmp(p, x.u.s->s, x.u.s->len);
}

static mlxc_jv affix(struct jrt *rt, mlxc_jv s, struct jargs *a, int ends)
{
    mlxc_jinja_check_args(rt, a, 1, NULL, ends ? "endswith()" : "startswith()");
    mlxc_jv x = mlxc_jinja_arg(rt, a, 0, "prefix", MLXC_JINJA_REQUIRED);
    if (x.t == JV_LIST && x.u.l->kind == JV_LIST_TUPLE) {
        for (size_t i = 0; i < x.u.l->n; i++) {
            if (x.u.l->v[i].t != JV_STR)
                mlxc_jinja_fail(rt, MLXC_EINVAL, "tuple for %s must only contain str, not %s",
                                ends ? "endswith" : "startswith", mlxc_jv_type_name(x.u.l->v[i]));
            if (starts_or_ends(s, x.u.l->v[i], ends))
                return mlxc_jv_bool(1);
        }
        return mlxc_jv_bool(0);
    }
    if (x.t != JV_STR)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "%s first arg must be str or a tuple of str, not %s",
                        ends ? "endswith" : "startswith", mlxc_jv_type_name(x));
    return mlxc_jv_bool(starts_or_ends(s, x, ends));
}
static mlxc_jv m_startswith(struct jrt *rt, mlxc_jv s, struct jargs *a) { return affix(rt, s, a, 0); }
static mlxc_jv m_endswith(struct jrt *rt, mlxc_jv s, struct jargs *a) { return affix(rt, s, a, 1); }

static mlxc_jv m_replace(struct jrt *rt, mlxc_jv s, struct jargs *a)
{
    static const char *const names[] = {"old", "new", "count", NULL};
    mlxc_jinja_check_args(rt, a, 3, names, "replace()");
    mlxc_jv o = str_arg(rt, a, 0, "old", MLXC_JINJA_REQUIRED), nw = str_arg(rt, a, 1, "new", MLXC_JINJA_REQUIRED);
    return mlxc_jinja_replace(rt, s, o, nw, int_arg(rt, a, 2, "count", -1));
}

/* Code point index of the first (or last) occurrence of sub, or -1. */
static int64_t find_impl(struct jrt *rt, mlxc_jv s, mlxc_jv sub, int last)
{
    size_t n, sn;
    uint32_t *cp = mlxc_jinja_codepoints(rt, s, &n), *sp = mlxc_jinja_codepoints(rt, sub, &sn);
    if (sn > n)
        return -1;
    if (!last) {
        for (size_t i = 0; i + sn <= n; i++)
            if (!memcmp(cp + i, sp, sn * sizeof *cp))
                return (int64_t)i;
    } else
        for (size_t i = n - sn + 1; i-- > 0;)
            if (!memcmp(cp + i, sp, sn * sizeof *cp))
                return (int64_t)i;
    return -1;
}

static mlxc_jv m_find(struct jrt *rt, mlxc_jv s, struct jargs *a)
{ mlxc_jinja_check_args(rt, a, 1, NULL, "find()"); return mlxc_jv_int(find_impl(rt, s, str_arg(rt, a, 0, "sub", MLXC_JINJA_REQUIRED), 0)); }
static mlxc_jv m_rfind(struct jrt *rt, mlxc_jv s, struct jargs *a)
{ mlxc_jinja_check_args(rt, a, 1, NULL, "rfind()"); return mlxc_jv_int(find_impl(rt, s, str_arg(rt, a, 0, "sub", MLXC_JINJA_REQUIRED), 1)); }
static mlxc_jv m_index(struct jrt *rt, mlxc_jv s, struct jargs *a)
{
    mlxc_jinja_check_args(rt, a, 1, NULL, "index()");
    int64_t i = find_impl(rt, s, str_arg(rt, a, 0, "sub", MLXC_JINJA_REQUIRED), 0);
    if (i < 0)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "substring not found");
    return mlxc_jv_int(i);
}
static mlxc_jv m_rindex(struct jrt *rt, mlxc_jv s, struct jargs *a)
{
    mlxc_jinja_check_args(rt, a, 1, NULL, "rindex()");
    int64_t i = find_impl(rt, s, str_arg(rt, a, 0, "sub", MLXC_JINJA_REQUIRED), 1);
    if (i < 0)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "substring not found");
    return mlxc_jv_int(i);
}

static mlxc_jv m_count(struct jrt *rt, mlxc_jv s, struct jargs *a)
{
    mlxc_jinja_check_args(rt, a, 1, NULL, "count()");
    mlxc_jv sub = str_arg(rt, a, 0, "sub", MLXC_JINJA_REQUIRED);
    if (!sub.u.s->len)
        return mlxc_jv_int((int64_t)mlxc_jv_cplen(s.u.s->s, s.u.s->len) + 1);
    int64_t c = 0;
    const char *p = s.u.s->s, *end = p + s.u.s->len, *h;
    while ((h = memmem(p, (size_t)(end - p), sub.u.s->s, sub.u.s->len))) {
        c++;
        p = h + sub.u.s->len;
    }
    return mlxc_jv_int(c);
}

static mlxc_jv m_join(struct jrt *rt, mlxc_jv s, struct jargs *a)
{
    mlxc_jinja_check_args(rt, a, 1, NULL, "join()");
    struct mlxc_jv_list *items = mlxc_jinja_iter(rt, mlxc_jinja_arg(rt, a, 0, "iterable", MLXC_JINJA_REQUIRED));
    struct mlxc_buf *b = mlxc_jinja_tmpbuf(rt);
    for (size_t i = 0; i < items->n; i++) {
        if (items->v[i].t != JV_STR)
            mlxc_jinja_fail(rt, MLXC_EINVAL, "sequence item %zu: expected str instance, %s found", i,
                            mlxc_jv_type_name(items->v[i]));
        if (i)
            mlxc_buf_append(b, s.u.s->s, s.u.s->len);
        mlxc_buf_append(b, items->v[i].u.s->s, items->v[i].u.s->len);
        if (b->len > rt->max_output)
            mlxc_jinja_fail(rt, MLXC_ENOMEM, "string is over the output limit");
    }
    return mlxc_jinja_tmpbuf_take(rt, b);
}

/* str.isdigit() and friends: non-empty and every character in the class */
static int cp_class(uint32_t cp, int what)
{
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    int alpha = c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO;
    int decimal = c == UTF8PROC_CATEGORY_ND;
    int numeric = decimal || c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_NO;
    switch (what) {
    case 0: return decimal || c == UTF8PROC_CATEGORY_NO; /* isdigit (approximation: digits and No) */
    case 1: return alpha;
    case 2: return alpha || numeric;
    case 3: return mlxc_jv_isspace(cp);
    case 4: return decimal;
    default: return numeric;
    }
}

static mlxc_jv is_class(struct jrt *rt, mlxc_jv s, int what)
{
    size_t n;
    uint32_t *cp = mlxc_jinja_codepoints(rt, s, &n);
    if (!n)
        return mlxc_jv_bool(0);
    for (size_t i = 0; i < n; i++)
        if (!cp_class(cp[i], what))
            return mlxc_jv_bool(0);
    return mlxc_jv_bool(1);
}
static mlxc_jv m_isdigit(struct jrt *rt, mlxc_jv s, struct jargs *a) { (void)a; return is_class(rt, s, 0); }
static mlxc_jv m_isalpha(struct jrt *rt, mlxc_jv s, struct jargs *a) { (void)a; return is_class(rt, s, 1); }
static mlxc_jv m_isalnum(struct jrt *rt, mlxc_jv s, struct jargs *a) { (void)a; return is_class(rt, s, 2); }
static mlxc_jv m_isspace(struct jrt *rt, mlxc_jv s, struct jargs *a) { (void)a; return is_class(rt, s, 3); }
static mlxc_jv m_isdecimal(struct jrt *rt, mlxc_jv s, struct jargs *a) { (void)a; return is_class(rt, s, 4); }
static mlxc_jv m_isnumeric(struct jrt *rt, mlxc_jv s, struct jargs *a) { (void)a; return is_class(rt, s, 5); }

/* islower/isupper: at least one cased character and none of the other case */
static mlxc_jv case_test(struct jrt *rt, mlxc_jv s, int want_upper)
{
    size_t n;
    uint32_t *cp = mlxc_jinja_codepoints(rt, s, &n);
    int any = 0, up, lo;
    for (size_t i = 0; i < n; i++) {
        if (!mlxc_jinja_is_cased(cp[i], &up, &lo))
            continue;
        if (want_upper ? lo : up)
            return mlxc_jv_bool(0);
        any = 1;
    }
    return mlxc_jv_bool(any);
}
static mlxc_jv m_islower(struct jrt *rt, mlxc_jv s, struct jargs *a) { (void)a; return case_test(rt, s, 0); }
static mlxc_jv m_isupper(struct jrt *rt, mlxc_jv s, struct jargs *a) { (void)a; return case_test(rt, s, 1); }

static mlxc_jv m_format(struct jrt *rt, mlxc_jv s, struct jargs *a) { return mlxc_jinja_str_format(rt, s, a); }

static mlxc_jv pad_impl(struct jrt *rt, mlxc_jv s, struct jargs *a, int how)
{
    static const char *const names[] = {"width", "fillchar", NULL};
    mlxc_jinja_check_args(rt, a, 2, names, "pad()");
    int64_t width = int_arg(rt, a, 0, "width", 0);
    mlxc_jv fill = str_arg(rt, a, 1, "fillchar", mlxc_jinja_cstr(rt, " "));
    if (mlxc_jv_cplen(fill.u.s->s, fill.u.s->len) != 1)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "The fill character must be exactly one character long");
    int64_t len = (int64_t)mlxc_jv_cplen(s.u.s->s, s.u.s->len);
    if (width <= len)
        return s;
    if ((uint64_t)width > rt->max_output)
        mlxc_jinja_fail(rt, MLXC_ENOMEM, "padded string is over the output limit");
    int64_t marg = width - len, left;
    if (how == 0) left = marg / 2 + (marg & width & 1); /* CPython's center() */
    else if (how == 1) left = 0;                        /* ljust */
    else left = marg;                                   /* rjust */
    struct mlxc_buf *b = mlxc_jinja_tmpbuf(rt);
    for (int64_t i = 0; i < left; i++)
        mlxc_buf_append(b, fill.u.s->s, fill.u.s->len);
    mlxc_buf_append(b, s.u.s->s, s.u.s->len);
    for (int64_t i = 0; i < marg - left; i++)
        mlxc_buf_append(b, fill.u.s->s, fill.u.s->len);
    return mlxc_jinja_tmpbuf_take(rt, b);
}
static mlxc_jv m_center(struct jrt *rt, mlxc_jv s, struct jargs *a) { return pad_impl(rt, s, a, 0); }
static mlxc_jv m_ljust(struct jrt *rt, mlxc_jv s, struct jargs *a) { return pad_impl(rt, s, a, 1); }
static mlxc_jv m_rjust(struct jrt *rt, mlxc_jv s, struct jargs *a) { return pad_impl(rt, s, a, 2); }

static mlxc_jv m_removeprefix(struct jrt *rt, mlxc_jv s, struct jargs *a)
{
    mlxc_jv p = str_arg(rt, a, 0, "prefix", MLXC_JINJA_REQUIRED);
    return starts_or_ends(s, p, 0) ? mlxc_jinja_str(rt, s.u.s->s + p.u.s->len, s.u.s->len - p.u.s->len) : s;
}
static mlxc_jv m_removesuffix(struct jrt *rt, mlxc_jv s, struct jargs *a)
{
    mlxc_jv p = str_arg(rt, a, 0, "suffix", MLXC_JINJA_REQUIRED);
    return starts_or_ends(s, p, 1) && p.u.s->len ? mlxc_jinja_str(rt, s.u.s->s, s.u.s->len - p.u.s->len) : s;
}

static mlxc_jv partition_impl(struct jrt *rt, mlxc_jv s, struct jargs *a, int last)
{
    mlxc_jv sep = str_arg(rt, a, 0, "sep", MLXC_JINJA_REQUIRED);
    if (!sep.u.s->len)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "empty separator");
    struct mlxc_jv_list *l = mlxc_jinja_list(rt, 3);
    l->kind = JV_LIST_TUPLE;
    const char *p = s.u.s->s, *h = NULL;
    size_t n = s.u.s->len;
    if (!last)
        h = memmem(p, n, sep.u.s->s, sep.u.s->len);
    else
        for (size_t i = n >= sep.u.s->len ? n - sep.u.s->len + 1 : 0; i-- > 0;)
            if (!memcmp(p + i, sep.u.s->s, sep.u.s->len)) { h = p + i; break; }
    mlxc_jv empty = mlxc_jinja_cstr(rt, "");
    if (!h) {
        l->v[0] = last ? empty : s;
        l->v[1] = empty;
        l->v[2] = last ? s : empty;
    } else {
        l->v[0] = mlxc_jinja_str(rt, p, (size_t)(h - p));
        l->v[1] = sep;
        l->v[2] = mlxc_jinja_str(rt, h + sep.u.s->len, n - (size_t)(h - p) - sep.u.s->len);
    }
    l->n = 3;
    return mlxc_jv_of_list(l);
}
static mlxc_jv m_partition(struct jrt *rt, mlxc_jv s, struct jargs *a) { return partition_impl(rt, s, a, 0); }
static mlxc_jv m_rpartition(struct jrt *rt, mlxc_jv s, struct jargs *a) { return partition_impl(rt, s, a, 1); }

static mlxc_jv m_zfill(struct jrt *rt, mlxc_jv s, struct jargs *a)
{
    int64_t width = int_arg(rt, a, 0, "width", 0), len = (int64_t)mlxc_jv_cplen(s.u.s->s, s.u.s->len);
    if (width <= len)
        return s;
    if ((uint64_t)width > rt->max_output)
        mlxc_jinja_fail(rt, MLXC_ENOMEM, "padded string is over the output limit");
    struct mlxc_buf *b = mlxc_jinja_tmpbuf(rt);
    size_t off = 0;
    if (s.u.s->len && (s.u.s->s[0] == '-' || s.u.s->s[0] == '+')) {
        mlxc_buf_putc(b, s.u.s->s[0]);
        off = 1;
    }
    for (int64_t i = 0; i < width - len; i++)
        mlxc_buf_putc(b, '0');
    mlxc_buf_append(b, s.u.s->s + off, s.u.s->len - off);
    return mlxc_jinja_tmpbuf_take(rt, b);
}

/* ---- dict and list methods ---- */

static mlxc_jv d_get(struct jrt *rt, mlxc_jv d, struct jargs *a)
{
    mlxc_jinja_check_args(rt, a, 2, NULL, "get()");
    mlxc_jv k = mlxc_jinja_arg(rt, a, 0, "key", MLXC_JINJA_REQUIRED);
    if (!mlxc_jv_hashable(k))
        mlxc_jinja_fail(rt, MLXC_EINVAL, "unhashable type: '%s'", mlxc_jv_type_name(k));
    long i = mlxc_jv_dict_find(d.u.d, k);
    return i >= 0 ? d.u.d->v[i] : mlxc_jinja_arg(rt, a, 1, "default", mlxc_jv_none());
}

static mlxc_jv dict_view(struct jrt *rt, mlxc_jv d, int kind)
{
    struct mlxc_jv_list *l = mlxc_jinja_list(rt, d.u.d->n);
    l->kind = kind;
    for (size_t i = 0; i < d.u.d->n; i++) {
        if (kind == JV_LIST_KEYS) l->v[i] = d.u.d->k[i];
        else if (kind == JV_LIST_VALUES) l->v[i] = d.u.d->v[i];
        else {
            struct mlxc_jv_list *t = mlxc_jinja_list(rt, 2);
            t->kind = JV_LIST_TUPLE;
            t->v[0] = d.u.d->k[i];
            t->v[1] = d.u.d->v[i];
            t->n = 2;
            l->v[i] = mlxc_jv_of_list(t);
        }
    }
    l->n = d.u.d->n;
    return mlxc_jv_of_list(l);
}
static mlxc_jv d_items(struct jrt *rt, mlxc_jv d, struct jargs *a)
{ mlxc_jinja_check_args(rt, a, 0, NULL, "items()"); return dict_view(rt, d, JV_LIST_ITEMS); }
static mlxc_jv d_keys(struct jrt *rt, mlxc_jv d, struct jargs *a)
{ mlxc_jinja_check_args(rt, a, 0, NULL, "keys()"); return dict_view(rt, d, JV_LIST_KEYS); }
static mlxc_jv d_values(struct jrt *rt, mlxc_jv d, struct jargs *a)
{ mlxc_jinja_check_args(rt, a, 0, NULL, "values()"); return dict_view(rt, d, JV_LIST_VALUES); }
static mlxc_jv d_copy(struct jrt *rt, mlxc_jv d, struct jargs *a)
{
    mlxc_jinja_check_args(rt, a, 0, NULL, "copy()");
    struct mlxc_jv_dict *c = mlxc_jinja_dict(rt);
    for (size_t i = 0; i < d.u.d->n; i++)
        mlxc_jinja_dset(rt, c, d.u.d->k[i], d.u.d->v[i]);
    return mlxc_jv_of_dict(c);
}

static mlxc_jv l_index(struct jrt *rt, mlxc_jv l, struct jargs *a)
{
    mlxc_jinja_check_args(rt, a, 1, NULL, "index()");
    mlxc_jv x = mlxc_jinja_arg(rt, a, 0, "value", MLXC_JINJA_REQUIRED);
    for (size_t i = 0; i < l.u.l->n; i++)
        if (mlxc_jv_eq(l.u.l->v[i], x))
            return mlxc_jv_int((int64_t)i);
    struct mlxc_buf b = MLXC_BUF_INIT;
    mlxc_jv_repr(&b, x);
    mlxc_jv r = mlxc_jinja_buf_str(rt, &b);
    if (l.u.l->kind == JV_LIST_TUPLE)
        mlxc_jinja_fail(rt, MLXC_EINVAL, "tuple.index(x): x not in tuple");
    mlxc_jinja_fail(rt, MLXC_EINVAL, "%s is not in list", r.u.s->s);
}
static mlxc_jv l_count(struct jrt *rt, mlxc_jv l, struct jargs *a)
{
    mlxc_jinja_check_args(rt, a, 1, NULL, "count()");
    mlxc_jv x = mlxc_jinja_arg(rt, a, 0, "value", MLXC_JINJA_REQUIRED);
    int64_t c = 0;
    for (size_t i = 0; i < l.u.l->n; i++)
        c += mlxc_jv_eq(l.u.l->v[i], x);
    return mlxc_jv_int(c);
}
static mlxc_jv l_copy(struct jrt *rt, mlxc_jv l, struct jargs *a)
{
    mlxc_jinja_check_args(rt, a, 0, NULL, "copy()");
    struct mlxc_jv_list *c = mlxc_jinja_list(rt, l.u.l->n);
    if (l.u.l->n)
        memcpy(c->v, l.u.l->v, l.u.l->n * sizeof *c->v);
    c->n = l.u.l->n;
    return mlxc_jv_of_list(c);
}

/* ---- lookup ---- */

struct method {
    const char *name;
    jbuiltin_fn fn; /* NULL: exists but mutates, refused by the sandbox */
};

static const struct method STR_METHODS[] = {
    {"strip", m_strip}, {"lstrip", m_lstrip}, {"rstrip", m_rstrip}, {"split", m_split}, {"rsplit", m_rsplit},
    {"splitlines", m_splitlines}, {"startswith", m_startswith}, {"endswith", m_endswith},
    {"replace", m_replace}, {"upper", m_upper}, {"lower", m_lower}, {"title", m_title},
    {"capitalize", m_capitalize}, {"format", m_format}, {"find", m_find}, {"rfind", m_rfind},
    {"index", m_index}, {"rindex", m_rindex}, {"count", m_count}, {"join", m_join}, {"isdigit", m_isdigit},
    {"isalpha", m_isalpha}, {"isalnum", m_isalnum}, {"isspace", m_isspace}, {"isdecimal", m_isdecimal},
    {"isnumeric", m_isnumeric}, {"islower", m_islower}, {"isupper", m_isupper}, {"center", m_center},
    {"ljust", m_ljust}, {"rjust", m_rjust}, {"removeprefix", m_removeprefix},
    {"removesuffix", m_removesuffix}, {"partition", m_partition}, {"rpartition", m_rpartition},
    {"zfill", m_zfill}, {NULL, NULL}};

static const struct method DICT_METHODS[] = {
    {"get", d_get}, {"items", d_items}, {"keys", d_keys}, {"values", d_values}, {"copy", d_copy},
    {"pop", NULL}, {"popitem", NULL}, {"update", NULL}, {"clear", NULL}, {"setdefault", NULL}, {NULL, NULL}};

static const struct method LIST_METHODS[] = {
    {"index", l_index}, {"count", l_count}, {"copy", l_copy}, {"append", NULL}, {"extend", NULL},
    {"insert", NULL}, {"pop", NULL}, {"remove", NULL}, {"reverse", NULL}, {"sort", NULL}, {"clear", NULL},
    {NULL, NULL}};

static const struct method TUPLE_METHODS[] = {{"index", l_index}, {"count", l_count}, {NULL, NULL}};

mlxc_jv mlxc_jinja_method(struct jrt *rt, mlxc_jv obj, const char *name)
{
    const struct method *t = NULL;
    if (obj.t == JV_STR) t = STR_METHODS;
    else if (obj.t == JV_DICT) t = DICT_METHODS;
    else if (obj.t == JV_LIST && obj.u.l->kind == JV_LIST_PLAIN) t = LIST_METHODS;
    else if (obj.t == JV_LIST && obj.u.l->kind == JV_LIST_TUPLE) t = TUPLE_METHODS;
    for (; t && t->name; t++) {
        if (strcmp(t->name, name))
            continue;
        if (!t->fn) {
            mlxc_jv u = mlxc_jv_undef(mlxc_jinja_fmt(rt, "access to attribute '%s' of '%s' object is unsafe.", name,
                                                     mlxc_jv_type_name(obj)));
            u.unsafe = 1;
            return u;
        }
        return mlxc_jinja_bound(rt, t->name, t->fn, obj);
    }
    return mlxc_jv_undef(NULL);
}

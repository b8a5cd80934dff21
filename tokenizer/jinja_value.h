/* Dynamic values of the Jinja engine: Python's None/bool/int/float/str/list/tuple/dict plus Jinja's
 * Undefined, callables, namespaces and loop objects.
 *
 * Every value lives in an arena (struct mlxc_jv_arena) that is freed as a whole: a render allocates
 * freely and releases everything at the end, so values have no owners and no reference counts. Strings
 * are immutable, valid UTF-8 and NUL-terminated. Lists and dicts are only mutated while being built
 * (and namespaces through `set ns.x = ...`), as in jinja2's ImmutableSandboxedEnvironment. */
#ifndef MLXC_JINJA_VALUE_H
#define MLXC_JINJA_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* ---- arena ---- */

struct mlxc_jv_arena {
    void *head;      /* doubly linked list of blocks, each with a small header */
    size_t used;     /* bytes handed out (payload) */
    size_t limit;    /* 0 = no limit; beyond it allocation fails */
};

void mlxc_jv_arena_init(struct mlxc_jv_arena *a, size_t limit);
void mlxc_jv_arena_free(struct mlxc_jv_arena *a);
/* NULL when out of memory or over the limit. */
void *mlxc_jv_alloc(struct mlxc_jv_arena *a, size_t n);
/* Grows (or shrinks) a block from mlxc_jv_alloc; p may be NULL. NULL on failure (p stays valid). */
void *mlxc_jv_realloc(struct mlxc_jv_arena *a, void *p, size_t n);

/* ---- values ---- */

enum mlxc_jv_type {
    JV_UNDEF, JV_NONE, JV_BOOL, JV_INT, JV_FLOAT, JV_STR, JV_LIST, JV_DICT,
    JV_FUNC, JV_NS, JV_LOOP, JV_CYCLER, JV_JOINER
};

/* What a list prints as: Python list, tuple, or a dict view. */
enum { JV_LIST_PLAIN, JV_LIST_TUPLE, JV_LIST_ITEMS, JV_LIST_KEYS, JV_LIST_VALUES };

struct mlxc_jv_str;
struct mlxc_jv_list;
struct mlxc_jv_dict;
struct mlxc_jv_func;

typedef struct mlxc_jv {
    uint8_t t;       /* enum mlxc_jv_type */
    uint8_t unsafe;  /* JV_UNDEF only: a sandbox refusal (calling it raises SecurityError) */
    union {
        int64_t i;   /* JV_INT, JV_BOOL (0/1) */
        double f;
        struct mlxc_jv_str *s;
        struct mlxc_jv_list *l;
        struct mlxc_jv_dict *d;   /* JV_DICT, JV_NS */
        struct mlxc_jv_func *fn;
        const char *hint;         /* JV_UNDEF: the message an error on use reports (NULL = generic) */
        void *p;                  /* JV_LOOP, JV_CYCLER, JV_JOINER */
    } u;
} mlxc_jv;

struct mlxc_jv_str {
    size_t len;      /* bytes */
    int markup;      /* a Markup string (|safe, |escape): printing is the same, + escapes the other side */
    char s[];        /* len bytes + NUL */
};

struct mlxc_jv_list {
    size_t n, cap;
    int kind;        /* JV_LIST_* */
    mlxc_jv *v;
};

/* Insertion-ordered dict with Python equality on keys (1 == 1.0 == True). */
struct mlxc_jv_dict {
    size_t n, cap;
    mlxc_jv *k, *v;
};

static inline mlxc_jv mlxc_jv_undef(const char *hint) { mlxc_jv v = {.t = JV_UNDEF}; v.u.hint = hint; return v; }
static inline mlxc_jv mlxc_jv_none(void) { mlxc_jv v = {.t = JV_NONE}; return v; }
static inline mlxc_jv mlxc_jv_bool(int b) { mlxc_jv v = {.t = JV_BOOL}; v.u.i = !!b; return v; }
static inline mlxc_jv mlxc_jv_int(int64_t i) { mlxc_jv v = {.t = JV_INT}; v.u.i = i; return v; }
static inline mlxc_jv mlxc_jv_float(double f) { mlxc_jv v = {.t = JV_FLOAT}; v.u.f = f; return v; }

/* Constructors return NULL (or -1) when the arena is out of memory or over its limit. */
/* s may be NULL: n bytes are left for the caller to fill. */
struct mlxc_jv_str *mlxc_jv_str_new(struct mlxc_jv_arena *a, const char *s, size_t n);
struct mlxc_jv_list *mlxc_jv_list_new(struct mlxc_jv_arena *a, size_t cap);
struct mlxc_jv_dict *mlxc_jv_dict_new(struct mlxc_jv_arena *a, size_t cap);
int mlxc_jv_list_push(struct mlxc_jv_arena *a, struct mlxc_jv_list *l, mlxc_jv v);       /* -1 on OOM */
/* Inserts or replaces (keeping the first position, as Python does). -1 on OOM. */
int mlxc_jv_dict_set(struct mlxc_jv_arena *a, struct mlxc_jv_dict *d, mlxc_jv k, mlxc_jv v);
/* Index of key k, or -1. */
long mlxc_jv_dict_find(const struct mlxc_jv_dict *d, mlxc_jv k);
long mlxc_jv_dict_find_str(const struct mlxc_jv_dict *d, const char *k, size_t n);

static inline mlxc_jv mlxc_jv_of_str(struct mlxc_jv_str *s) { mlxc_jv v = {.t = JV_STR}; v.u.s = s; return v; }
static inline mlxc_jv mlxc_jv_of_list(struct mlxc_jv_list *l) { mlxc_jv v = {.t = JV_LIST}; v.u.l = l; return v; }
static inline mlxc_jv mlxc_jv_of_dict(struct mlxc_jv_dict *d) { mlxc_jv v = {.t = JV_DICT}; v.u.d = d; return v; }

/* ---- Python semantics ---- */

int mlxc_jv_truthy(mlxc_jv v);                /* bool(v): Undefined, None, 0, 0.0, "", [], {} are false */
int mlxc_jv_eq(mlxc_jv a, mlxc_jv b);         /* a == b */
int mlxc_jv_is_number(mlxc_jv v);             /* bool, int or float */
int mlxc_jv_hashable(mlxc_jv v);              /* usable as a dict key */
/* Python's ordering: returns 0 and stores -1/0/1, or -1 when the types are not orderable. */
int mlxc_jv_cmp(mlxc_jv a, mlxc_jv b, int *out);
/* "str", "int", "list", "dict", "NoneType", "Undefined"... as type(v).__name__ */
const char *mlxc_jv_type_name(mlxc_jv v);
/* jinja2's object_type_repr: "dict object", "None", ... */
const char *mlxc_jv_object_repr(mlxc_jv v);

/* str(v) and repr(v) appended to b. */
void mlxc_jv_to_str(struct mlxc_buf *b, mlxc_jv v);
void mlxc_jv_repr(struct mlxc_buf *b, mlxc_jv v);
/* Python's repr of a float (shortest round trip; "1e+16", "1.5e-05", "inf", "nan"). out >= 32 bytes. */
void mlxc_jv_float_repr(double f, char *out);

/* Unicode helpers over valid UTF-8 (Python's str.isspace and code point counts). */
int mlxc_jv_isspace(uint32_t cp);
size_t mlxc_jv_cplen(const char *s, size_t n);

#endif

/* Internals shared by the evaluator, the filters, the tests and the methods of the Jinja engine.
 *
 * A render runs in one struct jrt. Runtime errors unwind with longjmp (mlxc_jinja_fail) to the
 * render entry point; that is safe because everything a render allocates lives in its arena. */
#ifndef MLXC_JINJA_EVAL_H
#define MLXC_JINJA_EVAL_H

#include <setjmp.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"
#include "core/err.h"
#include "tokenizer/jinja_ast.h"
#include "tokenizer/jinja_value.h"

struct jframe;

struct jrt {
    struct mlxc_jv_arena *a;
    jmp_buf jb;
    struct mlxc_err *e;
    const struct jnode *at;  /* the node being evaluated, for error positions */
    uint64_t steps, max_steps;
    int depth, max_depth;
    int cdepth;              /* C recursion of eval/exec, bounded so no template exhausts the stack */
    size_t max_output;
    struct tm now;           /* what strftime_now formats */
    struct jframe *globals;
    void *bufs;              /* temporary output buffers, freed when an error unwinds */
};

/* Call arguments: positional values, then keyword names and values. */
struct jargs {
    int npos, nkw;
    mlxc_jv *pos;
    const char **kwn;
    mlxc_jv *kwv;
};

typedef mlxc_jv (*jbuiltin_fn)(struct jrt *rt, mlxc_jv self, struct jargs *args);

struct mlxc_jv_func {
    const char *name;
    jbuiltin_fn fn;          /* builtins and bound methods */
    mlxc_jv self;            /* bound receiver */
    const struct jnode *macro; /* macros and callers (MACRO or CALLBLOCK node) */
    struct jframe *closure;
    mlxc_jv caller;          /* a macro called from {% call %}: its caller */
};

/* ---- errors (never return) ---- */
__attribute__((noreturn, format(printf, 3, 4)))
void mlxc_jinja_fail(struct jrt *rt, int code, const char *fmt, ...);
__attribute__((noreturn)) void mlxc_jinja_oom(struct jrt *rt);
/* Using an Undefined in a way that needs a value: raises its hint ("'x' is undefined"). */
__attribute__((noreturn)) void mlxc_jinja_undefined_error(struct jrt *rt, mlxc_jv undef);

/* ---- allocation helpers that fail the render on OOM ---- */
mlxc_jv mlxc_jinja_str(struct jrt *rt, const char *s, size_t n);
mlxc_jv mlxc_jinja_cstr(struct jrt *rt, const char *s);
mlxc_jv mlxc_jinja_buf_str(struct jrt *rt, struct mlxc_buf *b); /* frees b */
struct mlxc_jv_list *mlxc_jinja_list(struct jrt *rt, size_t cap);
void mlxc_jinja_push(struct jrt *rt, struct mlxc_jv_list *l, mlxc_jv v);
struct mlxc_jv_dict *mlxc_jinja_dict(struct jrt *rt);
void mlxc_jinja_dset(struct jrt *rt, struct mlxc_jv_dict *d, mlxc_jv k, mlxc_jv v);
const char *mlxc_jinja_fmt(struct jrt *rt, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
mlxc_jv mlxc_jinja_bound(struct jrt *rt, const char *name, jbuiltin_fn fn, mlxc_jv self);

/* A scratch buffer that an error unwinding through it frees; release the topmost one with
 * mlxc_jinja_tmpbuf_take (its text as a string value). */
struct mlxc_buf *mlxc_jinja_tmpbuf(struct jrt *rt);
mlxc_jv mlxc_jinja_tmpbuf_take(struct jrt *rt, struct mlxc_buf *b);

/* ---- Python str operations shared by filters and methods ---- */
enum { JSTRIP_BOTH, JSTRIP_LEFT, JSTRIP_RIGHT };
mlxc_jv mlxc_jinja_strip(struct jrt *rt, mlxc_jv s, mlxc_jv chars, int mode); /* chars: None = whitespace */
enum { JCASE_UPPER, JCASE_LOWER, JCASE_TITLE, JCASE_CAPITALIZE };
mlxc_jv mlxc_jinja_case(struct jrt *rt, mlxc_jv s, int mode);
mlxc_jv mlxc_jinja_replace(struct jrt *rt, mlxc_jv s, mlxc_jv old, mlxc_jv new_, int64_t count);
struct mlxc_jv_list *mlxc_jinja_splitlines(struct jrt *rt, mlxc_jv s, int keepends);
int mlxc_jinja_is_cased(uint32_t cp, int *upper, int *lower);

/* ---- conversions with Python semantics ---- */
mlxc_jv mlxc_jinja_to_string(struct jrt *rt, mlxc_jv v);   /* str(v); Undefined gives "" */
/* Iterates v as Python's iter(): list items, dict keys, string characters; Undefined is empty.
 * Other types raise "'int' object is not iterable". */
struct mlxc_jv_list *mlxc_jinja_iter(struct jrt *rt, mlxc_jv v);
int64_t mlxc_jinja_len(struct jrt *rt, mlxc_jv v);         /* len(v), TypeError when it has none */
mlxc_jv mlxc_jinja_getattr(struct jrt *rt, mlxc_jv obj, const char *name);
mlxc_jv mlxc_jinja_getitem(struct jrt *rt, mlxc_jv obj, mlxc_jv key);
mlxc_jv mlxc_jinja_call(struct jrt *rt, mlxc_jv fn, struct jargs *args);
mlxc_jv mlxc_jinja_binop(struct jrt *rt, int op, mlxc_jv a, mlxc_jv b);
int mlxc_jinja_contains(struct jrt *rt, mlxc_jv container, mlxc_jv item);
/* Python's sort order over values (TypeError when not orderable); case-insensitive for strings when
 * fold is set (jinja2's sort/dictsort/unique default). */
int mlxc_jinja_compare(struct jrt *rt, mlxc_jv a, mlxc_jv b, int fold);
/* Code points of a string as a list of 1-character strings. */
uint32_t *mlxc_jinja_codepoints(struct jrt *rt, mlxc_jv s, size_t *n);
mlxc_jv mlxc_jinja_from_codepoints(struct jrt *rt, const uint32_t *cp, size_t n);

/* ---- argument binding ---- */
/* Value of parameter `name` at position idx (after the receiver), or dflt when absent. A missing
 * argument without a default (dflt.t == JV_UNDEF with hint "required") raises TypeError. */
mlxc_jv mlxc_jinja_arg(struct jrt *rt, struct jargs *args, int idx, const char *name, mlxc_jv dflt);
/* Raises TypeError unless args has at most maxpos positional arguments and only keywords among
 * names (a NULL-terminated list). `what` names the callee in the message. */
void mlxc_jinja_check_args(struct jrt *rt, struct jargs *args, int maxpos, const char *const *names,
                           const char *what);
extern const mlxc_jv MLXC_JINJA_REQUIRED;

/* ---- filters, tests, methods, JSON ---- */
mlxc_jv mlxc_jinja_filter(struct jrt *rt, const char *name, mlxc_jv v, struct jargs *args);
int mlxc_jinja_test(struct jrt *rt, const char *name, mlxc_jv v, struct jargs *args);
/* Attribute `name` of a str/dict/list value when it is a method (bound), else t == JV_UNDEF with
 * hint NULL; a known but mutating method gives an unsafe Undefined, as the sandbox does. */
mlxc_jv mlxc_jinja_method(struct jrt *rt, mlxc_jv obj, const char *name);
/* json.dumps(v, ensure_ascii, indent, separators, sort_keys) as transformers' tojson. indent: NULL for
 * none, else the indent string. */
void mlxc_jinja_json_dump(struct jrt *rt, struct mlxc_buf *b, mlxc_jv v, int ensure_ascii, const char *indent,
                          const char *item_sep, const char *key_sep, int sort_keys);
/* Parses JSON text into values (Python's json.loads: ints stay ints). */
int mlxc_jinja_json_parse(struct mlxc_jv_arena *a, const char *s, size_t n, mlxc_jv *out, struct mlxc_err *e);
/* Python's str.format and printf-style "%" on strings, as the sandbox allows them. */
mlxc_jv mlxc_jinja_str_format(struct jrt *rt, mlxc_jv fmt, struct jargs *args);
mlxc_jv mlxc_jinja_str_percent(struct jrt *rt, mlxc_jv fmt, mlxc_jv args);

/* ---- special objects and globals ---- */
mlxc_jv mlxc_jinja_loop_attr(struct jrt *rt, mlxc_jv loop, const char *name);
mlxc_jv mlxc_jinja_cycler_attr(struct jrt *rt, mlxc_jv cyc, const char *name);
/* Defines range, dict, namespace, cycler, joiner, raise_exception and strftime_now through set. */
void mlxc_jinja_add_globals(struct jrt *rt, struct jframe *f,
                            void (*set)(struct jrt *, struct jframe *, const char *, mlxc_jv));

#endif

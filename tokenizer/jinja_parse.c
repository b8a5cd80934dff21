/* The Jinja parser: tokens to a syntax tree, following jinja2's Parser (grammar, precedence, which
 * tags exist). Errors unwind with longjmp to mlxc_jinja_parse; every node lives in the arena. */
#include "tokenizer/jinja_ast.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_NESTING 200

struct parser {
    struct mlxc_jv_arena *a;
    const struct jtoken *t;
    size_t n, i;
    jmp_buf jb;
    struct mlxc_err *e;
    int depth;        /* expression / block nesting */
    int loops;        /* for-loops open (for break / continue) */
    struct jnode *macros[MAX_NESTING];  /* macros and call blocks being parsed */
    int nmacros;
};

__attribute__((noreturn, format(printf, 3, 4)))
static void failf(struct parser *P, const struct jtoken *at, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mlxc_errf(P->e, MLXC_EFORMAT, "template line %d, column %d: %s", at->line, at->col, msg);
    longjmp(P->jb, 1);
}

__attribute__((noreturn)) static void oom(struct parser *P)
{
    mlxc_errf(P->e, MLXC_ENOMEM, "out of memory while parsing the template");
    longjmp(P->jb, 1);
}

static const struct jtoken *cur(struct parser *P) { return &P->t[P->i]; }
static const struct jtoken *look(struct parser *P) { return &P->t[P->i + 1 < P->n ? P->i + 1 : P->i]; }
static const struct jtoken *next(struct parser *P)
{
    const struct jtoken *t = &P->t[P->i];
    if (P->i + 1 < P->n)
        P->i++;
    return t;
}

static int is_name(const struct jtoken *t, const char *s) { return t->type == JT_NAME && !strcmp(t->s, s); }

static const char *describe(const struct jtoken *t)
{
    static const char *names[] = {
        [JT_EOF] = "end of template", [JT_DATA] = "template data", [JT_VAR_BEGIN] = "begin of print statement",
        [JT_VAR_END] = "end of print statement", [JT_BLOCK_BEGIN] = "begin of statement block",
        [JT_BLOCK_END] = "end of statement block", [JT_STRING] = "string", [JT_INT] = "integer",
        [JT_FLOAT] = "float", [JT_ADD] = "+", [JT_SUB] = "-", [JT_DIV] = "/", [JT_FLOORDIV] = "//",
        [JT_MUL] = "*", [JT_MOD] = "%", [JT_POW] = "**", [JT_TILDE] = "~", [JT_LBRACKET] = "[",
        [JT_RBRACKET] = "]", [JT_LPAREN] = "(", [JT_RPAREN] = ")", [JT_LBRACE] = "{", [JT_RBRACE] = "}",
        [JT_EQ] = "==", [JT_NE] = "!=", [JT_GT] = ">", [JT_GTEQ] = ">=", [JT_LT] = "<", [JT_LTEQ] = "<=",
        [JT_ASSIGN] = "=", [JT_DOT] = ".", [JT_COLON] = ":", [JT_PIPE] = "|", [JT_COMMA] = ",",
        [JT_SEMICOLON] = ";",
    };
    if (t->type == JT_NAME)
        return t->s ? t->s : "name";
    return names[t->type] ? names[t->type] : "token";
}

static const struct jtoken *expect(struct parser *P, int type)
{
    const struct jtoken *t = cur(P);
    if (t->type != type) {
        struct jtoken want = {.type = type};
        if (t->type == JT_EOF)
            failf(P, t, "unexpected end of template, expected '%s'", describe(&want));
        failf(P, t, "expected token '%s', got '%s'", describe(&want), describe(t));
    }
    return next(P);
}

static const struct jtoken *expect_name(struct parser *P, const char *name)
{
    const struct jtoken *t = cur(P);
    if (!is_name(t, name))
        failf(P, t, "expected token '%s', got '%s'", name, describe(t));
    return next(P);
}

static struct jnode *mk(struct parser *P, int kind, const struct jtoken *at)
{
    struct jnode *nd = mlxc_jv_alloc(P->a, sizeof *nd);
    if (!nd)
        oom(P);
    memset(nd, 0, sizeof *nd);
    nd->kind = kind;
    nd->line = at->line;
    nd->col = at->col;
    return nd;
}

static void add(struct parser *P, struct jnodes *l, struct jnode *nd)
{
    if (!(l->n & (l->n - 1)) || !l->n) {
        size_t cap = l->n ? (size_t)l->n * 2 : 1;
        struct jnode **v = mlxc_jv_realloc(P->a, l->v, cap * sizeof *v);
        if (!v)
            oom(P);
        l->v = v;
    }
    l->v[l->n++] = nd;
}

static void enter(struct parser *P)
{
    if (++P->depth > MAX_NESTING)
        failf(P, cur(P), "the template is nested too deeply");
}

/* ---- expressions ---- */

static struct jnode *parse_expression(struct parser *P, int with_condexpr);
static struct jnode *parse_tuple(struct parser *P, int simplified, int with_condexpr,
                                 const char *end_name, int explicit_parens);
static struct jnode *parse_unary(struct parser *P, int with_filter);
static struct jnode *parse_primary(struct parser *P);
static struct jnode *parse_postfix(struct parser *P, struct jnode *nd);

static void parse_call_args(struct parser *P, struct jnode *nd)
{
    const struct jtoken *lp = expect(P, JT_LPAREN);
    int require_comma = 0;
    while (cur(P)->type != JT_RPAREN) {
        if (require_comma) {
            expect(P, JT_COMMA);
            if (cur(P)->type == JT_RPAREN)
                break;
        }
        if (cur(P)->type == JT_MUL) {
            if (nd->c || nd->d)
                failf(P, lp, "invalid syntax for function call expression");
            next(P);
            nd->c = parse_expression(P, 1);
        } else if (cur(P)->type == JT_POW) {
            if (nd->d)
                failf(P, lp, "invalid syntax for function call expression");
            next(P);
            nd->d = parse_expression(P, 1);
        } else if (cur(P)->type == JT_NAME && look(P)->type == JT_ASSIGN) {
            if (nd->d)
                failf(P, lp, "invalid syntax for function call expression");
            const struct jtoken *key = next(P);
            next(P);
            struct jnode *kw = mk(P, JN_KEYWORD, key);
            kw->name = key->s;
            kw->a = parse_expression(P, 1);
            add(P, &nd->l2, kw);
        } else {
            if (nd->c || nd->d || nd->l2.n)
                failf(P, lp, "invalid syntax for function call expression");
            add(P, &nd->l1, parse_expression(P, 1));
        }
        require_comma = 1;
    }
    expect(P, JT_RPAREN);
}

static const char *dotted_name(struct parser *P)
{
    const struct jtoken *t = expect(P, JT_NAME);
    const char *name = t->s;
    while (cur(P)->type == JT_DOT) {
        next(P);
        const struct jtoken *u = expect(P, JT_NAME);
        size_t l1 = strlen(name), l2 = strlen(u->s);
        char *s = mlxc_jv_alloc(P->a, l1 + l2 + 2);
        if (!s)
            oom(P);
        memcpy(s, name, l1);
        s[l1] = '.';
        memcpy(s + l1 + 1, u->s, l2 + 1);
        name = s;
    }
    return name;
}

static struct jnode *parse_filter(struct parser *P, struct jnode *nd, int start_inline)
{
    while (cur(P)->type == JT_PIPE || start_inline) {
        if (!start_inline)
            next(P);
        const struct jtoken *t = cur(P);
        struct jnode *f = mk(P, JN_FILTER, t);
        f->name = dotted_name(P);
        if (!mlxc_jinja_has_filter(f->name))
            failf(P, t, "No filter named '%s'.", f->name);
        if (cur(P)->type == JT_LPAREN)
            parse_call_args(P, f);
        f->a = nd;
        nd = f;
        start_inline = 0;
    }
    return nd;
}

static struct jnode *parse_test(struct parser *P, struct jnode *nd)
{
    const struct jtoken *is = next(P);
    int negated = 0;
    if (is_name(cur(P), "not")) {
        next(P);
        negated = 1;
    }
    const struct jtoken *t = cur(P);
    struct jnode *tn = mk(P, JN_TEST, is);
    tn->name = dotted_name(P);
    if (!mlxc_jinja_has_test(tn->name))
        failf(P, t, "No test named '%s'.", tn->name);
    tn->a = nd;
    int ty = cur(P)->type;
    if (ty == JT_LPAREN)
        parse_call_args(P, tn);
    else if ((ty == JT_NAME || ty == JT_STRING || ty == JT_INT || ty == JT_FLOAT || ty == JT_LBRACKET ||
              ty == JT_LBRACE) &&
             !is_name(cur(P), "else") && !is_name(cur(P), "or") && !is_name(cur(P), "and")) {
        if (is_name(cur(P), "is"))
            failf(P, cur(P), "You cannot chain multiple tests with is");
        add(P, &tn->l1, parse_postfix(P, parse_primary(P)));
    }
    if (negated) {
        struct jnode *n2 = mk(P, JN_NOT, is);
        n2->a = tn;
        return n2;
    }
    return tn;
}

static struct jnode *parse_filter_expr(struct parser *P, struct jnode *nd)
{
    for (;;) {
        int ty = cur(P)->type;
        if (ty == JT_PIPE)
            nd = parse_filter(P, nd, 0);
        else if (is_name(cur(P), "is"))
            nd = parse_test(P, nd);
        else if (ty == JT_LPAREN) {
            struct jnode *c = mk(P, JN_CALL, cur(P));
            c->a = nd;
            parse_call_args(P, c);
            nd = c;
        } else
            return nd;
    }
}

static struct jnode *parse_subscribed(struct parser *P)
{
    const struct jtoken *at = cur(P);
    struct jnode *args[3] = {0};
    if (cur(P)->type == JT_COLON)
        next(P);
    else {
        struct jnode *nd = parse_expression(P, 1);
        if (cur(P)->type != JT_COLON)
            return nd;
        next(P);
        args[0] = nd;
    }
    if (cur(P)->type != JT_COLON && cur(P)->type != JT_RBRACKET && cur(P)->type != JT_COMMA)
        args[1] = parse_expression(P, 1);
    if (cur(P)->type == JT_COLON) {
        next(P);
        if (cur(P)->type != JT_RBRACKET && cur(P)->type != JT_COMMA)
            args[2] = parse_expression(P, 1);
    }
    struct jnode *s = mk(P, JN_SLICE, at);
    s->a = args[0];
    s->b = args[1];
    s->c = args[2];
    return s;
}

static struct jnode *parse_postfix(struct parser *P, struct jnode *nd)
{
    for (;;) {
        const struct jtoken *t = cur(P);
        if (t->type == JT_DOT) {
            next(P);
            const struct jtoken *at = next(P);
            if (at->type == JT_NAME) {
                struct jnode *g = mk(P, JN_GETATTR, t);
                g->a = nd;
                g->name = at->s;
                nd = g;
            } else if (at->type == JT_INT) {
                struct jnode *g = mk(P, JN_GETITEM, t);
                g->a = nd;
                g->b = mk(P, JN_CONST, at);
                g->b->value = at->num;
                nd = g;
            } else
                failf(P, at, "expected name or number");
        } else if (t->type == JT_LBRACKET) {
            next(P);
            struct jnodes args = {0};
            while (cur(P)->type != JT_RBRACKET) {
                if (args.n)
                    expect(P, JT_COMMA);
                add(P, &args, parse_subscribed(P));
            }
            expect(P, JT_RBRACKET);
            struct jnode *g = mk(P, JN_GETITEM, t);
            g->a = nd;
            if (args.n == 1)
                g->b = args.v[0];
            else {
                g->b = mk(P, JN_TUPLE, t);
                g->b->l1 = args;
            }
            nd = g;
        } else if (t->type == JT_LPAREN) {
            struct jnode *c = mk(P, JN_CALL, t);
            c->line = nd->line; /* errors from a call point at the callee */
            c->col = nd->col;
            c->a = nd;
            parse_call_args(P, c);
            nd = c;
        } else
            return nd;
    }
}

static struct jnode *parse_primary(struct parser *P)
{
    const struct jtoken *t = cur(P);
    struct jnode *nd;
    enter(P);
    switch (t->type) {
    case JT_NAME:
        next(P);
        nd = mk(P, JN_CONST, t);
        if (!strcmp(t->s, "true") || !strcmp(t->s, "True"))
            nd->value = mlxc_jv_bool(1);
        else if (!strcmp(t->s, "false") || !strcmp(t->s, "False"))
            nd->value = mlxc_jv_bool(0);
        else if (!strcmp(t->s, "none") || !strcmp(t->s, "None"))
            nd->value = mlxc_jv_none();
        else {
            nd->kind = JN_NAME;
            nd->name = t->s;
            if (!strcmp(t->s, "caller") || !strcmp(t->s, "varargs") || !strcmp(t->s, "kwargs"))
                for (int k = 0; k < P->nmacros; k++) {
                    struct jnode *m = P->macros[k];
                    if (t->s[0] == 'c') m->uses_caller = 1;
                    else if (t->s[0] == 'v') m->uses_varargs = 1;
                    else m->uses_kwargs = 1;
                }
        }
        break;
    case JT_STRING: {
        /* adjacent string literals concatenate */
        struct mlxc_buf b = MLXC_BUF_INIT;
        while (cur(P)->type == JT_STRING) {
            const struct jtoken *s = next(P);
            mlxc_buf_append(&b, s->s, s->n);
        }
        nd = mk(P, JN_CONST, t);
        struct mlxc_jv_str *s = b.oom ? NULL : mlxc_jv_str_new(P->a, b.data ? b.data : "", b.len);
        mlxc_buf_free(&b);
        if (!s)
            oom(P);
        nd->value = mlxc_jv_of_str(s);
        break;
    }
    case JT_INT:
    case JT_FLOAT:
        next(P);
        nd = mk(P, JN_CONST, t);
        nd->value = t->num;
        break;
    case JT_LPAREN:
        next(P);
        nd = parse_tuple(P, 0, 1, NULL, 1);
        expect(P, JT_RPAREN);
        break;
    case JT_LBRACKET:
        next(P);
        nd = mk(P, JN_LIST, t);
        while (cur(P)->type != JT_RBRACKET) {
            if (nd->l1.n)
                expect(P, JT_COMMA);
            if (cur(P)->type == JT_RBRACKET)
                break;
            add(P, &nd->l1, parse_expression(P, 1));
        }
        expect(P, JT_RBRACKET);
        break;
    case JT_LBRACE:
        next(P);
        nd = mk(P, JN_DICT, t);
        while (cur(P)->type != JT_RBRACE) {
            if (nd->l1.n)
                expect(P, JT_COMMA);
            if (cur(P)->type == JT_RBRACE)
                break;
            add(P, &nd->l1, parse_expression(P, 1));
            expect(P, JT_COLON);
            add(P, &nd->l2, parse_expression(P, 1));
        }
        expect(P, JT_RBRACE);
        break;
    default:
        if (t->type == JT_EOF)
            failf(P, t, "unexpected end of template");
        failf(P, t, "unexpected '%s'", describe(t));
    }
    P->depth--;
    return nd;
}

static struct jnode *parse_unary(struct parser *P, int with_filter)
{
    const struct jtoken *t = cur(P);
    struct jnode *nd;
    enter(P);
    if (t->type == JT_SUB || t->type == JT_ADD) {
        next(P);
        nd = mk(P, t->type == JT_SUB ? JN_NEG : JN_POS, t);
        nd->a = parse_unary(P, 0);
    } else
        nd = parse_primary(P);
    nd = parse_postfix(P, nd);
    if (with_filter)
        nd = parse_filter_expr(P, nd);
    P->depth--;
    return nd;
}

static struct jnode *binop(struct parser *P, int op, const struct jtoken *at, struct jnode *l, struct jnode *r)
{
    struct jnode *nd = mk(P, JN_BINOP, at);
    nd->op = op;
    nd->a = l;
    nd->b = r;
    return nd;
}

static struct jnode *parse_pow(struct parser *P)
{
    struct jnode *l = parse_unary(P, 1);
    while (cur(P)->type == JT_POW) {
        const struct jtoken *t = next(P);
        l = binop(P, JT_POW, t, l, parse_unary(P, 1));
    }
    return l;
}

static struct jnode *parse_math2(struct parser *P)
{
    struct jnode *l = parse_pow(P);
    for (;;) {
        int ty = cur(P)->type;
        if (ty != JT_MUL && ty != JT_DIV && ty != JT_FLOORDIV && ty != JT_MOD)
            return l;
        const struct jtoken *t = next(P);
        l = binop(P, ty, t, l, parse_pow(P));
    }
}

static struct jnode *parse_concat(struct parser *P)
{
    const struct jtoken *at = cur(P);
    struct jnode *first = parse_math2(P);
    if (cur(P)->type != JT_TILDE)
        return first;
    struct jnode *nd = mk(P, JN_CONCAT, at);
    add(P, &nd->l1, first);
    while (cur(P)->type == JT_TILDE) {
        next(P);
        add(P, &nd->l1, parse_math2(P));
    }
    return nd;
}

static struct jnode *parse_math1(struct parser *P)
{
    struct jnode *l = parse_concat(P);
    for (;;) {
        int ty = cur(P)->type;
        if (ty != JT_ADD && ty != JT_SUB)
            return l;
        const struct jtoken *t = next(P);
        l = binop(P, ty, t, l, parse_concat(P));
    }
}

static struct jnode *parse_compare(struct parser *P)
{
    const struct jtoken *at = cur(P);
    struct jnode *expr = parse_math1(P), *nd = NULL;
    int nops = 0;
    for (;;) {
        int ty = cur(P)->type, op;
        if (ty == JT_EQ || ty == JT_NE || ty == JT_LT || ty == JT_LTEQ || ty == JT_GT || ty == JT_GTEQ) {
            next(P);
            op = ty;
        } else if (is_name(cur(P), "in")) {
            next(P);
            op = JOP_IN;
        } else if (is_name(cur(P), "not") && is_name(look(P), "in")) {
            next(P);
            next(P);
            op = JOP_NOTIN;
        } else
            break;
        if (!nd) {
            nd = mk(P, JN_COMPARE, at);
            nd->a = expr;
        }
        int *ops = mlxc_jv_realloc(P->a, nd->ops, (size_t)(nops + 1) * sizeof *ops);
        if (!ops)
            oom(P);
        nd->ops = ops;
        ops[nops++] = op;
        add(P, &nd->l1, parse_math1(P));
    }
    return nd ? nd : expr;
}

static struct jnode *parse_not(struct parser *P)
{
    if (is_name(cur(P), "not")) {
        const struct jtoken *t = next(P);
        enter(P);
        struct jnode *nd = mk(P, JN_NOT, t);
        nd->a = parse_not(P);
        P->depth--;
        return nd;
    }
    return parse_compare(P);
}

static struct jnode *parse_and(struct parser *P)
{
    struct jnode *l = parse_not(P);
    while (is_name(cur(P), "and")) {
        const struct jtoken *t = next(P);
        struct jnode *nd = mk(P, JN_AND, t);
        nd->a = l;
        nd->b = parse_not(P);
        l = nd;
    }
    return l;
}

static struct jnode *parse_or(struct parser *P)
{
    struct jnode *l = parse_and(P);
    while (is_name(cur(P), "or")) {
        const struct jtoken *t = next(P);
        struct jnode *nd = mk(P, JN_OR, t);
        nd->a = l;
        nd->b = parse_and(P);
        l = nd;
    }
    return l;
}

static struct jnode *parse_condexpr(struct parser *P)
{
    struct jnode *e1 = parse_or(P);
    while (is_name(cur(P), "if")) {
        const struct jtoken *t = next(P);
        enter(P);
        struct jnode *nd = mk(P, JN_CONDEXPR, t);
        nd->a = parse_or(P);
        nd->b = e1;
        if (is_name(cur(P), "else")) {
            next(P);
            nd->c = parse_condexpr(P);
        }
        P->depth--;
        e1 = nd;
    }
    return e1;
}

static struct jnode *parse_expression(struct parser *P, int with_condexpr)
{
    enter(P);
    struct jnode *nd = with_condexpr ? parse_condexpr(P) : parse_or(P);
    P->depth--;
    return nd;
}

static int tuple_end(struct parser *P, const char *end_name)
{
    int ty = cur(P)->type;
    if (ty == JT_VAR_END || ty == JT_BLOCK_END || ty == JT_RPAREN)
        return 1;
    return end_name && is_name(cur(P), end_name);
}

static struct jnode *parse_tuple(struct parser *P, int simplified, int with_condexpr,
                                 const char *end_name, int explicit_parens)
{
    const struct jtoken *at = cur(P);
    struct jnodes args = {0};
    int is_tuple = 0;
    for (;;) {
        if (args.n)
            expect(P, JT_COMMA);
        if (tuple_end(P, end_name))
            break;
        add(P, &args, simplified ? parse_primary(P) : parse_expression(P, with_condexpr));
        if (cur(P)->type == JT_COMMA)
            is_tuple = 1;
        else
            break;
    }
    if (!is_tuple) {
        if (args.n)
            return args.v[0];
        if (!explicit_parens)
            failf(P, cur(P), "Expected an expression, got '%s'", describe(cur(P)));
    }
    struct jnode *nd = mk(P, JN_TUPLE, at);
    nd->l1 = args;
    return nd;
}

/* ---- statements ---- */

static void subparse(struct parser *P, struct jnodes *body, const char *const *end);

static int can_assign(const struct jnode *nd)
{
    if (nd->kind == JN_NAME || nd->kind == JN_NSREF)
        return 1;
    if (nd->kind != JN_TUPLE)
        return 0;
    for (int i = 0; i < nd->l1.n; i++)
        if (!can_assign(nd->l1.v[i]))
            return 0;
    return 1;
}

static struct jnode *parse_assign_target(struct parser *P, int name_only, const char *end_name,
                                         int with_namespace)
{
    const struct jtoken *t = cur(P);
    struct jnode *nd;
    if (with_namespace && look(P)->type == JT_DOT) {
        expect(P, JT_NAME);
        next(P);
        const struct jtoken *attr = expect(P, JT_NAME);
        nd = mk(P, JN_NSREF, t);
        nd->name = t->s;
        nd->attr = attr->s;
    } else if (name_only) {
        expect(P, JT_NAME);
        nd = mk(P, JN_NAME, t);
        nd->name = t->s;
    } else
        nd = parse_tuple(P, 1, 1, end_name, 0);
    if (!can_assign(nd))
        failf(P, t, "can't assign to '%s'", nd->kind == JN_CONST ? "const" : nd->kind == JN_TUPLE ?
              "tuple" : "expression");
    return nd;
}

/* Parses "%}" body up to one of the end tags; leaves the end tag's name as the current token. */
static void parse_statements(struct parser *P, struct jnodes *body, const char *const *end, int drop)
{
    if (cur(P)->type == JT_COLON)
        next(P);
    expect(P, JT_BLOCK_END);
    subparse(P, body, end);
    if (cur(P)->type == JT_EOF) {
        char want[256] = "";
        for (int k = 0; end[k]; k++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s'%s'", k ? " or " : "", end[k]);
        failf(P, cur(P), "Unexpected end of template. Jinja was looking for the following tags: %s.", want);
    }
    if (drop)
        next(P);
}

static void parse_signature(struct parser *P, struct jnode *nd)
{
    expect(P, JT_LPAREN);
    while (cur(P)->type != JT_RPAREN) {
        if (nd->l1.n)
            expect(P, JT_COMMA);
        struct jnode *arg = parse_assign_target(P, 1, NULL, 0);
        if (cur(P)->type == JT_ASSIGN) {
            next(P);
            add(P, &nd->l2, parse_expression(P, 1));
        } else if (nd->l2.n)
            failf(P, cur(P), "non-default argument follows default argument");
        add(P, &nd->l1, arg);
    }
    expect(P, JT_RPAREN);
}

static void push_macro(struct parser *P, struct jnode *m)
{
    if (P->nmacros >= MAX_NESTING)
        failf(P, cur(P), "the template is nested too deeply");
    P->macros[P->nmacros++] = m;
}

static struct jnode *parse_statement(struct parser *P)
{
    const struct jtoken *t = cur(P);
    if (t->type != JT_NAME)
        failf(P, t, "tag name expected");
    const char *w = t->s;
    struct jnode *nd;
    enter(P);
    if (!strcmp(w, "for")) {
        next(P);
        nd = mk(P, JN_FOR, t);
        nd->a = parse_assign_target(P, 0, "in", 0);
        expect_name(P, "in");
        nd->b = parse_tuple(P, 0, 0, "recursive", 0);
        if (is_name(cur(P), "if")) {
            next(P);
            nd->c = parse_expression(P, 1);
        }
        if (is_name(cur(P), "recursive")) {
            next(P);
            nd->op = 1;
        }
        static const char *const end1[] = {"endfor", "else", NULL}, *const end2[] = {"endfor", NULL};
        P->loops++;
        parse_statements(P, &nd->l1, end1, 0);
        P->loops--;
        if (is_name(next(P), "else"))
            parse_statements(P, &nd->l2, end2, 1);
    } else if (!strcmp(w, "if")) {
        next(P);
        static const char *const end1[] = {"elif", "else", "endif", NULL}, *const end2[] = {"endif", NULL};
        nd = mk(P, JN_IF, t);
        struct jnode *node = nd;
        for (;;) {
            node->a = parse_tuple(P, 0, 0, NULL, 0);
            parse_statements(P, &node->l1, end1, 0);
            const struct jtoken *k = next(P);
            if (is_name(k, "elif")) {
                struct jnode *n2 = mk(P, JN_IF, cur(P));
                add(P, &node->l2, n2);
                node = n2;
                continue;
            }
            if (is_name(k, "else"))
                parse_statements(P, &node->l2, end2, 1);
            break;
        }
    } else if (!strcmp(w, "set")) {
        next(P);
        struct jnode *target = parse_assign_target(P, 0, NULL, 1);
        if (cur(P)->type == JT_ASSIGN) {
            next(P);
            nd = mk(P, JN_SET, t);
            nd->a = target;
            nd->b = parse_tuple(P, 0, 1, NULL, 0);
        } else {
            static const char *const end[] = {"endset", NULL};
            nd = mk(P, JN_SETBLOCK, t);
            nd->a = target;
            nd->b = parse_filter(P, NULL, 0);
            parse_statements(P, &nd->l1, end, 1);
        }
    } else if (!strcmp(w, "macro")) {
        static const char *const end[] = {"endmacro", NULL};
        next(P);
        nd = mk(P, JN_MACRO, t);
        nd->name = parse_assign_target(P, 1, NULL, 0)->name;
        parse_signature(P, nd);
        int saved = P->loops;
        P->loops = 0;
        push_macro(P, nd);
        parse_statements(P, &nd->l3, end, 1);
        P->nmacros--;
        P->loops = saved;
    } else if (!strcmp(w, "call")) {
        static const char *const end[] = {"endcall", NULL};
        next(P);
        nd = mk(P, JN_CALLBLOCK, t);
        if (cur(P)->type == JT_LPAREN)
            parse_signature(P, nd);
        nd->a = parse_expression(P, 1);
        if (nd->a->kind != JN_CALL)
            failf(P, t, "expected call");
        int saved = P->loops;
        P->loops = 0;
        push_macro(P, nd);
        parse_statements(P, &nd->l3, end, 1);
        P->nmacros--;
        P->loops = saved;
    } else if (!strcmp(w, "filter")) {
        static const char *const end[] = {"endfilter", NULL};
        next(P);
        nd = mk(P, JN_FILTERBLOCK, t);
        nd->a = parse_filter(P, NULL, 1);
        parse_statements(P, &nd->l1, end, 1);
    } else if (!strcmp(w, "with")) {
        static const char *const end[] = {"endwith", NULL};
        next(P);
        nd = mk(P, JN_WITH, t);
        while (cur(P)->type != JT_BLOCK_END) {
            if (nd->l1.n)
                expect(P, JT_COMMA);
            add(P, &nd->l1, parse_assign_target(P, 0, NULL, 0));
            expect(P, JT_ASSIGN);
            add(P, &nd->l2, parse_expression(P, 1));
        }
        parse_statements(P, &nd->l3, end, 1);
    } else if (!strcmp(w, "generation")) {
        /* transformers' AssistantTracker extension: the body renders as it is */
        static const char *const end[] = {"endgeneration", NULL};
        next(P);
        nd = mk(P, JN_SCOPE, t);
        nd->op = 1; /* a scope of its own, like the CallBlock transformers compiles it to */
        parse_statements(P, &nd->l1, end, 1);
    } else if (!strcmp(w, "print")) {
        next(P);
        nd = mk(P, JN_PRINT, t);
        struct jnode *tup = mk(P, JN_LIST, t);
        while (cur(P)->type != JT_BLOCK_END) {
            if (tup->l1.n)
                expect(P, JT_COMMA);
            add(P, &tup->l1, parse_expression(P, 1));
        }
        nd->kind = JN_SCOPE;
        for (int k = 0; k < tup->l1.n; k++) {
            struct jnode *p = mk(P, JN_PRINT, t);
            p->a = tup->l1.v[k];
            add(P, &nd->l1, p);
        }
    } else if (!strcmp(w, "break") || !strcmp(w, "continue")) {
        next(P);
        if (!P->loops)
            failf(P, t, "'%s' outside loop", w);
        nd = mk(P, w[0] == 'b' ? JN_BREAK : JN_CONTINUE, t);
    } else if (!strcmp(w, "block") || !strcmp(w, "extends") || !strcmp(w, "include") ||
               !strcmp(w, "import") || !strcmp(w, "from") || !strcmp(w, "autoescape")) {
        failf(P, t, "tag '%s' is not supported in chat templates", w);
    } else
        failf(P, t, "Encountered unknown tag '%s'.", w);
    P->depth--;
    return nd;
}

static int at_end(struct parser *P, const char *const *end)
{
    if (!end)
        return 0;
    for (int k = 0; end[k]; k++)
        if (is_name(cur(P), end[k]))
            return 1;
    return 0;
}

static void subparse(struct parser *P, struct jnodes *body, const char *const *end)
{
    enter(P);
    while (cur(P)->type != JT_EOF) {
        const struct jtoken *t = cur(P);
        if (t->type == JT_DATA) {
            struct jnode *nd = mk(P, JN_DATA, t);
            struct mlxc_jv_str *s = mlxc_jv_str_new(P->a, t->s, t->n);
            if (!s)
                oom(P);
            nd->value = mlxc_jv_of_str(s);
            add(P, body, nd);
            next(P);
        } else if (t->type == JT_VAR_BEGIN) {
            next(P);
            struct jnode *nd = mk(P, JN_PRINT, t);
            nd->a = parse_tuple(P, 0, 1, NULL, 0);
            add(P, body, nd);
            expect(P, JT_VAR_END);
        } else if (t->type == JT_BLOCK_BEGIN) {
            next(P);
            if (at_end(P, end)) {
                P->depth--;
                return;
            }
            add(P, body, parse_statement(P));
            expect(P, JT_BLOCK_END);
        } else
            failf(P, t, "unexpected '%s'", describe(t));
    }
    P->depth--;
}

int mlxc_jinja_parse(struct mlxc_jv_arena *a, const struct jtokens *toks, struct jnodes *body,
                     struct mlxc_err *e)
{
    struct parser P = {.a = a, .t = toks->v, .n = toks->n, .e = e};
    body->v = NULL;
    body->n = 0;
    if (!toks->n || toks->v[toks->n - 1].type != JT_EOF)
        return mlxc_errf(e, MLXC_EINVAL, "token stream without end");
    if (setjmp(P.jb))
        return e && e->code ? e->code : MLXC_EFORMAT;
    subparse(&P, body, NULL);
    /* block_begin followed by an unknown end tag at top level: subparse consumed all */
    return 0;
}

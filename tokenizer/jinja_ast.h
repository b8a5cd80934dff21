/* Tokens and syntax tree of the Jinja engine, and the lexer and parser that produce them.
 *
 * The lexer follows jinja2's (3.1) rules with trim_blocks and lstrip_blocks on, as transformers sets
 * them: newlines normalised to "\n", one trailing newline dropped, "-"/"+" whitespace control, string
 * literals decoded with Python's unicode-escape. The parser follows jinja2's grammar and precedence.
 * Errors carry the line and column: "template line 3, column 5: unexpected '}'". */
#ifndef MLXC_JINJA_AST_H
#define MLXC_JINJA_AST_H

#include <stddef.h>

#include "core/err.h"
#include "tokenizer/jinja_value.h"

enum jtok {
    JT_EOF, JT_DATA, JT_VAR_BEGIN, JT_VAR_END, JT_BLOCK_BEGIN, JT_BLOCK_END,
    JT_NAME, JT_STRING, JT_INT, JT_FLOAT,
    /* operators */
    JT_ADD, JT_SUB, JT_DIV, JT_FLOORDIV, JT_MUL, JT_MOD, JT_POW, JT_TILDE,
    JT_LBRACKET, JT_RBRACKET, JT_LPAREN, JT_RPAREN, JT_LBRACE, JT_RBRACE,
    JT_EQ, JT_NE, JT_GT, JT_GTEQ, JT_LT, JT_LTEQ, JT_ASSIGN, JT_DOT, JT_COLON,
    JT_PIPE, JT_COMMA, JT_SEMICOLON
};

struct jtoken {
    int type;
    int line, col;
    const char *s;   /* DATA, NAME, STRING: text (decoded, NUL-terminated, arena) */
    size_t n;
    mlxc_jv num;     /* INT, FLOAT */
};

struct jtokens {
    struct jtoken *v;
    size_t n;
};

/* Expression and statement kinds. */
enum jnode_kind {
    /* expressions */
    JN_CONST, JN_NAME, JN_TUPLE, JN_LIST, JN_DICT, JN_GETATTR, JN_GETITEM, JN_SLICE, JN_CALL,
    JN_FILTER, JN_TEST, JN_BINOP, JN_NEG, JN_POS, JN_NOT, JN_AND, JN_OR, JN_COMPARE, JN_CONCAT,
    JN_CONDEXPR, JN_KEYWORD, JN_NSREF,
    /* statements */
    JN_DATA, JN_PRINT, JN_FOR, JN_IF, JN_MACRO, JN_CALLBLOCK, JN_FILTERBLOCK, JN_SET, JN_SETBLOCK,
    JN_WITH, JN_BREAK, JN_CONTINUE, JN_SCOPE
};

struct jnode;
struct jnodes {
    struct jnode **v;
    int n;
};

/* One node; the meaning of the fields depends on the kind:
 *   CONST value | NAME name | TUPLE/LIST l1 items | DICT l1 keys, l2 values | GETATTR a.name |
 *   GETITEM a[b] | SLICE a:b:c (any may be NULL) | CALL a(l1 args, l2 keywords, *c, **d) |
 *   FILTER a|name(l1, l2, *c, **d) (a NULL in filter blocks) | TEST a is name(l1, l2, *c, **d) |
 *   BINOP a op b | NEG/POS/NOT a | AND/OR a b | COMPARE a, l1 operands, ops[] |
 *   CONCAT l1 | CONDEXPR b if a else c (c may be NULL) | KEYWORD name=a | NSREF name.attr |
 *   DATA value (str) | PRINT a | FOR for a in b if c: l1 else l2, op = recursive |
 *   IF a: l1 else l2 | MACRO name(l1 args, l2 defaults): l3 | CALLBLOCK a (a call) with caller(l1, l2): l3 |
 *   FILTERBLOCK a (a filter chain over NULL): l1 | SET a = b | SETBLOCK a = l1 through filter b |
 *   WITH l1 targets = l2 values: l3 | SCOPE l1 (the generation block) */
struct jnode {
    int kind;
    int line, col;
    int op;               /* BINOP: a JT_* operator; FOR: recursive flag */
    const char *name;     /* NAME, GETATTR, FILTER, TEST, KEYWORD, MACRO, NSREF (name), ... */
    const char *attr;     /* NSREF attribute */
    mlxc_jv value;        /* CONST, DATA */
    struct jnode *a, *b, *c, *d;
    struct jnodes l1, l2, l3;
    int *ops;             /* COMPARE: one operator per operand (JT_EQ..., or JN_IN / JN_NOTIN codes) */
    int uses_caller, uses_varargs, uses_kwargs; /* MACRO / CALLBLOCK */
};

/* COMPARE operators besides the JT_* comparison tokens */
enum { JOP_IN = 1000, JOP_NOTIN = 1001 };

/* Tokenizes source (UTF-8) into arena memory. */
int mlxc_jinja_lex(struct mlxc_jv_arena *a, const char *src, size_t n, struct jtokens *out,
                   struct mlxc_err *e);

/* Parses the tokens into a body (list of statements). Filter and test names are checked here, as
 * jinja2 does when it compiles. */
int mlxc_jinja_parse(struct mlxc_jv_arena *a, const struct jtokens *toks, struct jnodes *body,
                     struct mlxc_err *e);

/* Is there a filter / test of this name (used by the parser's checks and by map/select). */
int mlxc_jinja_has_filter(const char *name);
int mlxc_jinja_has_test(const char *name);

#endif

/* Pre-tokenizers (HF tokenizers/src/pre_tokenizers): Split, ByteLevel, Metaspace, Digits, Punctuation,
 * Whitespace, WhitespaceSplit, BertPreTokenizer; a Sequence is flattened into steps at load.
 *
 * Every splitter works as HF's NormalizedString::split does: the pattern yields a list of
 * (range, is_match) covering the piece, the behaviour turns it into pieces, and empty pieces are dropped
 * (PreTokenizedString::split). Pieces are byte ranges of a work arena; steps that change text
 * (Metaspace, ByteLevel's prefix space) append the new text to the arena. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_impl.h"

struct match {
    size_t s, e;
    int m;
};

struct matches {
    struct match *v;
    size_t n, cap;
};

static int push_match(struct matches *ms, size_t s, size_t e, int m)
{
    if (ms->n == ms->cap) {
        size_t cap = ms->cap ? ms->cap * 2 : 64;
        struct match *v = realloc(ms->v, cap * sizeof *v);
        if (!v)
            return -1;
        ms->v = v;
        ms->cap = cap;
    }
    ms->v[ms->n++] = (struct match){s, e, m};
    return 0;
}

int tok_pieces_push(struct tok_pieces *p, size_t off, size_t len, size_t zero)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        struct tok_piece *v = realloc(p->v, cap * sizeof *v);
        if (!v)
            return -1;
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = (struct tok_piece){off, len, zero};
    return 0;
}

void tok_pieces_free(struct tok_pieces *p)
{
    free(p->v);
    memset(p, 0, sizeof *p);
}

/* Pattern::find_matches for a regex or literal: matches and the gaps between them. */
static int find_pattern(const struct tok_pat *pat, struct tok_match *m, const char *s, size_t n, int invert,
                        struct matches *out, struct mlxc_err *e)
{
    out->n = 0;
    if (n == 0)
        return push_match(out, 0, 0, invert) ? mlxc_errf(e, MLXC_ENOMEM, "out of memory") : 0;
    size_t prev = 0, pos = 0, ms, me;
    while (pos <= n) {
        int rc = tok_pat_find(pat, m, s, n, pos, &ms, &me, e);
        if (rc < 0)
            return rc;
        if (rc == 0)
            break;
        if ((prev != ms && push_match(out, prev, ms, invert)) || push_match(out, ms, me, !invert))
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        prev = me;
        if (me == ms) { /* an empty match: search again one character further */
            if (ms >= n)
                break;
            uint32_t cp;
            pos = ms + (size_t)tok_cp(s, n, ms, &cp);
        } else {
            pos = me;
        }
    }
    if (prev != n && push_match(out, prev, n, invert))
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    return 0;
}

enum pred { PRED_NUMERIC, PRED_PUNCT, PRED_WS, PRED_CHAR };

/* Pattern::find_matches for a character predicate: every matching character is a match of its own. */
static int find_pred(enum pred pred, const char *rc, size_t rc_len, const char *s, size_t n, struct matches *out,
                     struct mlxc_err *e)
{
    out->n = 0;
    if (n == 0)
        return push_match(out, 0, 0, 0) ? mlxc_errf(e, MLXC_ENOMEM, "out of memory") : 0;
    size_t last = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = (size_t)tok_cp(s, n, i, &cp);
        int hit;
        switch (pred) {
        case PRED_NUMERIC: hit = tok_is_numeric(cp); break;
        case PRED_PUNCT: hit = tok_is_punctuation(cp); break;
        case PRED_WS: hit = tok_is_whitespace(cp); break;
        default: hit = k == rc_len && memcmp(s + i, rc, k) == 0; break;
        }
        if (hit) {
            if ((last < i && push_match(out, last, i, 0)) || push_match(out, i, i + k, 1))
                return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
            last = i + k;
        }
        i += k;
    }
    if (last < n && push_match(out, last, n, 0))
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    return 0;
}

/* NormalizedString::split's behaviours; the surviving non-empty ranges become pieces. */
static int apply_behavior(struct matches *ms, enum tok_behavior beh, struct tok_piece in, struct tok_pieces *out)
{
    struct match *v = ms->v;
    size_t n = ms->n, k = 0;
    switch (beh) {
    case BEH_REMOVED: /* keep the non-matches */
        for (size_t i = 0; i < n; i++)
            if (!v[i].m)
                v[k++] = v[i];
        break;
    case BEH_ISOLATED:
        k = n;
        break;
    case BEH_CONTIGUOUS: /* merge neighbours with the same flag */
        for (size_t i = 0; i < n; i++) {
            if (k > 0 && v[k - 1].m == v[i].m)
                v[k - 1].e = v[i].e;
            else
                v[k++] = v[i];
        }
        break;
    case BEH_PREVIOUS: { /* a match joins the piece before it (not a second match in a row) */
        int prev = 0;
        for (size_t i = 0; i < n; i++) {
            int m = v[i].m;
            if (m && !prev && k > 0)
                v[k - 1].e = v[i].e;
            else
                v[k++] = v[i];
            prev = m;
        }
        break;
    }
    case BEH_NEXT: { /* a match joins the piece after it: the same, walking backwards */
        int prev = 0;
        size_t top = n; /* results are built from the end: v[top..n) */
        for (size_t i = n; i-- > 0;) {
            struct match cur = v[i];
            if (cur.m && !prev && top < n)
                v[top].s = cur.s;
            else
                v[--top] = cur;
            prev = cur.m;
        }
        memmove(v, v + top, (n - top) * sizeof *v);
        k = n - top;
        break;
    }
    }
    for (size_t i = 0; i < k; i++) {
        size_t len = v[i].e - v[i].s, zero = v[i].s < in.zero ? in.zero - v[i].s : 0;
        if (len > 0 && tok_pieces_push(out, in.off + v[i].s, len, zero < len ? zero : len))
            return -1;
    }
    return 0;
}

/* Metaspace: ' ' -> replacement, the prepend scheme, then split on the replacement (MergedWithNext). */
static int metaspace(const struct tok_pre *st, struct mlxc_buf *arena, struct tok_piece in, struct matches *ms,
                     struct tok_pieces *out, struct mlxc_err *e)
{
    size_t off = arena->len;
    const char *s = arena->data + in.off; /* stable until the arena grows: copy through a scratch */
    char *copy = malloc(in.len + 1);
    if (!copy)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    if (in.len)
        memcpy(copy, s, in.len);
    int starts = 0;
    size_t first_len = in.len > 0 && copy[0] == ' ' ? 1 : 0;
    if (first_len || (in.len >= st->repl_len && memcmp(copy, st->repl, st->repl_len) == 0))
        starts = 1;
    size_t zero = 0; /* the prepended character aligns with the first one */
    if (!starts && (st->prepend == PREPEND_ALWAYS || (st->prepend == PREPEND_FIRST && in.zero > 0))) {
        mlxc_buf_append(arena, st->repl, st->repl_len);
        zero = in.zero > 0 ? st->repl_len : 0;
    }
    for (size_t i = 0; i < in.len; i++) {
        size_t k = copy[i] == ' ' ? st->repl_len : 1;
        if (copy[i] == ' ')
            mlxc_buf_append(arena, st->repl, st->repl_len);
        else
            mlxc_buf_putc(arena, copy[i]);
        if (i < in.zero)
            zero += k;
    }
    free(copy);
    if (arena->oom)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    struct tok_piece np = {off, arena->len - off, zero};
    if (!st->split)
        return tok_pieces_push(out, np.off, np.len, np.zero) ? mlxc_errf(e, MLXC_ENOMEM, "out of memory") : 0;
    int rc = find_pred(PRED_CHAR, st->repl, st->repl_len, arena->data + np.off, np.len, ms, e);
    if (rc)
        return rc;
    return apply_behavior(ms, BEH_NEXT, np, out) ? mlxc_errf(e, MLXC_ENOMEM, "out of memory") : 0;
}

static int run_step(const struct tok_pre *st, struct tok_match *m, struct mlxc_buf *arena, struct tok_piece in,
                    struct matches *ms, struct tok_pieces *out, struct mlxc_err *e)
{
    int rc = 0;
    switch (st->type) {
    case PRE_SPLIT:
        rc = find_pattern(&st->pat, m, arena->data + in.off, in.len, st->invert, ms, e);
        if (!rc && apply_behavior(ms, st->behavior, in, out))
            rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        return rc;
    case PRE_BYTELEVEL:
        if (st->add_prefix_space && (in.len == 0 || arena->data[in.off] != ' ')) {
            size_t off = arena->len;
            mlxc_buf_putc(arena, ' ');
            mlxc_buf_reserve(arena, in.len);
            if (arena->oom)
                return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
            mlxc_buf_append(arena, arena->data + in.off, in.len); /* reserve made room: no realloc */
            in = (struct tok_piece){off, in.len + 1, in.zero ? in.zero + 1 : 0};
        }
        if (!st->use_regex)
            return tok_pieces_push(out, in.off, in.len, in.zero) ? mlxc_errf(e, MLXC_ENOMEM, "out of memory") : 0;
        rc = find_pattern(&st->pat, m, arena->data + in.off, in.len, 0, ms, e);
        if (!rc && apply_behavior(ms, BEH_ISOLATED, in, out))
            rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        return rc;
    case PRE_METASPACE:
        return metaspace(st, arena, in, ms, out, e);
    case PRE_DIGITS:
        rc = find_pred(PRED_NUMERIC, NULL, 0, arena->data + in.off, in.len, ms, e);
        if (!rc && apply_behavior(ms, st->individual ? BEH_ISOLATED : BEH_CONTIGUOUS, in, out))
            rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        return rc;
    case PRE_PUNCT:
        rc = find_pred(PRED_PUNCT, NULL, 0, arena->data + in.off, in.len, ms, e);
        if (!rc && apply_behavior(ms, st->behavior, in, out))
            rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        return rc;
    case PRE_WHITESPACE:
        rc = find_pattern(&st->pat, m, arena->data + in.off, in.len, 1, ms, e);
        if (!rc && apply_behavior(ms, BEH_REMOVED, in, out))
            rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        return rc;
    case PRE_WSSPLIT:
        rc = find_pred(PRED_WS, NULL, 0, arena->data + in.off, in.len, ms, e);
        if (!rc && apply_behavior(ms, BEH_REMOVED, in, out))
            rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        return rc;
    case PRE_BERT: { /* whitespace removed, then punctuation isolated */
        struct tok_pieces tmp = {0};
        rc = find_pred(PRED_WS, NULL, 0, arena->data + in.off, in.len, ms, e);
        if (!rc && apply_behavior(ms, BEH_REMOVED, in, &tmp))
            rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        for (size_t i = 0; !rc && i < tmp.n; i++) {
            rc = find_pred(PRED_PUNCT, NULL, 0, arena->data + tmp.v[i].off, tmp.v[i].len, ms, e);
            if (!rc && apply_behavior(ms, BEH_ISOLATED, tmp.v[i], out))
                rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        }
        tok_pieces_free(&tmp);
        return rc;
    }
    }
    return 0;
}

int tok_pretokenize(const struct mlxc_tokenizer *t, struct tok_match *m, struct mlxc_buf *arena,
                    struct tok_piece in, struct tok_pieces *out, struct mlxc_err *e)
{
    if (t->npre == 0 || (t->npre == 1 && t->pre[0].type == PRE_BYTELEVEL && !t->pre[0].add_prefix_space &&
                         !t->pre[0].use_regex))
        return in.len == 0 || tok_pieces_push(out, in.off, in.len, in.zero) == 0
                   ? 0 : mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    struct tok_pieces a = {0}, b = {0};
    struct matches ms = {0};
    int rc = tok_pieces_push(&a, in.off, in.len, in.zero) ? mlxc_errf(e, MLXC_ENOMEM, "out of memory") : 0;
    for (size_t s = 0; s < t->npre && rc == 0; s++) {
        b.n = 0;
        for (size_t i = 0; i < a.n && rc == 0; i++)
            rc = run_step(&t->pre[s], m, arena, a.v[i], &ms, &b, e);
        struct tok_pieces tmp = a;
        a = b;
        b = tmp;
    }
    for (size_t i = 0; i < a.n && rc == 0; i++)
        if (a.v[i].len > 0 && tok_pieces_push(out, a.v[i].off, a.v[i].len, a.v[i].zero))
            rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    tok_pieces_free(&a);
    tok_pieces_free(&b);
    free(ms.v);
    return rc;
}

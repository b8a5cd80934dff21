/* Added tokens (HF tokenizers/src/tokenizer/added_vocabulary.rs): leftmost-longest matching over a byte
 * trie (HF uses Aho-Corasick with MatchKind::LeftmostLongest), then single_word, lstrip and rstrip as
 * AddedVocabulary::find_matches applies them. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_impl.h"

static int32_t new_node(struct tok_trie *t, unsigned char byte)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        struct tok_trie_node *v = realloc(t->nodes, cap * sizeof *v);
        if (!v)
            return -1;
        t->nodes = v;
        t->cap = cap;
    }
    t->nodes[t->n] = (struct tok_trie_node){-1, -1, -1, byte};
    return (int32_t)t->n++;
}

static int32_t child(const struct tok_trie *t, int32_t node, unsigned char byte)
{
    for (int32_t c = t->nodes[node].child; c >= 0; c = t->nodes[c].sibling)
        if (t->nodes[c].byte == byte)
            return c;
    return -1;
}

int tok_trie_add(struct tok_trie *t, const char *s, size_t n, int32_t token)
{
    if (n == 0)
        return 0; /* HF ignores empty added tokens */
    if (t->n == 0 && new_node(t, 0) < 0)
        return -1;
    int32_t node = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        int32_t c = child(t, node, b);
        if (c < 0) {
            c = new_node(t, b);
            if (c < 0)
                return -1;
            t->nodes[c].sibling = t->nodes[node].child;
            t->nodes[node].child = c;
        }
        node = c;
    }
    if (t->nodes[node].token < 0)
        t->nodes[node].token = token; /* the first of duplicate patterns wins */
    t->first[(unsigned char)s[0]] = 1;
    return 0;
}

void tok_trie_free(struct tok_trie *t)
{
    free(t->nodes);
    memset(t, 0, sizeof *t);
}

/* Leftmost-longest match at or after pos: 1 with [*ms, *me) and the token, 0 when none. */
static int trie_find(const struct tok_trie *t, const char *s, size_t n, size_t pos, size_t *ms, size_t *me,
                     int32_t *token)
{
    if (t->n == 0)
        return 0;
    for (size_t i = pos; i < n; i++) {
        if (!t->first[(unsigned char)s[i]])
            continue;
        int32_t node = 0, best = -1;
        size_t best_end = 0;
        for (size_t j = i; j < n; j++) {
            node = child(t, node, (unsigned char)s[j]);
            if (node < 0)
                break;
            if (t->nodes[node].token >= 0) {
                best = t->nodes[node].token;
                best_end = j + 1;
            }
        }
        if (best >= 0) {
            *ms = i;
            *me = best_end;
            *token = best;
            return 1;
        }
    }
    return 0;
}

static int push_split(struct tok_split **out, size_t *nout, size_t *cap, size_t s, size_t e, int32_t added)
{
    if (*nout == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        struct tok_split *v = realloc(*out, c * sizeof *v);
        if (!v)
            return -1;
        *out = v;
        *cap = c;
    }
    (*out)[(*nout)++] = (struct tok_split){s, e, added};
    return 0;
}

int tok_added_split(const struct mlxc_tokenizer *t, const struct tok_trie *trie, const char *s, size_t n,
                    struct tok_split **out, size_t *nout, size_t *cap)
{
    *nout = 0;
    size_t start_offset = 0, pos = 0, ms, me;
    int32_t tk;
    while (pos < n && trie_find(trie, s, n, pos, &ms, &me, &tk)) {
        pos = me; /* the matcher goes on after the match, whatever the strips do */
        const struct tok_added *a = &t->added[tk];
        size_t start = ms, stop = me;
        uint32_t cp;
        if (a->single_word) {
            int start_space = 1, stop_space = 1;
            if (start > 0) {
                tok_cp(s, n, tok_prev_cp(s, start), &cp);
                start_space = !tok_is_word(cp);
            }
            if (stop < n) {
                tok_cp(s, n, stop, &cp);
                stop_space = !tok_is_word(cp);
            }
            if (!start_space || !stop_space)
                continue;
        }
        if (a->lstrip) {
            size_t ns = start;
            while (ns > 0) {
                size_t p = tok_prev_cp(s, ns);
                tok_cp(s, n, p, &cp);
                if (!tok_is_whitespace(cp))
                    break;
                ns = p;
            }
            start = ns > start_offset ? ns : start_offset;
        }
        if (a->rstrip)
            while (stop < n) {
                int k = tok_cp(s, n, stop, &cp);
                if (!tok_is_whitespace(cp))
                    break;
                stop += (size_t)k;
            }
        if (start_offset < start && push_split(out, nout, cap, start_offset, start, -1))
            return -1;
        if (push_split(out, nout, cap, start, stop, tk))
            return -1;
        start_offset = stop;
    }
    if (start_offset < n && push_split(out, nout, cap, start_offset, n, -1))
        return -1;
    return 0;
}

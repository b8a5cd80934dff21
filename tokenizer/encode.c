/* Encoding, in the order HF TokenizerImpl::encode_single_sequence runs it:
 *   1. split the input around added tokens whose normalized flag is false (matched on the raw text);
 *   2. normalize each other piece, then split it around the normalized added tokens;
 *   3. pre-tokenize each remaining piece into words;
 *   4. BPE each word;
 *   5. post-process: the special tokens around the sequence when add_special is set. */
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "tokenizer/tok_impl.h"

struct encoder {
    const struct mlxc_tokenizer *t;
    struct tok_match m;
    struct tok_bpe_work w;
    struct mlxc_buf arena;
    struct tok_pieces words;
    struct tok_split *s2;
    size_t ns2, cap2;
    int32_t *ids;
    size_t n, cap;
};

static int push_ids(struct encoder *c, const int32_t *ids, size_t n)
{
    if (n == 0)
        return 0;
    if (c->n + n > c->cap) {
        size_t cap = c->cap ? c->cap : 256;
        while (cap < c->n + n)
            cap *= 2;
        int32_t *v = realloc(c->ids, cap * sizeof *v);
        if (!v)
            return -1;
        c->ids = v;
        c->cap = cap;
    }
    memcpy(c->ids + c->n, ids, n * sizeof *ids);
    c->n += n;
    return 0;
}

/* Steps 2 to 4 for one piece of the input that is not an added token. */
static int encode_piece(struct encoder *c, const char *s, size_t n, int first, struct mlxc_err *e)
{
    const struct mlxc_tokenizer *t = c->t;
    int rc;
    uint32_t cp;
    size_t zero = first && n ? (size_t)tok_cp(s, n, 0, &cp) : 0;
    mlxc_buf_reset(&c->arena);
    if (t->nnorm) {
        rc = tok_normalize(t->norm, t->nnorm, &c->m, s, n, &c->arena, &zero, e);
        if (rc)
            return rc;
    } else {
        mlxc_buf_append(&c->arena, s, n);
    }
    if (c->arena.oom)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    size_t len = c->arena.len;
    if (t->trie_norm.n) {
        if (tok_added_split(t, &t->trie_norm, c->arena.data, len, &c->s2, &c->ns2, &c->cap2))
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    } else {
        c->ns2 = 0;
        if (len > 0) {
            if (!c->cap2 && !(c->s2 = malloc(sizeof *c->s2)))
                return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
            c->cap2 = c->cap2 ? c->cap2 : 1;
            c->s2[0] = (struct tok_split){0, len, -1};
            c->ns2 = 1;
        }
    }
    for (size_t i = 0; i < c->ns2; i++) {
        struct tok_split sp = c->s2[i];
        if (sp.added >= 0) {
            if (push_ids(c, &t->added[sp.added].id, 1))
                return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
            continue;
        }
        c->words.n = 0;
        size_t z = sp.start < zero ? zero - sp.start : 0;
        struct tok_piece piece = {sp.start, sp.end - sp.start, z < sp.end - sp.start ? z : sp.end - sp.start};
        rc = tok_pretokenize(t, &c->m, &c->arena, piece, &c->words, e);
        if (rc)
            return rc;
        for (size_t k = 0; k < c->words.n; k++) {
            rc = tok_bpe_word(&t->bpe, &c->w, c->arena.data + c->words.v[k].off, c->words.v[k].len, &c->ids,
                              &c->n, &c->cap, e);
            if (rc)
                return rc;
        }
    }
    return 0;
}

int mlxc_tok_encode(const struct mlxc_tokenizer *t, const char *text, size_t len, int add_special,
                    int32_t **ids, size_t *n, struct mlxc_err *e)
{
    *ids = NULL;
    *n = 0;
    if (!text && len)
        return mlxc_errf(e, MLXC_EINVAL, "no input text");
    size_t valid = mlxc_utf8_valid_prefix(text, len);
    if (valid != len)
        return mlxc_errf(e, MLXC_EINVAL, "input is not valid UTF-8 at byte %zu", valid);
    struct encoder c = {.t = t};
    struct tok_split *s1 = NULL;
    size_t ns1 = 0, cap1 = 0;
    int rc = tok_match_init(&c.m, e);
    if (rc)
        return rc;
    if (add_special && push_ids(&c, t->post_pre, t->npost_pre))
        rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    if (!rc && tok_added_split(t, &t->trie_raw, text, len, &s1, &ns1, &cap1))
        rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    for (size_t i = 0; i < ns1 && !rc; i++) {
        if (s1[i].added >= 0) {
            if (push_ids(&c, &t->added[s1[i].added].id, 1))
                rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
            continue;
        }
        rc = encode_piece(&c, text + s1[i].start, s1[i].end - s1[i].start, s1[i].start == 0, e);
    }
    if (!rc && add_special && push_ids(&c, t->post_post, t->npost_post))
        rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    free(s1);
    free(c.s2);
    tok_pieces_free(&c.words);
    mlxc_buf_free(&c.arena);
    tok_bpe_work_free(&c.w);
    tok_match_free(&c.m);
    if (rc) {
        free(c.ids);
        return rc;
    }
    *ids = c.ids;
    *n = c.n;
    return 0;
}

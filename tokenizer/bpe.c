/* The BPE model (HF tokenizers/src/models/bpe/model.rs and word.rs).
 *
 * A word starts as one symbol per character (per byte for byte-level vocabularies, see tok_impl.h),
 * looked up in the vocabulary, with byte_fallback ("<0xHH>") and the unk token (fused or not) for
 * characters that are missing. Merges are then applied by rank with a binary heap, as Word::merge_all
 * does: pop the lowest (rank, position); skip it when stale (its left symbol was merged away, or the
 * pair at that position is no longer the one queued); merge; queue the pairs the new symbol forms with
 * its neighbours. O(n log n) for a word of n symbols, so a 10 MB word with no spaces stays linear-ish.
 * Words already seen in one call come from a cache (words under 256 bytes). */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_impl.h"

struct tok_heap_item {
    int32_t rank, pos, id;
};

struct tok_cache_slot {
    uint64_t hash; /* 0 = empty */
    uint32_t key_off, key_len, ids_off, ids_n;
};

#define CACHE_MAX_WORD 256

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, s + i, 8);
        h = (h ^ v) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    uint64_t v = 0;
    memcpy(&v, s + i, n - i);
    h = (h ^ v) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    return h ? h : 1;
}

static size_t merge_slot(uint64_t key, size_t cap)
{
    uint64_t h = key * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 20) & (cap - 1);
}

static int merge_grow(struct tok_bpe *b)
{
    size_t cap = b->merge_cap ? b->merge_cap * 2 : 1024;
    struct tok_merge_slot *v = malloc(cap * sizeof *v);
    if (!v)
        return -1;
    for (size_t i = 0; i < cap; i++)
        v[i].key = UINT64_MAX;
    for (size_t i = 0; i < b->merge_cap; i++) {
        if (b->merges[i].key == UINT64_MAX)
            continue;
        size_t j = merge_slot(b->merges[i].key, cap);
        while (v[j].key != UINT64_MAX)
            j = (j + 1) & (cap - 1);
        v[j] = b->merges[i];
    }
    free(b->merges);
    b->merges = v;
    b->merge_cap = cap;
    return 0;
}

/* Ranks are put in increasing order, so rank + 1 bounds the entry count: the table stays at most half full. */
int tok_bpe_merge_put(struct tok_bpe *b, int32_t left, int32_t right, int32_t rank, int32_t id)
{
    if (b->merge_cap == 0 || (size_t)rank * 2 + 2 > b->merge_cap)
        if (merge_grow(b))
            return -1;
    uint64_t key = ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
    size_t j = merge_slot(key, b->merge_cap);
    while (b->merges[j].key != UINT64_MAX && b->merges[j].key != key)
        j = (j + 1) & (b->merge_cap - 1);
    b->merges[j] = (struct tok_merge_slot){key, rank, id}; /* a later duplicate wins, as in HF's HashMap */
    return 0;
}

static const struct tok_merge_slot *merge_get(const struct tok_bpe *b, int32_t left, int32_t right)
{
    if (!b->merge_cap)
        return NULL;
    uint64_t key = ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
    size_t j = merge_slot(key, b->merge_cap);
    for (;;) {
        const struct tok_merge_slot *s = &b->merges[j];
        if (s->key == key)
            return s;
        if (s->key == UINT64_MAX)
            return NULL;
        j = (j + 1) & (b->merge_cap - 1);
    }
}

void tok_bpe_free(struct tok_bpe *b)
{
    mlxc_strmap_free(&b->vocab);
    free(b->merges);
    free(b->prefix);
    free(b->suffix);
    memset(b, 0, sizeof *b);
}

void tok_bpe_work_free(struct tok_bpe_work *w)
{
    free(w->sym_id);
    free(w->sym_prev);
    free(w->sym_next);
    free(w->heap);
    free(w->slots);
    mlxc_buf_free(&w->keys);
    free(w->ids);
    memset(w, 0, sizeof *w);
}

/* ---- heap of merges: lowest rank first, then lowest position ---- */

static int heap_less(const struct tok_heap_item *a, const struct tok_heap_item *b)
{
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static int heap_push(struct tok_bpe_work *w, size_t *n, struct tok_heap_item it)
{
    if (*n == w->heap_cap) {
        size_t cap = w->heap_cap ? w->heap_cap * 2 : 256;
        struct tok_heap_item *v = realloc(w->heap, cap * sizeof *v);
        if (!v)
            return -1;
        w->heap = v;
        w->heap_cap = cap;
    }
    struct tok_heap_item *h = w->heap;
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_less(&it, &h[p]))
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = it;
    return 0;
}

static struct tok_heap_item heap_pop(struct tok_bpe_work *w, size_t *n)
{
    struct tok_heap_item *h = w->heap, top = h[0], last = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && heap_less(&h[c + 1], &h[c]))
            c++;
        if (!heap_less(&h[c], &last))
            break;
        h[i] = h[c];
        i = c;
    }
    if (*n > 0)
        h[i] = last;
    return top;
}

/* ---- the word ---- */

static int sym_reserve(struct tok_bpe_work *w, size_t n)
{
    if (n <= w->sym_cap)
        return 0;
    size_t cap = w->sym_cap ? w->sym_cap : 64;
    while (cap < n)
        cap *= 2;
    int32_t *a = realloc(w->sym_id, cap * sizeof *a);
    if (a)
        w->sym_id = a;
    int32_t *b = realloc(w->sym_prev, cap * sizeof *b);
    if (b)
        w->sym_prev = b;
    int32_t *c = realloc(w->sym_next, cap * sizeof *c);
    if (c)
        w->sym_next = c;
    if (!a || !b || !c)
        return -1;
    w->sym_cap = cap;
    return 0;
}

static int vocab_get(const struct tok_bpe *b, const char *s, size_t n, int32_t *id)
{
    int64_t v;
    if (!mlxc_strmap_get(&b->vocab, s, n, &v))
        return 0;
    *id = (int32_t)v;
    return 1;
}

/* Looks up one initial symbol: the character s[0..n), with the prefix when not first and the suffix when
 * last. Returns 1 and the id, or 0 (key receives the looked-up string for byte fallback). */
static int symbol_id(const struct tok_bpe *b, const char *s, size_t n, int first, int last, struct mlxc_buf *key,
                     int32_t *id)
{
    if (!b->prefix && !b->suffix) {
        if (b->byte_level && n == 1) {
            *id = b->byte_id[(unsigned char)s[0]];
            if (*id >= 0)
                return 1;
        }
        mlxc_buf_reset(key);
        mlxc_buf_append(key, s, n);
        return vocab_get(b, s, n, id);
    }
    mlxc_buf_reset(key);
    if (!first && b->prefix)
        mlxc_buf_append(key, b->prefix, b->prefix_len);
    mlxc_buf_append(key, s, n);
    if (last && b->suffix)
        mlxc_buf_append(key, b->suffix, b->suffix_len);
    return key->oom ? 0 : vocab_get(b, key->data, key->len, id);
}

/* BPE::merge_word followed by Word::merge_all; appends the ids to w->ids. */
static int merge_word(const struct tok_bpe *b, struct tok_bpe_work *w, const char *s, size_t n,
                      struct mlxc_err *e)
{
    if (sym_reserve(w, n + 1))
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    struct mlxc_buf key = MLXC_BUF_INIT;
    size_t ns = 0;
    int32_t unk_pending = 0; /* 1 when an unk symbol waits to be added (fuse_unk) */
#define ADD_SYM(ID)                                                                                        \
    do {                                                                                                    \
        if (sym_reserve(w, ns + 1)) {                                                                       \
            mlxc_buf_free(&key);                                                                            \
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory");                                              \
        }                                                                                                   \
        w->sym_id[ns] = (ID);                                                                               \
        ns++;                                                                                               \
    } while (0)
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = b->byte_level ? 1 : (size_t)tok_cp(s, n, i, &cp);
        int32_t id;
        if (symbol_id(b, s + i, k, i == 0, i + k == n, &key, &id)) {
            if (unk_pending) {
                ADD_SYM(b->unk_id);
                unk_pending = 0;
            }
            ADD_SYM(id);
        } else {
            int done = 0;
            if (b->byte_fallback && !key.oom) {
                done = 1;
                for (size_t j = 0; j < key.len; j++)
                    if (b->fallback_id[(unsigned char)key.data[j]] < 0)
                        done = 0;
                if (done)
                    for (size_t j = 0; j < key.len; j++)
                        ADD_SYM(b->fallback_id[(unsigned char)key.data[j]]);
            }
            if (!done && b->unk_id >= 0) {
                if (unk_pending && !b->fuse_unk)
                    ADD_SYM(b->unk_id);
                unk_pending = 1;
            }
        }
        i += k;
    }
    if (unk_pending)
        ADD_SYM(b->unk_id);
#undef ADD_SYM
    mlxc_buf_free(&key);
    if (ns == 0)
        return 0;
    for (size_t i = 0; i < ns; i++) {
        w->sym_prev[i] = (int32_t)i - 1;
        w->sym_next[i] = i + 1 < ns ? (int32_t)i + 1 : -1;
    }
    size_t nh = 0;
    for (size_t i = 0; i + 1 < ns; i++) {
        const struct tok_merge_slot *m = merge_get(b, w->sym_id[i], w->sym_id[i + 1]);
        if (m && heap_push(w, &nh, (struct tok_heap_item){m->rank, (int32_t)i, m->id}))
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    }
    int32_t *id = w->sym_id, *prev = w->sym_prev, *next = w->sym_next;
    while (nh > 0) {
        struct tok_heap_item top = heap_pop(w, &nh);
        int32_t p = top.pos;
        if (id[p] < 0 || next[p] < 0)
            continue;
        int32_t q = next[p];
        const struct tok_merge_slot *m = merge_get(b, id[p], id[q]);
        if (!m || m->id != top.id)
            continue;
        id[p] = top.id;
        id[q] = -1;
        next[p] = next[q];
        if (next[q] >= 0)
            prev[next[q]] = p;
        if (prev[p] >= 0) {
            const struct tok_merge_slot *l = merge_get(b, id[prev[p]], id[p]);
            if (l && heap_push(w, &nh, (struct tok_heap_item){l->rank, prev[p], l->id}))
                return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        }
        if (next[p] >= 0) {
            const struct tok_merge_slot *r = merge_get(b, id[p], id[next[p]]);
            if (r && heap_push(w, &nh, (struct tok_heap_item){r->rank, p, r->id}))
                return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        }
    }
    size_t count = 0;
    for (int32_t i = 0; i >= 0; i = next[i])
        count++;
    if (w->nids + count > w->ids_cap) {
        size_t cap = w->ids_cap ? w->ids_cap : 1024;
        while (cap < w->nids + count)
            cap *= 2;
        int32_t *v = realloc(w->ids, cap * sizeof *v);
        if (!v)
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        w->ids = v;
        w->ids_cap = cap;
    }
    for (int32_t i = 0; i >= 0; i = next[i])
        w->ids[w->nids++] = id[i];
    return 0;
}

static int append_ids(int32_t **out, size_t *nout, size_t *cap, const int32_t *ids, size_t n)
{
    if (n == 0)
        return 0;
    if (*nout + n > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < *nout + n)
            c *= 2;
        int32_t *v = realloc(*out, c * sizeof *v);
        if (!v)
            return -1;
        *out = v;
        *cap = c;
    }
    memcpy(*out + *nout, ids, n * sizeof *ids);
    *nout += n;
    return 0;
}

static int cache_grow(struct tok_bpe_work *w)
{
    size_t cap = w->cache_cap ? w->cache_cap * 2 : 4096;
    struct tok_cache_slot *v = calloc(cap, sizeof *v);
    if (!v)
        return -1;
    for (size_t i = 0; i < w->cache_cap; i++) {
        if (!w->slots[i].hash)
            continue;
        size_t j = (size_t)w->slots[i].hash & (cap - 1);
        while (v[j].hash)
            j = (j + 1) & (cap - 1);
        v[j] = w->slots[i];
    }
    free(w->slots);
    w->slots = v;
    w->cache_cap = cap;
    return 0;
}

int tok_bpe_word(const struct tok_bpe *b, struct tok_bpe_work *w, const char *s, size_t n, int32_t **out,
                 size_t *nout, size_t *cap, struct mlxc_err *e)
{
    if (n == 0)
        return 0;
    int32_t id;
    if (b->ignore_merges && vocab_get(b, s, n, &id))
        return append_ids(out, nout, cap, &id, 1) ? mlxc_errf(e, MLXC_ENOMEM, "out of memory") : 0;
    if (n >= CACHE_MAX_WORD || n > UINT32_MAX) {
        size_t start = w->nids;
        int rc = merge_word(b, w, s, n, e);
        if (rc == 0 && append_ids(out, nout, cap, w->ids ? w->ids + start : NULL, w->nids - start))
            rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        w->nids = start;
        return rc;
    }
    if (w->cache_count * 2 >= w->cache_cap && cache_grow(w))
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    uint64_t h = hash_bytes(s, n);
    size_t j = (size_t)h & (w->cache_cap - 1);
    for (;;) {
        struct tok_cache_slot *sl = &w->slots[j];
        if (!sl->hash)
            break;
        if (sl->hash == h && sl->key_len == n && memcmp(w->keys.data + sl->key_off, s, n) == 0)
            return append_ids(out, nout, cap, w->ids ? w->ids + sl->ids_off : NULL, sl->ids_n)
                       ? mlxc_errf(e, MLXC_ENOMEM, "out of memory") : 0;
        j = (j + 1) & (w->cache_cap - 1);
    }
    size_t start = w->nids, key_off = w->keys.len;
    int rc = merge_word(b, w, s, n, e);
    if (rc)
        return rc;
    mlxc_buf_append(&w->keys, s, n);
    if (w->keys.oom || w->keys.len > UINT32_MAX || w->nids > UINT32_MAX)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    w->slots[j] = (struct tok_cache_slot){h, (uint32_t)key_off, (uint32_t)n, (uint32_t)start,
                                          (uint32_t)(w->nids - start)};
    w->cache_count++;
    return append_ids(out, nout, cap, w->ids ? w->ids + start : NULL, w->nids - start) ? mlxc_errf(e, MLXC_ENOMEM, "out of memory")
                                                                       : 0;
}

#include "core/strmap.h"

#include <stdlib.h>
#include <string.h>

uint64_t mlxc_hash_bytes(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

void mlxc_strmap_init(struct mlxc_strmap *m) { memset(m, 0, sizeof *m); }

void mlxc_strmap_free(struct mlxc_strmap *m)
{
    for (size_t i = 0; i < m->nblocks; i++)
        free(m->blocks[i]);
    free(m->blocks);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* Copies a key into block storage (keys are never freed one by one). */
static const char *store_key(struct mlxc_strmap *m, const char *key, size_t len)
{
    if (m->nblocks == 0 || m->block_used + len + 1 > m->block_cap) {
        size_t cap = len + 1 > 65536 ? len + 1 : 65536;
        char **nb = realloc(m->blocks, (m->nblocks + 1) * sizeof *nb);
        if (!nb)
            return NULL;
        m->blocks = nb;
        m->blocks[m->nblocks] = malloc(cap);
        if (!m->blocks[m->nblocks])
            return NULL;
        m->nblocks++;
        m->block_used = 0;
        m->block_cap = cap;
    }
    char *dst = m->blocks[m->nblocks - 1] + m->block_used;
    memcpy(dst, key, len);
    dst[len] = '\0';
    m->block_used += len + 1;
    return dst;
}

static struct mlxc_strmap_slot *find_slot(struct mlxc_strmap_slot *slots, size_t cap, const char *key,
                                          size_t len)
{
    size_t i = (size_t)mlxc_hash_bytes(key, len) & (cap - 1);
    for (;;) {
        struct mlxc_strmap_slot *s = &slots[i];
        if (!s->key || (s->len == len && memcmp(s->key, key, len) == 0))
            return s;
        i = (i + 1) & (cap - 1);
    }
}

static int grow(struct mlxc_strmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    struct mlxc_strmap_slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key)
            *find_slot(slots, cap, m->slots[i].key, m->slots[i].len) = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return 0;
}

int mlxc_strmap_put(struct mlxc_strmap *m, const char *key, size_t len, int64_t value)
{
    if ((m->count + 1) * 4 > m->cap * 3 && grow(m) != 0)
        return -1;
    struct mlxc_strmap_slot *s = find_slot(m->slots, m->cap, key, len);
    if (s->key) {
        s->value = value;
        return 0;
    }
    const char *k = store_key(m, key, len);
    if (!k)
        return -1;
    s->key = k;
    s->len = len;
    s->value = value;
    m->count++;
    return 1;
}

int mlxc_strmap_get(const struct mlxc_strmap *m, const char *key, size_t len, int64_t *value)
{
    if (m->cap == 0)
        return 0;
    const struct mlxc_strmap_slot *s = find_slot(m->slots, m->cap, key, len);
    if (!s->key)
        return 0;
    if (value)
        *value = s->value;
    return 1;
}

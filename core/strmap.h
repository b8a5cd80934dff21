/* A string -> int64 hash map (open addressing, FNV-1a). Keys are copied into the map's own storage and
 * may contain NUL bytes (lengths are explicit). Used for vocabularies, tensor names and the like. */
#ifndef MLXC_STRMAP_H
#define MLXC_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct mlxc_strmap_slot {
    const char *key; /* NULL = empty */
    size_t len;
    int64_t value;
};

struct mlxc_strmap {
    struct mlxc_strmap_slot *slots;
    size_t cap;   /* power of two */
    size_t count;
    char **blocks; /* key storage, freed with the map */
    size_t nblocks, block_used, block_cap;
};

void mlxc_strmap_init(struct mlxc_strmap *m);
void mlxc_strmap_free(struct mlxc_strmap *m);

/* Inserts or replaces. Returns 1 if the key was new, 0 if it replaced a value, -1 on OOM. */
int mlxc_strmap_put(struct mlxc_strmap *m, const char *key, size_t len, int64_t value);

/* Returns 1 and stores the value if found, 0 otherwise. */
int mlxc_strmap_get(const struct mlxc_strmap *m, const char *key, size_t len, int64_t *value);

uint64_t mlxc_hash_bytes(const void *p, size_t n);

#endif

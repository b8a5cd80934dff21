#include "core/random.h"

#include <math.h>
#include <time.h>

static inline uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

void mlxc_threefry2x32(const uint32_t key[2], const uint32_t ctr[2], uint32_t out[2])
{
    static const int rot[8] = {13, 15, 26, 6, 17, 29, 16, 24};
    const uint32_t ks[3] = {key[0], key[1], key[0] ^ key[1] ^ 0x1BD11BDAu};
    uint32_t x0 = ctr[0] + ks[0], x1 = ctr[1] + ks[1];
    for (int r = 0; r < 20; r++) {
        x0 += x1;
        x1 = rotl32(x1, rot[r % 8]);
        x1 ^= x0;
        if (r % 4 == 3) { /* key injection after every 4 rounds */
            uint32_t i = (uint32_t)(r / 4);
            x0 += ks[(i + 1) % 3];
            x1 += ks[(i + 2) % 3] + i + 1;
        }
    }
    out[0] = x0;
    out[1] = x1;
}

void mlxc_rng_seed(struct mlxc_rng *r, uint64_t seed)
{
    r->key[0] = (uint32_t)(seed >> 32);
    r->key[1] = (uint32_t)(seed & 0xffffffffu);
}

void mlxc_rng_seed_time(struct mlxc_rng *r)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    mlxc_rng_seed(r, (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

/* split: 4 words from counters (0, 2) and (1, 3); words (0, 1) are the next key, (2, 3) the subkey. */
static void split(struct mlxc_rng *r, uint32_t sub[2])
{
    uint32_t a[2], b[2];
    mlxc_threefry2x32(r->key, (const uint32_t[2]){0, 2}, a);
    mlxc_threefry2x32(r->key, (const uint32_t[2]){1, 3}, b);
    r->key[0] = a[0];
    r->key[1] = b[0];
    sub[0] = a[1];
    sub[1] = b[1];
}

float mlxc_rng_uniform(struct mlxc_rng *r)
{
    uint32_t sub[2], out[2];
    split(r, sub);
    mlxc_threefry2x32(sub, (const uint32_t[2]){0, 0}, out); /* one word: counter (0, 0), first output */
    float u = (float)out[0] / 4294967296.0f;
    float below_one = nextafterf(1.0f, 0.0f);
    return u < below_one ? u : below_one;
}

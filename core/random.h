/* MLX's random number generator, so seeded runs draw the same numbers as mlx_lm
 * (mlx random.cpp, backend/cpu/threefry.cpp; facts §4):
 *   seed(s): key = (s >> 32, s & 0xffffffff)
 *   every draw first splits the key: (next_key, subkey) = random_bits(key, 2x2 words), key = next_key
 *   bits: Threefry-2x32, 20 rounds, counter layout of RandomBits::eval_cpu
 *   uniform = min(float32(bits) / 2^32, nextafter(1, 0)) */
#ifndef MLXC_RANDOM_H
#define MLXC_RANDOM_H

#include <stdint.h>

struct mlxc_rng {
    uint32_t key[2];
};

/* Threefry-2x32 with 20 rounds: (x0, x1) = hash(key, counter). */
void mlxc_threefry2x32(const uint32_t key[2], const uint32_t ctr[2], uint32_t out[2]);

void mlxc_rng_seed(struct mlxc_rng *r, uint64_t seed);
/* Seeds from the wall clock in milliseconds (as MLX does when no seed is given). */
void mlxc_rng_seed_time(struct mlxc_rng *r);

/* One uniform float in [0, 1): a key split, then one word of bits. */
float mlxc_rng_uniform(struct mlxc_rng *r);

#endif

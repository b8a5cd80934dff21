/* Measures this machine: how fast it streams memory into the cores (the bound for memory-bound decode)
 * and how fast the cores multiply-add (the yardstick for compute-bound prefill). */
#ifndef MLXC_MEMBW_H
#define MLXC_MEMBW_H

#include <stddef.h>

#include "core/pool.h"

/* Reads a buffer much larger than the caches with every thread of the pool (each its own slice), best
 * of a few runs. Returns bytes per second, or 0 if the buffer cannot be allocated. */
double mlxc_measure_read_bandwidth(struct mlxc_pool *pool, size_t nbytes);

/* f32 multiply-adds with every thread of the pool at once (the kernels' fma_probe), best of a few runs
 * of about 30 ms. Returns FLOP per second (a multiply-add is 2). */
double mlxc_measure_fma_flops(struct mlxc_pool *pool);

#endif

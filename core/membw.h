/* Measures how fast this machine streams memory into the cores: the bound for memory-bound decode. */
#ifndef MLXC_MEMBW_H
#define MLXC_MEMBW_H

#include <stddef.h>

#include "core/pool.h"

/* Reads a buffer much larger than the caches with every thread of the pool (each its own slice), best
 * of a few runs. Returns bytes per second, or 0 if the buffer cannot be allocated. */
double mlxc_measure_read_bandwidth(struct mlxc_pool *pool, size_t nbytes);

#endif

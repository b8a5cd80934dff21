/* A fixed pool of worker threads for data-parallel kernels. The caller takes part as thread 0, so a
 * pool of N threads starts N-1 workers. Workers spin briefly between jobs (decode issues hundreds of
 * small jobs per token), then sleep. */
#ifndef MLXC_POOL_H
#define MLXC_POOL_H

#include <stdatomic.h>
#include <stdint.h>

struct mlxc_pool;

/* nthreads <= 0: mlxc_threads_default(). Returns NULL on failure. */
struct mlxc_pool *mlxc_pool_create(int nthreads);
void mlxc_pool_free(struct mlxc_pool *p);
int mlxc_pool_size(const struct mlxc_pool *p);

/* Runs fn(ctx, tid, nthreads) once on each thread (tid 0 is the caller) and returns when all are done.
 * A NULL pool runs fn(ctx, 0, 1). */
void mlxc_pool_run(struct mlxc_pool *p, void (*fn)(void *ctx, int tid, int nthreads), void *ctx);

/* Inside a job: returns once all nth threads of the job have called it with the same counter, which
 * starts at 0 and serves one barrier. Spins a while, then yields the CPU while it waits. */
void mlxc_pool_barrier(_Atomic int *arrived, int nth);

/* $MLXC_THREADS if set to a positive number, else the CPUs this process may run on (its affinity mask:
 * taskset, container cpusets), else the number of online CPUs. */
int mlxc_threads_default(void);

/* The slice [*begin, *end) of n items that thread tid of nth gets, in multiples of `align` items. */
void mlxc_split_range(int64_t n, int tid, int nth, int64_t align, int64_t *begin, int64_t *end);

#endif

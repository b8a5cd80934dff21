#include "core/pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

#define SPIN_ROUNDS 20000 /* pauses before a worker goes to sleep (roughly 0.1-1 ms) */
#define WAIT_SPINS 2000   /* pauses before the caller waiting for the workers starts yielding */

struct worker {
    struct mlxc_pool *pool;
    int tid;
    pthread_t thread;
};

struct mlxc_pool {
    int n;                       /* threads including the caller */
    struct worker *workers;      /* n - 1 */
    void (*fn)(void *, int, int);
    void *ctx;
    _Atomic uint64_t generation; /* bumped once per job */
    _Atomic int pending;         /* workers still running the current job */
    _Atomic int stop;
    pthread_mutex_t mu;
    pthread_cond_t wake;
};

/* One round of waiting: spin a while, then give the CPU away (on a busy machine the thread waited for
 * may need it). */
static void relax(int spins)
{
    if (spins < WAIT_SPINS)
        CPU_RELAX();
    else
        sched_yield();
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct mlxc_pool *p = w->pool;
    uint64_t seen = 0;
    for (;;) {
        uint64_t g;
        int spins = 0;
        while ((g = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen &&
               !atomic_load(&p->stop)) {
            if (++spins < SPIN_ROUNDS) {
                CPU_RELAX();
                continue;
            }
            pthread_mutex_lock(&p->mu);
            while (atomic_load(&p->generation) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->wake, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop))
            return NULL;
        seen = g;
        p->fn(p->ctx, w->tid, p->n);
        atomic_fetch_sub_explicit(&p->pending, 1, memory_order_release);
    }
}

int mlxc_threads_default(void)
{
    const char *env = getenv("MLXC_THREADS");
    if (env && atoi(env) > 0)
        return atoi(env);
    /* the CPUs this process may run on (taskset, container cpusets), not all the machine has: more
     * threads than CPUs take turns and every product waits for the slowest */
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

struct mlxc_pool *mlxc_pool_create(int nthreads)
{
    if (nthreads <= 0)
        nthreads = mlxc_threads_default();
    if (nthreads > 256)
        nthreads = 256;
    struct mlxc_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->n = nthreads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    p->workers = calloc((size_t)nthreads, sizeof *p->workers);
    if (!p->workers) {
        free(p);
        return NULL;
    }
    for (int i = 1; i < nthreads; i++) {
        p->workers[i - 1] = (struct worker){.pool = p, .tid = i};
        if (pthread_create(&p->workers[i - 1].thread, NULL, worker_main, &p->workers[i - 1]) != 0) {
            p->n = i; /* run with the threads we got */
            break;
        }
    }
    return p;
}

void mlxc_pool_free(struct mlxc_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++)
        pthread_join(p->workers[i - 1].thread, NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    free(p->workers);
    free(p);
}

int mlxc_pool_size(const struct mlxc_pool *p) { return p ? p->n : 1; }

void mlxc_pool_run(struct mlxc_pool *p, void (*fn)(void *ctx, int tid, int nthreads), void *ctx)
{
    if (!p || p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->pending, p->n - 1, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0, p->n);
    for (int spins = 0; atomic_load_explicit(&p->pending, memory_order_acquire) > 0; spins++)
        relax(spins);
}

void mlxc_pool_barrier(_Atomic int *arrived, int nth)
{
    atomic_fetch_add_explicit(arrived, 1, memory_order_acq_rel);
    for (int spins = 0; atomic_load_explicit(arrived, memory_order_acquire) < nth; spins++)
        relax(spins);
}

void mlxc_split_range(int64_t n, int tid, int nth, int64_t align, int64_t *begin, int64_t *end)
{
    if (align < 1)
        align = 1;
    int64_t blocks = (n + align - 1) / align;
    int64_t b0 = blocks * tid / nth, b1 = blocks * (tid + 1) / nth;
    *begin = b0 * align < n ? b0 * align : n;
    *end = b1 * align < n ? b1 * align : n;
}

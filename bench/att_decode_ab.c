/* Decode attention in one pass (the kernel table's att_decode) against the same partials in two passes
 * (mlxc_att_decode_two_pass: every score of a chunk, then max and exp, then the values), in one process.
 *
 *   att_decode_ab ROWS [THREADS] [REPEATS]
 *
 * A bf16 cache of ROWS slot-major rows (8 kv heads x 64 dims, keys and values apart; Llama-3.2-1B's decode)
 * is cut into chunks of 256 rows as core/attention.c cuts it, and the threads take the chunks in turn
 * (32 queries, 4 per kv head). Each timed sweep goes over all chunks REPEATS times, one way or the other,
 * the two ways alternating for 20 sweeps each, so that both figures come from the same minutes of a noisy
 * machine. ROWS = 262,144 (2 x 256 MB) reads from memory even past a 300 MB last-level cache; ROWS = 256
 * with REPEATS = 200 keeps the rows in L2 and times the arithmetic. Prints the best and median sweep of each
 * way, and per (row, kv head). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/half.h"
#include "core/kernels.h"
#include "core/random.h"
#include "core/sys.h"

enum { HD = 64, NKV = 8, GROUP = 4, NQ = NKV * GROUP, CHUNK = 256, SWEEPS = 20 };

struct ab {
    const uint16_t *k, *v;
    const float *q;
    int64_t chunks, repeats;
    int threads;
    _Atomic int64_t next;
    pthread_barrier_t bar;
    double secs[2][SWEEPS];
};

/* One thread: 2 x SWEEPS sweeps, the way alternating (0: two passes, 1: one pass). */
static void *worker(void *arg)
{
    struct ab *a = arg;
    const struct mlxc_kernels *k = mlxc_kernels();
    static _Thread_local float scratch[NQ * CHUNK], m[NQ], l[NQ], out[NQ * HD];
    for (int sweep = 0; sweep < 2 * SWEEPS; sweep++) {
        const int way = sweep % 2;
        pthread_barrier_wait(&a->bar);
        const double t0 = mlxc_now();
        for (int64_t c; (c = atomic_fetch_add(&a->next, 1)) < a->chunks * a->repeats;) {
            const int64_t off = c % a->chunks * CHUNK * NKV * HD;
            if (way)
                k->att_decode(a->k + off, a->v + off, MLXC_BF16, NKV * HD, CHUNK, a->q, NQ, GROUP, HD, 0.125f, 0.0f,
                              scratch, m, l, out);
            else
                mlxc_att_decode_two_pass(k, a->k + off, a->v + off, MLXC_BF16, NKV * HD, CHUNK, a->q, NQ, GROUP, HD,
                                         0.125f, 0.0f, scratch, m, l, out);
        }
        if (pthread_barrier_wait(&a->bar) == PTHREAD_BARRIER_SERIAL_THREAD) {
            a->secs[way][sweep / 2] = mlxc_now() - t0;
            atomic_store(&a->next, 0);
        }
        pthread_barrier_wait(&a->bar);
    }
    return NULL;
}

static int by_value(const void *x, const void *y)
{
    const double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

int main(int argc, char **argv)
{
    const int64_t rows = argc > 1 ? atoll(argv[1]) / CHUNK * CHUNK : 0;
    struct ab a = {.threads = argc > 2 ? atoi(argv[2]) : 1, .repeats = argc > 3 ? atoll(argv[3]) : 1};
    if (rows < CHUNK || a.threads < 1 || a.threads > 64 || a.repeats < 1) {
        fprintf(stderr, "usage: att_decode_ab ROWS (>= %d) [THREADS] [REPEATS]\n", CHUNK);
        return 2;
    }
    const int64_t elems = rows * NKV * HD;
    uint16_t *kv = malloc(sizeof *kv * (size_t)(2 * elems));
    float *q = malloc(sizeof *q * NQ * HD);
    pthread_t *th = malloc(sizeof *th * (size_t)a.threads);
    if (!kv || !q || !th) {
        fprintf(stderr, "att_decode_ab: out of memory\n");
        return 1;
    }
    struct mlxc_rng rng;
    mlxc_rng_seed(&rng, 1);
    for (int64_t i = 0; i < 2 * elems; i++)
        kv[i] = mlxc_f32_to_bf16(2.0f * mlxc_rng_uniform(&rng) - 1.0f);
    for (int i = 0; i < NQ * HD; i++)
        q[i] = 2.0f * mlxc_rng_uniform(&rng) - 1.0f;
    a.k = kv;
    a.v = kv + elems;
    a.q = q;
    a.chunks = rows / CHUNK;
    pthread_barrier_init(&a.bar, NULL, (unsigned)a.threads);
    for (int t = 0; t < a.threads; t++)
        pthread_create(&th[t], NULL, worker, &a);
    for (int t = 0; t < a.threads; t++)
        pthread_join(th[t], NULL);
    printf("%lld rows x %lld, %d threads, %s kernels:\n", (long long)rows, (long long)a.repeats, a.threads,
           mlxc_kernels()->isa);
    for (int way = 0; way < 2; way++) {
        qsort(a.secs[way], SWEEPS, sizeof(double), by_value);
        const double best = a.secs[way][0], median = a.secs[way][SWEEPS / 2], per = 1e9 / (double)(rows * NKV * a.repeats);
        printf("  %-9s best %7.2f ms, median %7.2f ms (%.1f / %.1f ns per row and kv head)\n",
               way ? "one pass" : "two pass", 1e3 * best, 1e3 * median, best * per, median * per);
    }
    printf("  one pass / two pass: best %.3f, median %.3f\n", a.secs[1][0] / a.secs[0][0],
           a.secs[1][SWEEPS / 2] / a.secs[0][SWEEPS / 2]);
    free(th);
    free(q);
    free(kv);
    return 0;
}

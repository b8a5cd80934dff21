#include "core/membw.h"

#include <stdint.h>
#include <string.h>

#include "core/kernels.h"
#include "core/sys.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

struct bw_job {
    const uint64_t *buf;
    int64_t n;       /* words */
    uint64_t sink[64];
};

/* Sums the slice 16 bytes at a time into four independent accumulators (SSE2, every x86-64 has it),
 * so the loads, not the adds, set the pace. */
static void read_task(void *ctx, int tid, int nth)
{
    struct bw_job *j = ctx;
    int64_t b, e;
    mlxc_split_range(j->n, tid, nth, 512, &b, &e);
#if defined(__SSE2__)
    __m128i s0 = _mm_setzero_si128(), s1 = s0, s2 = s0, s3 = s0;
    for (int64_t i = b; i + 8 <= e; i += 8) {
        const __m128i *p = (const __m128i *)(j->buf + i);
        s0 = _mm_add_epi64(s0, _mm_load_si128(p));
        s1 = _mm_add_epi64(s1, _mm_load_si128(p + 1));
        s2 = _mm_add_epi64(s2, _mm_load_si128(p + 2));
        s3 = _mm_add_epi64(s3, _mm_load_si128(p + 3));
    }
    __m128i s = _mm_add_epi64(_mm_add_epi64(s0, s1), _mm_add_epi64(s2, s3));
    uint64_t out[2];
    _mm_storeu_si128((__m128i *)out, s);
    j->sink[tid % 64] = out[0] + out[1];
#else
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int64_t i = b; i + 4 <= e; i += 4) {
        s0 += j->buf[i];
        s1 += j->buf[i + 1];
        s2 += j->buf[i + 2];
        s3 += j->buf[i + 3];
    }
    j->sink[tid % 64] = s0 + s1 + s2 + s3;
#endif
}

double mlxc_measure_read_bandwidth(struct mlxc_pool *pool, size_t nbytes)
{
    uint64_t *buf = mlxc_alloc_aligned(nbytes);
    if (!buf)
        return 0;
    memset(buf, 1, nbytes); /* touch every page */
    struct bw_job j = {buf, (int64_t)(nbytes / 8), {0}};
    double best = 0;
    for (int rep = 0; rep < 4; rep++) {
        double t0 = mlxc_now();
        mlxc_pool_run(pool, read_task, &j);
        double bw = (double)nbytes / (mlxc_now() - t0);
        best = bw > best ? bw : best;
    }
    mlxc_free_aligned(buf);
    return best;
}

struct fma_job {
    int64_t rounds;
    float sink[64];
};

static void fma_task(void *ctx, int tid, int nth)
{
    (void)nth;
    struct fma_job *j = ctx;
    j->sink[tid % 64] = mlxc_kernels()->fma_probe(j->rounds);
}

double mlxc_measure_fma_flops(struct mlxc_pool *pool)
{
    /* rounds for about 30 ms at 100 GFLOP/s per thread (and less on slower machines: 1 / 1e11 s each) */
    struct fma_job j = {.rounds = (int64_t)(0.03 * 1e11 / FMA_PROBE_FLOPS)};
    const int nth = mlxc_pool_size(pool);
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = mlxc_now();
        mlxc_pool_run(pool, fma_task, &j);
        double f = (double)j.rounds * FMA_PROBE_FLOPS * nth / (mlxc_now() - t0);
        best = f > best ? f : best;
    }
    return best;
}

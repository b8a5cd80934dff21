/* Quantized GEMV (decode) speed against the machine's own memory bandwidth.
 *
 *   qgemv_bench [--quick] [--prefill] [--no-model]
 *
 * 1. Measures read bandwidth: a streaming read of a 1 GiB buffer, 1 and 2 threads, best of several.
 * 2. Times mlxc_qmatmul_rows with n = 1 on 2048x8192, 8192x2048 and 128256x2048 matrices in affine 4-bit
 *    and 8-bit (group 64, BF16 scales and biases) and mxfp4, with 1 and 2 threads (pthreads, rows split
 *    in halves). The matrices are copied until the working set exceeds 1 GiB and the copies are used in
 *    turn, so the weights come from memory, not from the (large) last-level cache.
 *    Prints GB/s of bytes read (packed weights + scales + biases), the same as bf16-equivalent GB/s
 *    (rows * cols * 2 bytes per call: what a bf16 GEMV would have to read in that time), and the fraction
 *    of the measured bandwidth.
 * 3. Decodes a Llama-3.2-1B-shaped model (16 layers of q, k, v, o, gate, up, down and a 128256-row tied
 *    head, affine 4-bit group 64) one token at a time with 2 threads: the target is >= 65% of the 2-thread
 *    bandwidth.
 * --prefill also times n = 8 and n = 64 tokens (GFLOP/s). Weights are random bytes with sane scales:
 * speed does not depend on the values. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/half.h"
#include "core/sys.h"
#include "quant/quant.h"

#define GiB (1024.0 * 1024.0 * 1024.0)

/* ---------------------------------------------------------------- a pool of one helper thread */

struct job {
    const struct mlxc_qmatrix *m;
    const float *x;
    float *y;
    int64_t n;
    const uint64_t *buf; /* bandwidth test */
    size_t words;
    uint64_t sum;
};

static struct {
    pthread_t th;
    pthread_barrier_t start, done;
    int nthreads, quit;
    struct job jobs[2];
    void (*fn)(struct job *, int part, int nparts);
} pool;

static void *helper(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_barrier_wait(&pool.start);
        if (pool.quit)
            return NULL;
        pool.fn(&pool.jobs[1], 1, 2);
        pthread_barrier_wait(&pool.done);
    }
}

static void pool_init(void)
{
    pthread_barrier_init(&pool.start, NULL, 2);
    pthread_barrier_init(&pool.done, NULL, 2);
    if (pthread_create(&pool.th, NULL, helper, NULL) != 0) {
        fprintf(stderr, "qgemv_bench: pthread_create failed\n");
        exit(1);
    }
}

static void pool_free(void)
{
    pool.quit = 1;
    pthread_barrier_wait(&pool.start);
    pthread_join(pool.th, NULL);
}

/* Runs fn on 1 or 2 threads (the caller is thread 0). */
static void pool_run(int nthreads, void (*fn)(struct job *, int, int), struct job j)
{
    if (nthreads == 1) {
        fn(&j, 0, 1);
        return;
    }
    pool.fn = fn;
    pool.jobs[0] = pool.jobs[1] = j;
    pthread_barrier_wait(&pool.start);
    fn(&pool.jobs[0], 0, 2);
    pthread_barrier_wait(&pool.done);
}

/* ---------------------------------------------------------------- memory bandwidth */

__attribute__((target("avx2"))) static uint64_t read_avx2(const uint64_t *p, size_t words)
{
    typedef long long v4 __attribute__((vector_size(32)));
    v4 a = {0}, b = {0}, c = {0}, d = {0};
    const v4 *v = (const v4 *)p;
    for (size_t i = 0; i + 16 <= words; i += 16, v += 4) {
        a += v[0];
        b += v[1];
        c += v[2];
        d += v[3];
    }
    a += b + c + d;
    return (uint64_t)(a[0] + a[1] + a[2] + a[3]);
}

static uint64_t read_plain(const uint64_t *p, size_t words)
{
    uint64_t a = 0, b = 0, c = 0, d = 0;
    for (size_t i = 0; i + 4 <= words; i += 4) {
        a += p[i];
        b += p[i + 1];
        c += p[i + 2];
        d += p[i + 3];
    }
    return a + b + c + d;
}

static void read_part(struct job *j, int part, int nparts)
{
    size_t w0 = j->words / nparts * part, w1 = part == nparts - 1 ? j->words : j->words / nparts * (part + 1);
    j->sum = __builtin_cpu_supports("avx2") ? read_avx2(j->buf + w0, w1 - w0) : read_plain(j->buf + w0, w1 - w0);
}

static double measure_bandwidth(int nthreads, const uint64_t *buf, size_t bytes)
{
    double best = 0;
    for (int rep = 0; rep < 6; rep++) {
        struct job j = {.buf = buf, .words = bytes / 8};
        double t = mlxc_now();
        pool_run(nthreads, read_part, j);
        t = mlxc_now() - t;
        if (bytes / t > best)
            best = bytes / t;
    }
    return best / 1e9;
}

/* ---------------------------------------------------------------- matrices */

struct fmt {
    const char *name;
    struct mlxc_qparams q;
    enum mlxc_dtype sdt;
};

static const struct fmt FORMATS[] = {
    {"affine q4 g64", {MLXC_Q_AFFINE, 4, 64}, MLXC_BF16},
    {"affine q8 g64", {MLXC_Q_AFFINE, 8, 64}, MLXC_BF16},
    {"mxfp4", {MLXC_Q_MXFP4, 4, 32}, MLXC_U8},
};

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Bytes of one matrix: packed, scales, biases. */
static size_t matrix_bytes(const struct fmt *f, int64_t rows, int64_t cols, size_t *pb, size_t *sb)
{
    *pb = (size_t)(rows * cols * f->q.bits / 8);
    size_t ng = (size_t)(rows * cols / f->q.group_size);
    *sb = ng * (f->q.mode == MLXC_Q_AFFINE ? 2 : 1);
    return *pb + *sb * (f->q.mode == MLXC_Q_AFFINE ? 2 : 1);
}

/* ncopies matrices in one buffer, random packed bytes, scales ~ 0.01, biases ~ -0.08, E8M0 ~ 2^-6. */
static uint8_t *make_copies(const struct fmt *f, int64_t rows, int64_t cols, int ncopies, struct mlxc_qmatrix *ms)
{
    size_t pb, sb, mb = matrix_bytes(f, rows, cols, &pb, &sb);
    uint8_t *buf = mlxc_alloc_aligned(mb * (size_t)ncopies);
    if (!buf) {
        fprintf(stderr, "qgemv_bench: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < mb * (size_t)ncopies; i += 8) {
        uint64_t v = next();
        memcpy(buf + i, &v, 8);
    }
    for (int c = 0; c < ncopies; c++) {
        uint8_t *p = buf + mb * (size_t)c;
        ms[c] = (struct mlxc_qmatrix){f->q, rows, cols, p, p + pb, NULL, f->sdt};
        uint8_t *s = p + pb;
        if (f->q.mode == MLXC_Q_AFFINE) {
            ms[c].biases = p + pb + sb;
            uint16_t hs = mlxc_f32_to_bf16(0.01f), hb = mlxc_f32_to_bf16(-0.08f);
            for (size_t g = 0; g < sb / 2; g++) {
                memcpy(s + 2 * g, &hs, 2);
                memcpy(s + sb + 2 * g, &hb, 2);
            }
        } else {
            memset(s, 121, sb);
        }
    }
    return buf;
}

static void gemv_part(struct job *j, int part, int nparts)
{
    int64_t rows = j->m->rows;
    int64_t r0 = rows * part / nparts, r1 = rows * (part + 1) / nparts;
    mlxc_qmatmul_rows(j->m, j->x, j->n, j->y, rows, r0, r1);
}

/* Seconds per call, cycling through the copies for at least min_s seconds. */
static double time_gemv(struct mlxc_qmatrix *ms, int ncopies, const float *x, float *y, int64_t n, int nthreads,
                        double min_s)
{
    for (int c = 0; c < ncopies && c < 2; c++) /* warm up code paths */
        pool_run(nthreads, gemv_part, (struct job){.m = &ms[c], .x = x, .y = y, .n = n});
    long calls = 0;
    double t0 = mlxc_now(), t;
    do {
        for (int c = 0; c < ncopies; c++, calls++)
            pool_run(nthreads, gemv_part, (struct job){.m = &ms[c], .x = x, .y = y, .n = n});
        t = mlxc_now() - t0;
    } while (t < min_s);
    return t / (double)calls;
}

/* ---------------------------------------------------------------- a Llama-3.2-1B-shaped decode */

static void model_decode(const double bw[3], double min_s)
{
    static const int64_t shapes[7][2] = {{2048, 2048}, {512, 2048}, {512, 2048}, {2048, 2048},
                                         {8192, 2048}, {8192, 2048}, {2048, 8192}};
    const struct fmt *f = &FORMATS[0];
    enum { LAYERS = 16 };
    struct mlxc_qmatrix ms[LAYERS * 7 + 1];
    uint8_t *bufs[LAYERS * 7 + 1];
    size_t total = 0;
    for (int l = 0; l < LAYERS; l++)
        for (int k = 0; k < 7; k++) {
            size_t pb, sb;
            total += matrix_bytes(f, shapes[k][0], shapes[k][1], &pb, &sb);
            bufs[l * 7 + k] = make_copies(f, shapes[k][0], shapes[k][1], 1, &ms[l * 7 + k]);
        }
    size_t pb, sb;
    total += matrix_bytes(f, 128256, 2048, &pb, &sb);
    bufs[LAYERS * 7] = make_copies(f, 128256, 2048, 1, &ms[LAYERS * 7]);
    float *x = malloc(8192 * sizeof(float)), *y = malloc(128256 * sizeof(float));
    for (int i = 0; i < 8192; i++)
        x[i] = (float)((int)(next() % 2001) - 1000) / 1000.0f;
    printf("\nLlama-3.2-1B-shaped decode, %s, %d matmuls per token, %.1f MB of weights per token\n", f->name,
           LAYERS * 7 + 1, total / 1e6);
    for (int nt = 1; nt <= 2; nt++) {
        long tokens = 0;
        double t0 = mlxc_now(), t;
        do {
            for (int i = 0; i < LAYERS * 7 + 1; i++)
                pool_run(nt, gemv_part, (struct job){.m = &ms[i], .x = x, .y = y, .n = 1});
            tokens++;
            t = mlxc_now() - t0;
        } while (t < min_s);
        double per = t / tokens, gbs = total / per / 1e9;
        printf("  %d thread%s: %6.2f ms/token  %6.1f tok/s  %6.2f GB/s  %5.1f%% of %.2f GB/s measured\n", nt,
               nt > 1 ? "s" : " ", per * 1e3, 1.0 / per, gbs, 100 * gbs / bw[nt], bw[nt]);
    }
    for (int i = 0; i < LAYERS * 7 + 1; i++)
        mlxc_free_aligned(bufs[i]);
    free(x);
    free(y);
}

int main(int argc, char **argv)
{
    int quick = 0, prefill = 0, model = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--prefill") == 0)
            prefill = 1;
        else if (strcmp(argv[i], "--no-model") == 0)
            model = 0;
        else {
            fprintf(stderr, "usage: qgemv_bench [--quick] [--prefill] [--no-model]\n");
            return 2;
        }
    }
    const double min_s = quick ? 0.3 : 1.0;
    pool_init();
    printf("kernels: %s\n", mlxc_quant_isa());

    size_t bwbytes = (size_t)GiB;
    uint64_t *bwbuf = mlxc_alloc_aligned(bwbytes);
    if (!bwbuf) {
        fprintf(stderr, "qgemv_bench: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < bwbytes / 8; i++)
        bwbuf[i] = i;
    double bw[3] = {0};
    bw[1] = measure_bandwidth(1, bwbuf, bwbytes);
    bw[2] = measure_bandwidth(2, bwbuf, bwbytes);
    printf("memory read bandwidth (1 GiB stream): 1 thread %.2f GB/s, 2 threads %.2f GB/s\n\n", bw[1], bw[2]);
    mlxc_free_aligned(bwbuf);

    static const int64_t shapes[3][2] = {{2048, 8192}, {8192, 2048}, {128256, 2048}};
    printf("%-15s %-13s %3s %3s %9s %9s %11s %7s\n", "format", "rows x cols", "n", "thr", "us/call", "GB/s",
           "bf16-eq GB/s", "% of bw");
    for (size_t fi = 0; fi < sizeof FORMATS / sizeof FORMATS[0]; fi++) {
        const struct fmt *f = &FORMATS[fi];
        for (int s = 0; s < 3; s++) {
            int64_t rows = shapes[s][0], cols = shapes[s][1];
            size_t pb, sb, mb = matrix_bytes(f, rows, cols, &pb, &sb);
            int ncopies = (int)ceil(GiB / (double)mb);
            if (ncopies < 2)
                ncopies = 2;
            struct mlxc_qmatrix *ms = malloc((size_t)ncopies * sizeof *ms);
            uint8_t *buf = make_copies(f, rows, cols, ncopies, ms);
            int64_t nmax = prefill ? 64 : 1;
            float *x = malloc((size_t)(nmax * cols) * sizeof(float)), *y = malloc((size_t)(nmax * rows) * sizeof(float));
            for (int64_t i = 0; i < nmax * cols; i++)
                x[i] = (float)((int)(next() % 2001) - 1000) / 1000.0f;
            char shape[32];
            snprintf(shape, sizeof shape, "%lldx%lld", (long long)rows, (long long)cols);
            for (int nt = 1; nt <= 2; nt++) {
                double t = time_gemv(ms, ncopies, x, y, 1, nt, min_s);
                double gbs = mb / t / 1e9, eq = (double)rows * cols * 2 / t / 1e9;
                printf("%-15s %-13s %3d %3d %9.1f %9.2f %11.2f %6.1f%%\n", f->name, shape, 1, nt, t * 1e6, gbs, eq,
                       100 * gbs / bw[nt]);
            }
            if (prefill) {
                static const int64_t ns[2] = {8, 64};
                for (int k = 0; k < 2; k++)
                    for (int nt = 1; nt <= 2; nt++) {
                        double t = time_gemv(ms, ncopies < 4 ? ncopies : 4, x, y, ns[k], nt, min_s);
                        printf("%-15s %-13s %3lld %3d %9.1f %9.2f GFLOP/s\n", f->name, shape, (long long)ns[k], nt,
                               t * 1e6, 2.0 * rows * cols * ns[k] / t / 1e9);
                    }
            }
            free(x);
            free(y);
            free(ms);
            mlxc_free_aligned(buf);
        }
    }
    if (model)
        model_decode(bw, min_s * 3);
    pool_free();
    return 0;
}

/* Quantized GEMV (decode) speed against the machine's own memory bandwidth.
 *
 *   qgemv_bench [--quick] [--prefill] [--no-model]
 *
 * 1. Measures read bandwidth: a streaming read of a 1 GiB buffer, 1 and 2 threads, best of several.
 * 2. Times mlxc_qmatmul_rows with n = 1 on 2048x8192, 8192x2048 and 128256x2048 matrices in affine 4-bit
 *    and 8-bit (group 64, BF16 scales and biases) and mxfp4, with 1 and 2 threads (pthreads, rows split
 *    in halves). The matrices are copied until the working set exceeds 1 GiB and the copies are used in
 *    turn, so the weights come from memory, not from the (large) last-level cache.
 *    Prints GB/s of bytes read (packed weights + scales + biases), bf16-equivalent GB/s (rows * cols * 2
 *    bytes per call: what a bf16 GEMV would have to read in that time), and the fraction of the bandwidth.
 * 3. Decodes a Llama-3.2-1B-shaped model (16 layers of q, k, v, o, gate, up, down and a 128256-row tied
 *    head, affine 4-bit group 64) one token at a time: the target is >= 65% of the bandwidth with 2 threads.
 * The machine this runs on is shared and noisy, so every fraction comes from one window of time: sweeps of
 * the kernel alternate with a plain streaming read of exactly the same bytes by the same threads, and the
 * best sweep of each gives the ratio ("% of bw"; the read's own rate is printed beside it).
 * --prefill also times n = 8 and n = 64 tokens (GFLOP/s). Weights are random bytes with sane scales:
 * speed does not depend on the values. */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/half.h"
#include "core/sys.h"
#include "quant/quant.h"

#define GiB (1024.0 * 1024.0 * 1024.0)

/* ---------------------------------------------------------------- a pool of one helper thread */

/* The helper spins on a generation counter between jobs (yielding after a while): decode issues a
 * matmul every few hundred microseconds, and waking a sleeping thread (futex, and in a VM an IPI to a
 * halted vCPU) costs tens of microseconds each time, as much as the work itself on small matrices. */
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
    _Atomic unsigned gen, done;
    _Atomic int quit;
    struct job jobs[2];
    void (*fn)(struct job *, int part, int nparts);
} pool;

static void spin_until(_Atomic unsigned *v, unsigned want)
{
    for (long i = 0; *v != want; i++)
        if (i > 20000)
            sched_yield();
        else
            __builtin_ia32_pause();
}

static void *helper(void *arg)
{
    (void)arg;
    for (unsigned g = 1;; g++) {
        spin_until(&pool.gen, g);
        if (pool.quit)
            return NULL;
        pool.fn(&pool.jobs[1], 1, 2);
        pool.done = g;
    }
}

static void pool_init(void)
{
    if (pthread_create(&pool.th, NULL, helper, NULL) != 0) {
        fprintf(stderr, "qgemv_bench: pthread_create failed\n");
        exit(1);
    }
}

static void pool_free(void)
{
    pool.quit = 1;
    pool.gen++;
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
    unsigned g = pool.gen + 1;
    pool.gen = g; /* seq_cst: the job is visible before the helper sees the new generation */
    fn(&pool.jobs[0], 0, 2);
    spin_until(&pool.done, g);
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

/* A streaming read of the bytes of several matrices, split between the threads. */
struct readset {
    const uint8_t *const *bufs;
    const size_t *bytes;
    int nbufs;
};

static void readset_part(struct job *j, int part, int nparts)
{
    const struct readset *rs = (const struct readset *)j->m;
    uint64_t sum = 0;
    for (int b = 0; b < rs->nbufs; b++) {
        size_t words = rs->bytes[b] / 8, w0 = words / nparts * part;
        size_t w1 = part == nparts - 1 ? words : words / nparts * (part + 1);
        const uint64_t *p = (const uint64_t *)rs->bufs[b] + w0;
        sum += __builtin_cpu_supports("avx2") ? read_avx2(p, w1 - w0) : read_plain(p, w1 - w0);
    }
    j->sum = sum;
}

/* Best times of one sweep of the kernel over the matrices and of one streaming read of their bytes,
 * alternated for at least min_s seconds so that both see the same machine. */
static void time_paired(struct mlxc_qmatrix *ms, int nm, const struct readset *rs, const float *x, float *y,
                        int64_t n, int nthreads, double min_s, double *t_kernel, double *t_read)
{
    for (int c = 0; c < nm && c < 2; c++) /* warm up code paths */
        pool_run(nthreads, gemv_part, (struct job){.m = &ms[c], .x = x, .y = y, .n = n});
    *t_kernel = *t_read = 1e30;
    double t0 = mlxc_now();
    int reps = 0;
    do {
        double t = mlxc_now();
        pool_run(nthreads, readset_part, (struct job){.m = (const struct mlxc_qmatrix *)rs});
        t = mlxc_now() - t;
        if (t < *t_read)
            *t_read = t;
        t = mlxc_now();
        for (int c = 0; c < nm; c++)
            pool_run(nthreads, gemv_part, (struct job){.m = &ms[c], .x = x, .y = y, .n = n});
        t = mlxc_now() - t;
        if (t < *t_kernel)
            *t_kernel = t;
        reps++;
    } while (mlxc_now() - t0 < min_s || reps < 3);
}

/* ---------------------------------------------------------------- a Llama-3.2-1B-shaped decode */

static void model_decode(double min_s)
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
    size_t sizes[LAYERS * 7 + 1];
    const uint8_t *cbufs[LAYERS * 7 + 1];
    for (int i = 0; i < LAYERS * 7 + 1; i++) {
        size_t p2, s2;
        sizes[i] = matrix_bytes(f, ms[i].rows, ms[i].cols, &p2, &s2);
        cbufs[i] = bufs[i];
    }
    struct readset rs = {cbufs, sizes, LAYERS * 7 + 1};
    printf("\nLlama-3.2-1B-shaped decode, %s, %d matmuls per token, %.1f MB of weights per token\n", f->name,
           LAYERS * 7 + 1, total / 1e6);
    for (int nt = 1; nt <= 2; nt++) {
        double tk, tr;
        time_paired(ms, LAYERS * 7 + 1, &rs, x, y, 1, nt, min_s, &tk, &tr);
        printf("  %d thread%s: %6.2f ms/token  %6.1f tok/s  %6.2f GB/s  %5.1f%% of bw (read of the same bytes: "
               "%.2f GB/s, %.2f ms)\n",
               nt, nt > 1 ? "s" : " ", tk * 1e3, 1.0 / tk, total / tk / 1e9, 100 * tr / tk, total / tr / 1e9,
               tr * 1e3);
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
    printf("%-15s %-13s %3s %3s %9s %9s %11s %7s %9s\n", "format", "rows x cols", "n", "thr", "us/call", "GB/s",
           "bf16-eq GB/s", "% of bw", "read GB/s");
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
            const uint8_t **cb = malloc((size_t)ncopies * sizeof *cb);
            size_t *sz = malloc((size_t)ncopies * sizeof *sz);
            for (int c = 0; c < ncopies; c++) {
                cb[c] = buf + mb * (size_t)c;
                sz[c] = mb;
            }
            struct readset rs = {cb, sz, ncopies};
            for (int nt = 1; nt <= 2; nt++) {
                double tk, tr;
                time_paired(ms, ncopies, &rs, x, y, 1, nt, min_s, &tk, &tr);
                double t = tk / ncopies, gbs = mb / t / 1e9, eq = (double)rows * cols * 2 / t / 1e9;
                printf("%-15s %-13s %3d %3d %9.1f %9.2f %11.2f %6.1f%% %9.2f\n", f->name, shape, 1, nt, t * 1e6, gbs,
                       eq, 100 * tr / tk, (double)mb * ncopies / tr / 1e9);
            }
            if (prefill) {
                static const int64_t ns[2] = {8, 64};
                int nc = ncopies < 4 ? ncopies : 4;
                struct readset rs4 = {cb, sz, nc};
                for (int k = 0; k < 2; k++)
                    for (int nt = 1; nt <= 2; nt++) {
                        double tk, tr;
                        time_paired(ms, nc, &rs4, x, y, ns[k], nt, min_s, &tk, &tr);
                        double t = tk / nc;
                        printf("%-15s %-13s %3lld %3d %9.1f %9.2f GFLOP/s\n", f->name, shape, (long long)ns[k], nt,
                               t * 1e6, 2.0 * rows * cols * ns[k] / t / 1e9);
                    }
            }
            free(cb);
            free(sz);
            free(x);
            free(y);
            free(ms);
            mlxc_free_aligned(buf);
        }
    }
    if (model)
        model_decode(min_s * 3);
    pool_free();
    return 0;
}

/* Decode attention speed against the machine's own memory bandwidth.
 *
 *   att_bench [--context N] [--threads T] [--dtype bf16|f16|f32] [--kv-bits B] [--sweeps S] [--layers N]
 *             [--kv-heads K]
 *
 * Builds a Llama-3.2-1B-shaped KV cache (16 layers, 32 query heads, 8 kv heads, head_dim 64; 4096 slots of
 * random keys and values by default) and times one decode token's attention over all 16 layers
 * (mlxc_attention with T = 1), which reads every cached key and value once. Sweeps of it alternate with a
 * plain streaming read of exactly the same K and V buffers by the same pool threads, so that the ratio of
 * the two comes from one window of time on a noisy machine (best sweep of each). Between layers the
 * threads stream a 44 MB slice of a 700 MB buffer, as a 4-bit model's weights stream between the layers'
 * attention in a real decode: otherwise the 134 MB cache would partly stay in a large last-level cache
 * (300 MB on the lent Xeons) and attention would look faster than it is. Prints the attention's
 * GB/s of cache read, the read's GB/s, and their ratio: 100% means attention costs what its bytes cost.
 * --layers N (< 16) reads the first N layers' caches in turn instead: small enough, they stay in the CPU's
 * caches, which times the kernels' arithmetic rather than the memory. --kv-bits B quantizes the cache (group
 * size 64) as mlx_lm --kv-bits does; the plain read then reads its codes, scales and biases. --kv-heads K
 * (a divisor of 32; 8 by default) shares each kv head among 32 / K query heads (32: no sharing, as in
 * MHA models; the cache then holds K / 8 times the bytes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/kv.h"
#include "core/config.h"
#include "core/forward.h"
#include "core/pool.h"
#include "core/sys.h"

enum { LAYERS = 16, H = 32, HD = 64 };
#define WEIGHT_SLICE ((int64_t)44 << 20) /* bytes of weights streamed before each layer's attention */

struct read_job {
    const void *arrays[LAYERS][6]; /* each layer's K and V (quantized: codes, scales, biases of each) */
    size_t bytes[6];
    int narrays;
    _Atomic unsigned long long sink;
};

/* Sum of 64-bit words [a, b) of p, four at a time. */
static unsigned long long sum_words(const unsigned long long *p, int64_t a, int64_t b)
{
    unsigned long long s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int64_t i = a; i + 4 <= b; i += 4) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
    }
    return s0 + s1 + s2 + s3;
}

/* The weights a decode streams between two layers' attention: each thread its share of one slice. */
struct weights_job {
    const unsigned long long *slice;
    int64_t words;
    _Atomic unsigned long long sink;
};

static void weights_task(void *ctx, int tid, int nth)
{
    struct weights_job *j = ctx;
    int64_t a, b;
    mlxc_split_range(j->words, tid, nth, 64, &a, &b);
    j->sink += sum_words(j->slice, a, b);
}

/* Each thread reads its share of every array of every layer, 32 bytes at a time (sums of 64-bit words). */
static void read_task(void *ctx, int tid, int nth)
{
    struct read_job *j = ctx;
    unsigned long long s = 0;
    for (int l = 0; l < LAYERS; l++)
        for (int a = 0; a < j->narrays; a++) {
            int64_t lo, hi;
            mlxc_split_range((int64_t)(j->bytes[a] / 8), tid, nth, 64, &lo, &hi);
            s += sum_words(j->arrays[l][a], lo, hi);
        }
    j->sink += s;
}

static float frand(unsigned *st)
{
    *st = *st * 1664525u + 1013904223u;
    return (float)(*st >> 8) / 16777216.0f - 0.5f;
}

int main(int argc, char **argv)
{
    int64_t n = 4096;
    int threads = 2, sweeps = 20, layers = LAYERS;
    enum mlxc_dtype dt = MLXC_BF16;
    int kv_bits = 0, kv_heads = 8;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--context") && i + 1 < argc)
            n = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--layers") && i + 1 < argc)
            layers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--sweeps") && i + 1 < argc)
            sweeps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--kv-bits") && i + 1 < argc)
            kv_bits = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--kv-heads") && i + 1 < argc && (kv_heads = atoi(argv[i + 1])) > 0 && H % kv_heads == 0)
            i++;
        else if (!strcmp(argv[i], "--dtype") && i + 1 < argc) {
            const char *d = argv[++i];
            dt = !strcmp(d, "f32") ? MLXC_F32 : !strcmp(d, "f16") ? MLXC_F16 : MLXC_BF16;
        } else {
            fprintf(stderr, "usage: att_bench [--context N] [--threads T] [--dtype bf16|f16|f32] [--kv-bits B] [--sweeps S] "
                            "[--layers N] [--kv-heads K]\n");
            return 2;
        }
    }
    struct mlxc_err e = {0};
    struct mlxc_config c = {0};
    c.n_heads = H;
    c.n_kv_heads = kv_heads;
    c.head_dim = HD;
    c.attn_scale = 0.125f;
    struct mlxc_kv_cache cache;
    if (mlxc_kv_init(&cache, LAYERS, kv_heads, HD, &e)) {
        fprintf(stderr, "att_bench: %s\n", e.msg);
        return 1;
    }
    cache.dtype = dt;
    unsigned st = 1;
    const int64_t step = 256;
    float *k = malloc(sizeof(float) * step * kv_heads * HD), *v = malloc(sizeof(float) * step * kv_heads * HD);
    float *q = malloc(sizeof(float) * H * HD), *out = malloc(sizeof(float) * H * HD);
    struct mlxc_kv_view view = {0};
    for (int64_t done = 0; done < n; done += step) {
        const int64_t T = n - done < step ? n - done : step;
        for (int l = 0; l < LAYERS; l++) {
            for (int64_t i = 0; i < T * kv_heads * HD; i++) {
                k[i] = 2.0f * frand(&st);
                v[i] = frand(&st);
            }
            if (mlxc_kv_update(&cache, l, k, v, T, &view, &e)) {
                fprintf(stderr, "att_bench: %s\n", e.msg);
                return 1;
            }
        }
        mlxc_kv_step_done(&cache, T, &e);
    }
    if (kv_bits && mlxc_kv_quantize(&cache, kv_bits, 64, &e)) {
        fprintf(stderr, "att_bench: %s\n", e.msg);
        return 1;
    }
    view.base = view.n - 1; /* the decode token is the last slot: it sees them all */
    for (int i = 0; i < H * HD; i++)
        q[i] = frand(&st);
    struct mlxc_state s = {0};
    s.pool = mlxc_pool_create(threads);
    if (!s.pool || mlxc_state_reserve_scores(&s, mlxc_attention_scratch(&c, 1, view.n, 0), &e)) {
        fprintf(stderr, "att_bench: out of memory\n");
        return 1;
    }
    /* bytes a token's attention reads, and the arrays the plain read reads (their allocated capacity) */
    const size_t slot_bytes = mlxc_kv_slot_bytes(&cache, &cache.layers[0]), cap = (size_t)cache.layers[0].cap;
    const double bytes = (double)LAYERS * (double)n * (double)slot_bytes;
    struct read_job rj = {.narrays = kv_bits ? 6 : 2};
    for (int l = 0; l < LAYERS; l++) {
        const struct mlxc_kv_layer *L = &cache.layers[l];
        const void *arrays[6] = {L->k, L->v};
        if (kv_bits) {
            const void *quantized[6] = {L->kq, L->vq, L->ks, L->kb, L->vs, L->vb};
            memcpy(arrays, quantized, sizeof quantized);
        }
        memcpy(rj.arrays[l], arrays, sizeof arrays);
    }
    const size_t codes = cap * kv_heads * HD * (kv_bits ? (size_t)kv_bits : 8 * mlxc_dtype_size(dt)) / 8;
    const size_t sb = cap * kv_heads * (HD / 64) * mlxc_dtype_size(dt);
    for (int a = 0; a < rj.narrays; a++)
        rj.bytes[a] = a < 2 ? codes : sb;
    const int64_t slice_words = WEIGHT_SLICE / 8;
    unsigned long long *weights = malloc((size_t)(LAYERS * slice_words) * 8);
    if (!weights) {
        fprintf(stderr, "att_bench: out of memory\n");
        return 1;
    }
    /* written, so that every page is its own memory: pages of a calloc never written all map the kernel's
     * one zero page, whose reads hit the CPU's caches and evict nothing (so it was until session 14) */
    memset(weights, 1, (size_t)(LAYERS * slice_words) * 8);
    struct weights_job wj = {weights, slice_words, 0};
    double best_att = 1e30, best_read = 1e30;
    for (int sw = 0; sw < sweeps; sw++) {
        double t_att = 0;
        for (int l = 0; l < LAYERS; l++) { /* with --layers N < 16 the first N again, warm: no weights */
            if (layers == LAYERS) {
                wj.slice = weights + l * slice_words;
                mlxc_pool_run(s.pool, weights_task, &wj);
            }
            double t0 = mlxc_now();
            mlxc_attention(&c, &s, &cache, l % layers, &view, NULL, q, 1, out);
            t_att += mlxc_now() - t0;
        }
        double t1 = mlxc_now();
        mlxc_pool_run(s.pool, read_task, &rj);
        double t2 = mlxc_now();
        best_att = t_att < best_att ? t_att : best_att;
        best_read = t2 - t1 < best_read ? t2 - t1 : best_read;
    }
    free(weights);
    /* the read covers the allocated capacity; scale it to the n slots attention reads */
    const double read_bytes = (double)LAYERS * (double)cap * (double)slot_bytes;
    char kind[32];
    if (kv_bits)
        snprintf(kind, sizeof kind, "%d-bit", kv_bits);
    else
        snprintf(kind, sizeof kind, "%s", mlxc_dtype_name(dt));
    printf("context %lld, %d threads, %s cache, %d kv heads, %.1f MB read per token: attention %.2f ms (%.1f GB/s), "
           "plain read %.1f GB/s, attention at %.0f%% of the read\n",
           (long long)n, threads, kind, kv_heads, bytes / 1e6, best_att * 1e3, bytes / best_att / 1e9,
           read_bytes / best_read / 1e9, 100.0 * (bytes / best_att) / (read_bytes / best_read));
    mlxc_state_free(&s);
    mlxc_kv_free(&cache);
    free(k);
    free(v);
    free(q);
    free(out);
    return (int)((rj.sink + wj.sink) & 0);
}

/* mlxc_attention against the formula it implements, computed here in double precision from the cached
 * rows as stored (mlxc_kv_read_k/v, so the cache's dtype rounding is not an error):
 *   out[t,h] = sum_j softmax_j(cap(scale q[t,h].k[j])) v[j]  over the keys query t sees,
 * with an extra exp(sink[h]) in the softmax's denominator when the layer has sinks. Decode (one token)
 * splits the keys into chunks merged afterwards; prefill cuts the queries into token blocks: both are
 * checked at one and three threads, cache dtypes (f32, bf16; quantized 8-bit, 4-bit in groups of 32, and
 * 3-bit, whose codes the decode kernels unpack through the generic path), contexts spanning one or
 * several chunks, softcap, sinks and a sliding window. Prefill on a bf16 cache where the CPU has AMX
 * (core/matmul_amx.h) rounds q and the softmax weights to bf16: the reference then does the same. */
#include "tests/test_util.h"

#include <math.h>

#include "cache/kv.h"
#include "core/forward.h"
#include "core/half.h"
#include "core/matmul_amx.h"

enum { H = 8, KV = 2, HD = 64 };

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float frand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}

struct att_case {
    int threads, n, T;  /* keys in the cache after the update of T new tokens */
    int kind;           /* 0 f32, 1 bf16, 2.. quantized (qbits[kind], qgroup[kind]) */
    float softcap;
    int sinks;
    int64_t window;
    float *keep; /* when set: gets the output (T x H x HD) */
};

/* The formula for query t of the update (view as mlxc_kv_update returned it). */
/* bf16 (round to nearest even) of f as a double; *near: f lies within 1e-5 of its value from a rounding
 * midpoint, where f32 and double computations of it may round apart (by ulp, returned). */
static double bf16_of(float f, double *ulp, int *near)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    const uint16_t b = mlxc_f32_to_bf16(f);
    const double frac = (double)(u & 0xFFFF) / 65536.0, x = mlxc_bf16_to_f32(b);
    int ex;
    frexp(f, &ex);
    *ulp = ldexp(1.0, ex - 8);
    *near = fabs(frac - 0.5) * *ulp < 1e-5 * fabs(f);
    return x;
}

/* bf16: the products as the AMX path computes them (prefill on a bf16 cache where the CPU has AMX): q and
 * the softmax weights rounded to bf16. slack[i] gets what weights near a rounding midpoint may move
 * out[i] by (their ulp times |v|), zero elsewhere. */
static void reference(const struct mlxc_config *c, const struct mlxc_kv_cache *cache, const struct mlxc_kv_view *v,
                      const float *sinks, const float *q, int64_t t, int bf16, double *out, double *slack)
{
    float row[HD];
    const int64_t last = v->base + t, hi = last + 1 < v->n ? last + 1 : v->n;
    const int64_t lo = v->window > 0 && last - v->window + 1 > 0 ? last - v->window + 1 : 0;
    double *s = malloc((size_t)(hi - lo) * sizeof *s);
    for (int h = 0; h < H; h++) {
        const int kvh = h / (H / KV);
        double m = sinks ? sinks[h] : -INFINITY, sum = 0;
        for (int64_t j = lo; j < hi; j++) {
            mlxc_kv_read_k(cache, 0, j, kvh, row);
            double d = 0;
            for (int i = 0; i < HD; i++)
                d += (bf16 ? (double)mlxc_bf16_to_f32(mlxc_f32_to_bf16(q[(t * H + h) * HD + i]))
                           : (double)q[(t * H + h) * HD + i]) * row[i];
            d *= c->attn_scale;
            if (c->attn_softcap != 0.0f)
                d = tanh(d / c->attn_softcap) * c->attn_softcap;
            s[j - lo] = d;
            m = d > m ? d : m;
        }
        for (int64_t j = lo; j < hi; j++)
            sum += exp(s[j - lo] - m);
        if (sinks)
            sum += exp(sinks[h] - m);
        for (int i = 0; i < HD; i++)
            out[h * HD + i] = slack[h * HD + i] = 0;
        for (int64_t j = lo; j < hi; j++) {
            mlxc_kv_read_v(cache, 0, j, kvh, row);
            double w = exp(s[j - lo] - m) / sum, ulp = 0;
            int near = 0;
            if (bf16)
                w = bf16_of((float)w, &ulp, &near);
            for (int i = 0; i < HD; i++) {
                out[h * HD + i] += w * row[i];
                slack[h * HD + i] += near ? ulp * fabs(row[i]) : 0;
            }
        }
    }
    free(s);
}

static const int qbits[] = {0, 0, 8, 4, 3}, qgroup[] = {0, 0, 64, 32, 64};
enum { KINDS = 5 };

static void run_case(const struct att_case *a)
{
    struct mlxc_err e = {0};
    struct mlxc_config c = {0};
    c.n_heads = H;
    c.n_kv_heads = KV;
    c.head_dim = HD;
    c.attn_scale = 0.125f;
    c.attn_softcap = a->softcap;
    struct mlxc_kv_cache cache;
    assert_int_equal(mlxc_kv_init(&cache, 1, KV, HD, &e), 0);
    if (a->kind == 1)
        cache.dtype = MLXC_BF16;
    /* the earlier keys in steps of up to 300 tokens, then the T new ones */
    const int64_t before = a->n - a->T;
    float *k = malloc(sizeof(float) * 300 * KV * HD), *v = malloc(sizeof(float) * 300 * KV * HD);
    struct mlxc_kv_view view;
    for (int64_t done = 0; done < before;) {
        const int64_t T = before - done < 300 ? before - done : 300;
        for (int64_t i = 0; i < T * KV * HD; i++) {
            k[i] = 2.0f * frand();
            v[i] = frand();
        }
        assert_int_equal(mlxc_kv_update(&cache, 0, k, v, T, &view, &e), 0);
        assert_int_equal(mlxc_kv_step_done(&cache, T, &e), 0);
        done += T;
    }
    if (a->kind >= 2 && before > 0)
        assert_int_equal(mlxc_kv_quantize(&cache, qbits[a->kind], qgroup[a->kind], &e), 0);
    for (int64_t i = 0; i < a->T * KV * HD; i++) {
        k[i] = 2.0f * frand();
        v[i] = frand();
    }
    assert_int_equal(mlxc_kv_update(&cache, 0, k, v, a->T, &view, &e), 0);
    view.window = a->window;

    float *q = malloc(sizeof(float) * a->T * H * HD), *out = malloc(sizeof(float) * a->T * H * HD), sinks[H];
    for (int64_t i = 0; i < a->T * H * HD; i++)
        q[i] = frand();
    for (int h = 0; h < H; h++)
        sinks[h] = 2.0f * frand();
    struct mlxc_state s = {0};
    s.pool = mlxc_pool_create(a->threads);
    assert_int_equal(mlxc_state_reserve_scores(&s, mlxc_attention_scratch(&c, a->T, view.n, a->kind >= 2), &e), 0);
    mlxc_attention(&c, &s, &cache, 0, &view, a->sinks ? sinks : NULL, q, a->T, out);

    double ref[H * HD], slack[H * HD], err = 0;
    const int bf16 = a->kind == 1 && a->T > 1 && mlxc_amx_usable();
    for (int64_t t = 0; t < a->T; t++) {
        reference(&c, &cache, &view, a->sinks ? sinks : NULL, q, t, bf16, ref, slack);
        for (int i = 0; i < H * HD; i++)
            err = fmax(err, fabs(out[t * H * HD + i] - ref[i]) - slack[i]);
    }
    /* decode on a quantized cache rounds the queries to int16 per group (core/kernels_attq_avx2.c): ~1e-5 of
     * a score, where the 8-bit codes themselves are off by ~1e-2 of the values */
    const double tol = a->kind >= 2 && a->T == 1 ? 1e-4 : 2e-5;
    if (err > tol)
        fail_msg("threads %d n %d T %d kind %d softcap %g sinks %d window %lld: max error %g", a->threads, a->n,
                 a->T, a->kind, a->softcap, a->sinks, (long long)a->window, err);
    if (a->keep)
        memcpy(a->keep, out, sizeof(float) * a->T * H * HD);
    mlxc_state_free(&s);
    mlxc_kv_free(&cache);
    free(k);
    free(v);
    free(q);
    free(out);
}

static void test_attention_formula(void **state)
{
    (void)state;
    static const int ns[] = {1, 5, 257, 700};
    for (int threads = 1; threads <= 3; threads += 2)
        for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
            for (int kind = 0; kind < KINDS; kind++)
                for (int T = 1; T <= 11 && T <= ns[i]; T += 10) {
                    struct att_case a = {threads, ns[i], T, kind, 0.0f, 0, 0, NULL};
                    run_case(&a);
                    a.softcap = 1.5f;
                    run_case(&a);
                    a.softcap = 0.0f;
                    a.sinks = 1;
                    run_case(&a);
                    a.sinks = 0;
                    a.window = 300;
                    run_case(&a);
                }
}

/* Decode's chunks go to whichever thread is free and their partials are merged in chunk order, so the
 * output is the same to the bit for any thread count (a run of generate gives the same tokens with -t 1
 * and -t 4): the same cache and queries at 1 to 4 threads, over 8 chunks of keys. */
static void test_decode_same_for_any_threads(void **state)
{
    (void)state;
    for (int kind = 0; kind < KINDS; kind++)
        for (int sinks = 0; sinks <= 1; sinks++) {
            float first[H * HD], out[H * HD];
            for (int threads = 1; threads <= 4; threads++) {
                struct att_case a = {threads, 2000, 1, kind, 0.0f, sinks, 0, threads == 1 ? first : out};
                rng = 0x9E3779B97F4A7C15ull; /* the same cache and queries each time */
                run_case(&a);
                if (threads > 1 && memcmp(first, out, sizeof out))
                    fail_msg("kind %d sinks %d: decode at %d threads differs from 1 thread", kind, sinks, threads);
            }
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attention_formula),
        cmocka_unit_test(test_decode_same_for_any_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#include "core/app_bench.h"

#include <stdlib.h>
#include <string.h>

#include "core/batch.h"
#include "core/generate.h"
#include "core/membw.h"
#include "core/model_dir.h"
#include "core/random.h"
#include "core/sys.h"

struct trial {
    double prompt_tps, generation_tps, peak_gb, total_s;
};

static int run_trial(const struct mlxc_model *m, struct mlxc_state *s, const struct mlxc_bench_args *a,
                     const int32_t *ids, struct trial *t, struct mlxc_err *e)
{
    struct mlxc_kv_cache cache;
    int rc = mlxc_cache_make(m, NULL, &cache, e);
    if (rc)
        return rc;
    struct mlxc_gen_params gp = {.max_tokens = a->generation_tokens, .prefill_step_size = a->prefill_step_size,
                                 .has_seed = 1, .seed = 0};
    struct mlxc_gen_stats st;
    double t0 = mlxc_now();
    rc = mlxc_generate(m, s, &cache, ids, a->prompt_tokens, &gp, NULL, NULL, &st, e);
    t->total_s = mlxc_now() - t0;
    t->prompt_tps = st.prompt_tps;
    t->generation_tps = st.generation_tps;
    t->peak_gb = (double)mlxc_peak_rss() / 1e9;
    mlxc_kv_free(&cache);
    return rc;
}

/* batch_size > 1: that many sequences (prompts ids + i * prompt_tokens) through the batch engine, all
 * prefilled in one group and decoded together; tokens/s are the engine's, summed over the sequences. */
static int run_batch_trial(const struct mlxc_model *m, const struct mlxc_bench_args *a, const int32_t *ids,
                           struct trial *t, struct mlxc_err *e)
{
    const int B = a->batch_size;
    struct mlxc_batch_opts o = {.prefill_batch_size = B, .completion_batch_size = B,
                                .prefill_step_size = a->prefill_step_size, .threads = a->threads};
    struct mlxc_batch *b = NULL;
    int rc = mlxc_batch_create(m, &o, &b, e);
    double t0 = mlxc_now();
    for (int i = 0; !rc && i < B; i++) {
        struct mlxc_batch_request r = {.prompt = ids + (int64_t)i * a->prompt_tokens, .n_prompt = a->prompt_tokens,
                                       .params = {.max_tokens = a->generation_tokens, .has_seed = 1, .seed = (uint64_t)i}};
        uint64_t uid;
        rc = mlxc_batch_insert(b, &r, &uid, e);
    }
    while (!rc && mlxc_batch_pending(b) > 0)
        rc = mlxc_batch_step(b, NULL, NULL, e);
    t->total_s = mlxc_now() - t0;
    if (!rc) {
        struct mlxc_batch_stats st;
        mlxc_batch_get_stats(b, &st);
        t->prompt_tps = st.prompt_tps;
        t->generation_tps = st.generation_tps;
        t->peak_gb = (double)mlxc_peak_rss() / 1e9;
    }
    mlxc_batch_free(b);
    return rc;
}

int mlxc_bench_main(const struct mlxc_bench_args *a, FILE *out, struct mlxc_err *e)
{
    if (a->prompt_tokens < 1 || a->generation_tokens < 1 || a->trials < 1 || a->batch_size < 1)
        return mlxc_errf(e, MLXC_EINVAL, "prompt tokens, generation tokens, trials and batch size must be positive");
    char *dir = mlxc_model_dir_resolve(a->model, e);
    if (!dir)
        return e->code;
    struct mlxc_model *m = NULL;
    struct mlxc_state s = {0};
    int32_t *ids = NULL;
    int rc = mlxc_model_open(dir, &m, e);
    int64_t step = a->prefill_step_size > 0 ? a->prefill_step_size : 2048;
    if (!rc)
        rc = mlxc_state_init(&s, m, a->prompt_tokens < step ? a->prompt_tokens : step, a->threads, e);
    if (rc)
        goto out;
    ids = malloc((size_t)a->prompt_tokens * (size_t)a->batch_size * sizeof *ids);
    if (!ids) {
        rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        goto out;
    }
    struct mlxc_rng rng;
    mlxc_rng_seed(&rng, 0);
    for (int64_t i = 0; i < a->prompt_tokens * a->batch_size; i++)
        ids[i] = (int32_t)(mlxc_rng_uniform(&rng) * (float)m->cfg.vocab_size) % (int32_t)m->cfg.vocab_size;

    if (!a->jsonl)
        fprintf(out, "Running warmup..\n");
    struct trial t, sum = {0};
    if ((rc = a->batch_size > 1 ? run_batch_trial(m, a, ids, &t, e) : run_trial(m, &s, a, ids, &t, e)) != 0)
        goto out;
    if (!a->jsonl)
        fprintf(out, "Timing with prompt_tokens=%lld, generation_tokens=%lld, batch_size=%d, threads=%d.\n",
                (long long)a->prompt_tokens, (long long)a->generation_tokens, a->batch_size, mlxc_pool_size(s.pool));
    for (int i = 0; i < a->trials; i++) {
        if ((rc = a->batch_size > 1 ? run_batch_trial(m, a, ids, &t, e) : run_trial(m, &s, a, ids, &t, e)) != 0)
            goto out;
        if (a->jsonl)
            fprintf(out, "{\"trial\": %d, \"prompt_tps\": %.3f, \"generation_tps\": %.3f, \"peak_memory_gb\": %.3f, "
                         "\"total_time\": %.3f}\n", i + 1, t.prompt_tps, t.generation_tps, t.peak_gb, t.total_s);
        else
            fprintf(out, "Trial %d:  prompt_tps=%.3f, generation_tps=%.3f, peak_memory=%.3f, total_time=%.3f\n", i + 1,
                    t.prompt_tps, t.generation_tps, t.peak_gb, t.total_s);
        fflush(out);
        sum.prompt_tps += t.prompt_tps / a->trials;
        sum.generation_tps += t.generation_tps / a->trials;
        sum.peak_gb = t.peak_gb > sum.peak_gb ? t.peak_gb : sum.peak_gb;
    }
    /* after the trials, so that the 1 GiB buffer does not count in their peak memory */
    double bw = mlxc_measure_read_bandwidth(s.pool, (size_t)1 << 30);
    double bytes = (double)mlxc_model_decode_bytes(m);
    double bound = bw > 0 ? bw / bytes : 0;
    /* prefill against the machine's f32 multiply-add rate, measured now (noisy machines drift) */
    const double peak = mlxc_measure_fma_flops(s.pool);
    const double prompt_flops = mlxc_model_prompt_flops(m, a->prompt_tokens);
    const double prefill_flops = prompt_flops / (double)a->prompt_tokens * sum.prompt_tps;
    const char *kernel = mlxc_linear_prefill_kernel(&m->layers[0].wq); /* the layers' products: all alike */
    if (a->jsonl) {
        fprintf(out, "{\"prompt_tokens\": %lld, \"generation_tokens\": %lld, \"prompt_tps\": %.3f, "
                     "\"generation_tps\": %.3f, \"peak_memory_gb\": %.3f, "
                     "\"bytes_per_token\": %.0f, \"bandwidth_gbs\": %.2f, \"decode_bound_tps\": %.3f, "
                     "\"fraction_of_bound\": %.3f, \"model_file_gb\": %.3f, \"prompt_gflop\": %.3f, "
                     "\"prefill_gflops\": %.2f, \"fma_peak_gflops\": %.2f, \"prefill_fraction_of_peak\": %.3f, "
                     "\"prefill_kernel\": \"%s\"}\n",
                (long long)a->prompt_tokens, (long long)a->generation_tokens, sum.prompt_tps, sum.generation_tps,
                sum.peak_gb, bytes, bw / 1e9, bound,
                bound > 0 ? sum.generation_tps / bound : 0, (double)mlxc_weights_nbytes(m->weights) / 1e9,
                prompt_flops / 1e9, prefill_flops / 1e9, peak / 1e9, peak > 0 ? prefill_flops / peak : 0, kernel);
    } else {
        fprintf(out, "Averages: prompt_tps=%.3f, generation_tps=%.3f, peak_memory=%.3f\n", sum.prompt_tps,
                sum.generation_tps, sum.peak_gb);
        fprintf(out, "Decode reads %.1f MB of weights per token; measured read bandwidth %.2f GB/s; bound %.2f tok/s; "
                     "generation at %.0f%% of the bound\n",
                bytes / 1e6, bw / 1e9, bound, bound > 0 ? 100.0 * sum.generation_tps / bound : 0.0);
        fprintf(out, "Prefill computes %.1f GFLOP per prompt (%.1f GFLOP/s); measured f32 FMA peak %.1f GFLOP/s; "
                     "prefill at %.0f%% of the peak; products through %s%s\n",
                prompt_flops / 1e9, prefill_flops / 1e9, peak / 1e9, peak > 0 ? 100.0 * prefill_flops / peak : 0.0,
                kernel, strcmp(kernel, "amx-bf16") == 0 ? " (AMX tiles outrun f32 FMAs: shares over 100% are real)" : "");
    }
out:
    free(ids);
    if (s.pool)
        mlxc_state_free(&s);
    mlxc_model_close(m);
    free(dir);
    return rc;
}

#include "core/app_bench.h"

#include <stdlib.h>

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

int mlxc_bench_main(const struct mlxc_bench_args *a, FILE *out, struct mlxc_err *e)
{
    if (a->prompt_tokens < 1 || a->generation_tokens < 1 || a->trials < 1)
        return mlxc_errf(e, MLXC_EINVAL, "prompt tokens, generation tokens and trials must be positive");
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
    ids = malloc((size_t)a->prompt_tokens * sizeof *ids);
    if (!ids) {
        rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        goto out;
    }
    struct mlxc_rng rng;
    mlxc_rng_seed(&rng, 0);
    for (int64_t i = 0; i < a->prompt_tokens; i++)
        ids[i] = (int32_t)(mlxc_rng_uniform(&rng) * (float)m->cfg.vocab_size) % (int32_t)m->cfg.vocab_size;

    if (!a->jsonl)
        fprintf(out, "Running warmup..\n");
    struct trial t, sum = {0};
    if ((rc = run_trial(m, &s, a, ids, &t, e)) != 0)
        goto out;
    if (!a->jsonl)
        fprintf(out, "Timing with prompt_tokens=%lld, generation_tokens=%lld, batch_size=1, threads=%d.\n",
                (long long)a->prompt_tokens, (long long)a->generation_tokens, mlxc_pool_size(s.pool));
    for (int i = 0; i < a->trials; i++) {
        if ((rc = run_trial(m, &s, a, ids, &t, e)) != 0)
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
    if (a->jsonl) {
        fprintf(out, "{\"prompt_tokens\": %lld, \"generation_tokens\": %lld, \"prompt_tps\": %.3f, "
                     "\"generation_tps\": %.3f, \"peak_memory_gb\": %.3f, "
                     "\"bytes_per_token\": %.0f, \"bandwidth_gbs\": %.2f, \"decode_bound_tps\": %.3f, "
                     "\"fraction_of_bound\": %.3f, \"model_file_gb\": %.3f}\n",
                (long long)a->prompt_tokens, (long long)a->generation_tokens, sum.prompt_tps, sum.generation_tps,
                sum.peak_gb, bytes, bw / 1e9, bound,
                bound > 0 ? sum.generation_tps / bound : 0, (double)mlxc_weights_nbytes(m->weights) / 1e9);
    } else {
        fprintf(out, "Averages: prompt_tps=%.3f, generation_tps=%.3f, peak_memory=%.3f\n", sum.prompt_tps,
                sum.generation_tps, sum.peak_gb);
        fprintf(out, "Decode reads %.1f MB of weights per token; measured read bandwidth %.2f GB/s; bound %.2f tok/s; "
                     "generation at %.0f%% of the bound\n",
                bytes / 1e6, bw / 1e9, bound, bound > 0 ? 100.0 * sum.generation_tps / bound : 0.0);
    }
out:
    free(ids);
    if (s.pool)
        mlxc_state_free(&s);
    mlxc_model_close(m);
    free(dir);
    return rc;
}

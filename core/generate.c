#include "core/generate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "core/sys.h"

int mlxc_prefill(const struct mlxc_model *m, struct mlxc_state *s, struct mlxc_kv_cache *cache, const int32_t *ids,
                 int64_t n, int64_t step, int want_logits, struct mlxc_err *e)
{
    if (step < 1 || step > s->max_chunk)
        step = s->max_chunk;
    for (int64_t i = 0; i < n; i += step) {
        int64_t T = n - i < step ? n - i : step;
        int rc = mlxc_forward(m, s, cache, ids + i, T, want_logits && i + T == n, e);
        if (rc)
            return rc;
    }
    return 0;
}

static int is_eos(const struct mlxc_gen_params *p, int32_t id)
{
    for (int i = 0; i < p->n_eos; i++)
        if (p->eos[i] == id)
            return 1;
    return 0;
}

/* The k best (id, logprob) pairs, best first (k is small: insertion into a sorted list). */
void mlxc_top_logprobs(const float *lp, int64_t n, int k, int32_t *ids, float *vals)
{
    for (int i = 0; i < k; i++) {
        ids[i] = -1;
        vals[i] = -INFINITY;
    }
    for (int64_t t = 0; t < n; t++) {
        if (!(lp[t] > vals[k - 1]))
            continue;
        int j = k - 1;
        while (j > 0 && lp[t] > vals[j - 1]) {
            vals[j] = vals[j - 1];
            ids[j] = ids[j - 1];
            j--;
        }
        vals[j] = lp[t];
        ids[j] = (int32_t)t;
    }
}

int mlxc_generate(const struct mlxc_model *m, struct mlxc_state *s, struct mlxc_kv_cache *cache,
                  const int32_t *prompt, int64_t n_prompt, const struct mlxc_gen_params *p, mlxc_gen_cb cb,
                  void *ctx, struct mlxc_gen_stats *stats, struct mlxc_err *e)
{
    memset(stats, 0, sizeof *stats);
    stats->prompt_tokens = n_prompt;
    if (n_prompt < 1)
        return mlxc_errf(e, MLXC_EINVAL, "the prompt is empty");
    const int64_t V = m->cfg.vocab_size;
    struct mlxc_sampler sampler;
    int rc = mlxc_sampler_init(&sampler, &p->sampling, V, e);
    if (rc)
        return rc;
    if (p->rng)
        sampler.rng = *p->rng;
    else if (p->has_seed)
        mlxc_rng_seed(&sampler.rng, p->seed);
    else
        mlxc_rng_seed_time(&sampler.rng);
    int k = p->top_logprobs > 0 ? p->top_logprobs : 0;
    int processors = mlxc_logits_active(&p->logits);
    float *lp = malloc((size_t)V * sizeof *lp), *work = malloc((size_t)V * sizeof *work);
    int32_t *top_ids = malloc(((size_t)k + 1) * sizeof *top_ids);
    float *top_vals = malloc(((size_t)k + 1) * sizeof *top_vals);
    int32_t *seen = processors ? calloc((size_t)V, sizeof *seen) : NULL;
    /* the token history the penalties look at: what the cache held before (only the part within reach
     * of the context size), the prompt, then each generated token */
    int64_t n_before = p->history && processors ? p->n_history : 0;
    if (p->logits.context_size > 0 && n_before > p->logits.context_size)
        n_before = p->logits.context_size;
    int64_t hist_cap = n_before + n_prompt + (p->max_tokens > 0 ? p->max_tokens : 256) + 1, n_hist = n_before + n_prompt;
    int32_t *hist = processors ? malloc((size_t)hist_cap * sizeof *hist) : NULL;
    if (!lp || !work || !top_ids || !top_vals || (processors && (!seen || !hist))) {
        rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        goto out;
    }
    if (processors && (rc = mlxc_logits_check(&p->logits, e)) != 0)
        goto out;
    if (hist) {
        if (n_before)
            memcpy(hist, p->history + p->n_history - n_before, (size_t)n_before * sizeof *hist);
        memcpy(hist + n_before, prompt, (size_t)n_prompt * sizeof *hist);
    }

    double t0 = mlxc_now(), t1 = t0;
    /* all but the last prompt token, then the last one with logits (mlx_lm generate_step) */
    if ((rc = mlxc_prefill(m, s, cache, prompt, n_prompt - 1, p->prefill_step_size, 0, e)) != 0 ||
        (rc = mlxc_forward(m, s, cache, prompt + n_prompt - 1, 1, 1, e)) != 0)
        goto out;
    stats->finish_reason = "length";
    for (int64_t n = 0; p->max_tokens < 0 || n < p->max_tokens; n++) {
        if (processors)
            mlxc_logits_apply(&p->logits, s->logits, V, hist, n_hist, seen);
        mlxc_log_softmax(lp, s->logits, V);
        memcpy(work, lp, (size_t)V * sizeof *lp);
        int32_t y = mlxc_sampler_sample(&sampler, work);
        double now = mlxc_now();
        if (n == 0) {
            stats->prompt_tps = (double)n_prompt / (now - t0);
            t1 = now;
        }
        stats->generation_tokens = n + 1;
        stats->generation_tps = n > 0 ? (double)(n + 1) / (now - t1) : 0.0;
        if (k)
            mlxc_top_logprobs(lp, V, k, top_ids, top_vals);
        if (hist) {
            if (n_hist == hist_cap) {
                int32_t *nh = realloc(hist, (size_t)(hist_cap *= 2) * sizeof *hist);
                if (!nh) {
                    rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
                    break;
                }
                hist = nh;
            }
            hist[n_hist++] = y;
        }
        struct mlxc_gen_token tok = {y, is_eos(p, y), lp[y], top_ids, top_vals, k};
        int last = tok.is_eos || (p->max_tokens >= 0 && n + 1 >= p->max_tokens);
        if (tok.is_eos)
            stats->finish_reason = "stop";
        if (cb && cb(ctx, &tok, stats) != 0) {
            stats->finish_reason = "stop";
            last = 1;
        }
        if (p->interrupt && *p->interrupt) {
            stats->finish_reason = "interrupted";
            last = 1;
        }
        if (last && !p->feed_last)
            break;
        if ((rc = mlxc_forward(m, s, cache, &y, 1, !last, e)) != 0 || last)
            break;
    }
out:
    if (p->rng)
        *p->rng = sampler.rng;
    mlxc_sampler_free(&sampler);
    free(lp);
    free(work);
    free(top_ids);
    free(top_vals);
    free(seen);
    free(hist);
    return rc;
}

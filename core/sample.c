#include "core/sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int32_t mlxc_argmax(const float *x, int64_t n)
{
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return (int32_t)best;
}

/* Sorting indices by value. qsort has no context argument, so the values travel in a thread-local
 * pointer (batched decode samples several requests on the pool's threads at once). Ties keep index
 * order (a stable sort by (value, id)). */
static _Thread_local const float *sort_vals;
static int by_value_asc(const void *a, const void *b)
{
    int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
    if (sort_vals[i] != sort_vals[j])
        return sort_vals[i] < sort_vals[j] ? -1 : 1;
    return (i > j) - (i < j);
}
static int by_value_desc(const void *a, const void *b)
{
    int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
    if (sort_vals[i] != sort_vals[j])
        return sort_vals[i] > sort_vals[j] ? -1 : 1;
    return (i > j) - (i < j);
}

static void sort_indices(const float *v, int64_t n, int32_t *order, int descending)
{
    for (int64_t i = 0; i < n; i++)
        order[i] = (int32_t)i;
    sort_vals = v;
    qsort(order, (size_t)n, sizeof *order, descending ? by_value_desc : by_value_asc);
}

/* Keep a token iff the probability mass of it and everything less likely is > 1 - top_p. */
void mlxc_apply_top_p(float *logprobs, int64_t n, float top_p, int32_t *order, float *tmp)
{
    sort_indices(logprobs, n, order, 0);
    float cum = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        cum += expf(logprobs[order[i]]);
        tmp[order[i]] = cum;
    }
    for (int64_t i = 0; i < n; i++)
        if (!(tmp[i] > 1.0f - top_p))
            logprobs[i] = -INFINITY;
}

/* Remove a token iff logprob < max + ln(min_p); the top min_tokens_to_keep always stay. */
void mlxc_apply_min_p(float *logprobs, int64_t n, float min_p, int min_tokens_to_keep, int32_t *order)
{
    float cut = logprobs[mlxc_argmax(logprobs, n)] + logf(min_p);
    if (min_tokens_to_keep <= 1) {
        for (int64_t i = 0; i < n; i++)
            if (logprobs[i] < cut)
                logprobs[i] = -INFINITY;
        return;
    }
    sort_indices(logprobs, n, order, 1); /* ranks below min_tokens_to_keep are protected */
    for (int64_t r = min_tokens_to_keep; r < n; r++)
        if (logprobs[order[r]] < cut)
            logprobs[order[r]] = -INFINITY;
}

/* Exclude Top Choices: with probability `probability`, remove every token whose p > threshold except
 * the least likely of them; special ids are never removed. */
void mlxc_apply_xtc(float *logprobs, int64_t n, float threshold, float probability, float coin,
                    const int32_t *special, int n_special, float *tmp)
{
    if (coin > probability)
        return;
    float m = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        m = logprobs[i] > m ? logprobs[i] : m;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += (tmp[i] = expf(logprobs[i] - m));
    float min_above = INFINITY;
    for (int64_t i = 0; i < n; i++) {
        tmp[i] = (float)(tmp[i] / sum);
        if (tmp[i] > threshold && tmp[i] < min_above)
            min_above = tmp[i];
    }
    for (int64_t i = 0; i < n; i++) {
        if (!(tmp[i] > min_above))
            continue;
        int is_special = 0;
        for (int k = 0; k < n_special; k++)
            if (special[k] == i)
                is_special = 1;
        if (!is_special)
            logprobs[i] = -INFINITY;
    }
}

/* Keep the k largest. */
void mlxc_apply_top_k(float *logprobs, int64_t n, int k, int32_t *order)
{
    sort_indices(logprobs, n, order, 1);
    for (int64_t i = k; i < n; i++)
        logprobs[order[i]] = -INFINITY;
}

/* mlx categorical for one distribution: x = logits / temp, w = exp(x - max) (or x == max when max is
 * infinite), cdf = exclusive cumsum(w), token = searchsorted_right(cdf, u * sum(w)) - 1. */
int32_t mlxc_categorical(const float *logprobs, int64_t n, float temp, float u, float *tmp)
{
    float inv = 1.0f / temp, m = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        tmp[i] = logprobs[i] * inv;
        m = tmp[i] > m ? tmp[i] : m;
    }
    float total = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        float w = isinf(m) ? (float)(tmp[i] == m) : expf(tmp[i] - m);
        tmp[i] = total; /* exclusive prefix sum */
        total += w;
    }
    float target = u * total;
    /* searchsorted right: first index with cdf > target, minus one */
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (tmp[mid] > target)
            hi = mid;
        else
            lo = mid + 1;
    }
    return (int32_t)(lo > 0 ? lo - 1 : 0);
}

int mlxc_sampler_init(struct mlxc_sampler *s, const struct mlxc_sampler_params *p, int64_t vocab,
                      struct mlxc_err *e)
{
    memset(s, 0, sizeof *s);
    s->p = *p;
    s->vocab = vocab;
    if (p->temp < 0)
        return mlxc_errf(e, MLXC_EINVAL, "temperature %g is negative", p->temp);
    if (p->min_p < 0 || p->min_p > 1)
        return mlxc_errf(e, MLXC_EINVAL, "min_p must be in [0, 1], got %g", p->min_p);
    if (p->top_p < 0 || p->top_p > 1)
        return mlxc_errf(e, MLXC_EINVAL, "top_p must be in [0, 1], got %g", p->top_p);
    if (p->top_k < 0 || (p->top_k > 0 && p->top_k >= vocab))
        return mlxc_errf(e, MLXC_EINVAL, "top_k must be between 0 and the vocabulary size %lld, got %d",
                         (long long)vocab, p->top_k);
    if (p->xtc_probability > 0 && (p->xtc_threshold < 0 || p->xtc_threshold > 0.5f))
        return mlxc_errf(e, MLXC_EINVAL, "xtc_threshold must be in [0, 0.5], got %g", p->xtc_threshold);
    if (p->xtc_probability < 0 || p->xtc_probability > 1)
        return mlxc_errf(e, MLXC_EINVAL, "xtc_probability must be in [0, 1], got %g", p->xtc_probability);
    s->order = malloc((size_t)vocab * sizeof *s->order);
    s->tmp = malloc((size_t)vocab * sizeof *s->tmp);
    s->special = malloc(((size_t)p->n_xtc_special + 1) * sizeof *s->special);
    if (!s->order || !s->tmp || !s->special) {
        mlxc_sampler_free(s);
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    }
    if (p->n_xtc_special)
        memcpy(s->special, p->xtc_special, (size_t)p->n_xtc_special * sizeof *s->special);
    s->p.xtc_special = s->special;
    return 0;
}

void mlxc_sampler_free(struct mlxc_sampler *s)
{
    free(s->order);
    free(s->tmp);
    free(s->special);
    s->order = s->special = NULL;
    s->tmp = NULL;
}

int32_t mlxc_sampler_sample(struct mlxc_sampler *s, float *lp)
{
    const struct mlxc_sampler_params *p = &s->p;
    const int64_t n = s->vocab;
    if (p->temp == 0.0f)
        return mlxc_argmax(lp, n);
    if (p->top_p > 0 && p->top_p < 1)
        mlxc_apply_top_p(lp, n, p->top_p, s->order, s->tmp);
    if (p->min_p != 0)
        mlxc_apply_min_p(lp, n, p->min_p, p->min_tokens_to_keep, s->order);
    if (p->xtc_probability > 0)
        mlxc_apply_xtc(lp, n, p->xtc_threshold, p->xtc_probability, mlxc_rng_uniform(&s->rng), p->xtc_special,
                       p->n_xtc_special, s->tmp);
    if (p->top_k > 0)
        mlxc_apply_top_k(lp, n, p->top_k, s->order);
    return mlxc_categorical(lp, n, p->temp, mlxc_rng_uniform(&s->rng), s->tmp);
}

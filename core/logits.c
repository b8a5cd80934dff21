#include "core/logits.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int mlxc_logits_active(const struct mlxc_logits_params *p)
{
    return (p->repetition_penalty != 0 && p->repetition_penalty != 1) || p->presence_penalty != 0 ||
           p->frequency_penalty != 0 || p->n_bias > 0;
}

int mlxc_logits_check(const struct mlxc_logits_params *p, struct mlxc_err *e)
{
    if (p->repetition_penalty < 0)
        return mlxc_errf(e, MLXC_EINVAL, "repetition penalty must be non-negative, got %g", p->repetition_penalty);
    if (p->context_size < 1)
        return mlxc_errf(e, MLXC_EINVAL, "repetition context size must be at least 1, got %d", p->context_size);
    return 0;
}

void mlxc_logits_apply(const struct mlxc_logits_params *p, float *logits, int64_t vocab, const int32_t *history,
                       int64_t n_history, int32_t *seen)
{
    for (int i = 0; i < p->n_bias; i++)
        logits[p->bias_ids[i]] += p->bias_values[i];
    int rep = p->repetition_penalty != 0 && p->repetition_penalty != 1;
    if (!rep && p->presence_penalty == 0 && p->frequency_penalty == 0)
        return;
    int64_t from = n_history > p->context_size ? n_history - p->context_size : 0;
    for (int64_t i = from; i < n_history; i++) /* counts per id in the window */
        if (history[i] >= 0 && history[i] < vocab)
            seen[history[i]]++;
    for (int64_t i = from; i < n_history; i++) {
        int32_t id = history[i];
        if (id < 0 || id >= vocab || seen[id] == 0)
            continue; /* already handled (duplicates are not compounded) */
        float l = logits[id];
        if (rep)
            l = l < 0 ? l * p->repetition_penalty : l / p->repetition_penalty;
        l -= p->presence_penalty + p->frequency_penalty * (float)seen[id];
        logits[id] = l;
        seen[id] = 0;
    }
}

int mlxc_logit_bias_parse(const char *s, int64_t vocab, int32_t **ids, float **values, int *n, struct mlxc_err *e)
{
    *ids = NULL;
    *values = NULL;
    *n = 0;
    int cap = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long id = strtol(p, &end, 10);
        if (end == p || *end != '=' || errno || id < 0 || (vocab > 0 && id >= vocab))
            return mlxc_errf(e, MLXC_EINVAL, "--logit-bias: '%s' is not ID=VALUE with an id in the vocabulary", p);
        p = end + 1;
        float v = strtof(p, &end);
        if (end == p || (*end && *end != ',') || !isfinite(v))
            return mlxc_errf(e, MLXC_EINVAL, "--logit-bias: bad value in '%s'", p);
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            int32_t *ni = realloc(*ids, (size_t)cap * sizeof *ni);
            float *nv = ni ? realloc(*values, (size_t)cap * sizeof *nv) : NULL;
            if (ni)
                *ids = ni;
            if (nv)
                *values = nv;
            if (!ni || !nv)
                return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        }
        (*ids)[*n] = (int32_t)id;
        (*values)[*n] = v;
        (*n)++;
        p = *end == ',' ? end + 1 : end;
    }
    return 0;
}

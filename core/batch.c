/* Continuous batching: see core/batch.h. */
#include "core/batch.h"

#include <stdlib.h>
#include <string.h>

#include "core/forward_batch.h"
#include "core/ops.h"
#include "core/pool.h"
#include "core/sys.h"

struct req {
    uint64_t uid;
    void *user;
    int32_t *prompt;
    int64_t n_prompt;
    int64_t done;                /* prompt tokens prefilled (all but the last go through prefill) */
    struct mlxc_gen_params p;
    int32_t *bias_ids;           /* owned copies of p.logits' bias arrays */
    float *bias_values;
    const struct mlxc_kv_cache *prefix;
    struct mlxc_kv_cache own;    /* used when the caller gave no cache */
    struct mlxc_kv_cache *cache; /* NULL until admitted */
    struct mlxc_sampler sampler;
    int32_t *hist, *seen;        /* logits processors only: the prompt and the output so far, counts */
    int64_t n_hist, hist_cap;
    int32_t *top_ids;            /* top_logprobs pairs of the current token */
    float *top_vals;
    int64_t n_gen;
    int32_t next;                /* the token the next decode step feeds */
    int32_t y;                   /* the token the decode step sampled */
};

struct mlxc_batch {
    const struct mlxc_model *m;
    struct mlxc_batch_opts o;
    struct mlxc_state s;
    struct req **wait, **pre, **act; /* FIFO of waiting requests; the prefill group; decoding, in order */
    int64_t n_wait, cap_wait, n_pre, n_act;
    struct mlxc_kv_cache **caches;   /* (completion) */
    int32_t *tokens;                 /* (max_chunk): a decode step's tokens, or a prefill pass's chunks */
    int64_t *seg_T;                  /* (prefill_batch_size) */
    struct req **seg_req;            /* (prefill_batch_size) */
    float *logits, *work;            /* (completion, vocab) each: logits, then log-probabilities; sampler input */
    uint64_t next_uid;
    struct mlxc_batch_stats st;
};

static void req_free(struct req *r)
{
    if (!r)
        return;
    mlxc_sampler_free(&r->sampler);
    mlxc_kv_free(&r->own);
    free(r->prompt);
    free(r->bias_ids);
    free(r->bias_values);
    free(r->hist);
    free(r->seen);
    free(r->top_ids);
    free(r->top_vals);
    free(r);
}

int mlxc_batch_create(const struct mlxc_model *m, const struct mlxc_batch_opts *o, struct mlxc_batch **out,
                      struct mlxc_err *e)
{
    *out = NULL;
    struct mlxc_batch_opts opt = *o;
    if (opt.prefill_batch_size <= 0)
        opt.prefill_batch_size = 8;
    if (opt.completion_batch_size <= 0)
        opt.completion_batch_size = 32;
    if (opt.prefill_step_size <= 0)
        opt.prefill_step_size = 2048;
    if (opt.completion_batch_size < opt.prefill_batch_size)
        return mlxc_errf(e, MLXC_EINVAL, "the completion batch size (%d) must be at least the prefill batch size (%d)",
                         opt.completion_batch_size, opt.prefill_batch_size);
    struct mlxc_batch *b = calloc(1, sizeof *b);
    if (!b)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    b->m = m;
    b->o = opt;
    const int64_t V = m->cfg.vocab_size, C = opt.completion_batch_size, P = opt.prefill_batch_size;
    int64_t chunk = opt.prefill_step_size > C ? opt.prefill_step_size : C;
    int rc = mlxc_state_init_rows(&b->s, m, chunk, chunk, opt.threads, e);
    if (rc) {
        free(b);
        return rc;
    }
    b->pre = calloc((size_t)P, sizeof *b->pre);
    b->act = calloc((size_t)C, sizeof *b->act);
    b->caches = calloc((size_t)C, sizeof *b->caches);
    b->tokens = calloc((size_t)chunk, sizeof *b->tokens);
    b->seg_T = calloc((size_t)P, sizeof *b->seg_T);
    b->seg_req = calloc((size_t)P, sizeof *b->seg_req);
    b->logits = mlxc_alloc_aligned((size_t)(C * V) * sizeof(float));
    b->work = mlxc_alloc_aligned((size_t)(C * V) * sizeof(float));
    if (!b->pre || !b->act || !b->caches || !b->tokens || !b->seg_T || !b->seg_req || !b->logits || !b->work) {
        mlxc_batch_free(b);
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory for a batch of %lld", (long long)C);
    }
    *out = b;
    return 0;
}

void mlxc_batch_free(struct mlxc_batch *b)
{
    if (!b)
        return;
    for (int64_t i = 0; i < b->n_wait; i++)
        req_free(b->wait[i]);
    for (int64_t i = 0; i < b->n_pre; i++)
        req_free(b->pre[i]);
    for (int64_t i = 0; i < b->n_act; i++)
        req_free(b->act[i]);
    free(b->wait);
    free(b->pre);
    free(b->act);
    free(b->caches);
    free(b->tokens);
    free(b->seg_T);
    free(b->seg_req);
    mlxc_free_aligned(b->logits);
    mlxc_free_aligned(b->work);
    if (b->s.pool)
        mlxc_state_free(&b->s);
    free(b);
}

int mlxc_batch_insert(struct mlxc_batch *b, const struct mlxc_batch_request *in, uint64_t *uid, struct mlxc_err *e)
{
    const int64_t V = b->m->cfg.vocab_size;
    if (in->n_prompt < 1)
        return mlxc_errf(e, MLXC_EINVAL, "the prompt is empty");
    if (in->params.max_tokens == 0)
        return mlxc_errf(e, MLXC_EINVAL, "max_tokens is 0: nothing to generate");
    for (int64_t i = 0; i < in->n_prompt; i++)
        if (in->prompt[i] < 0 || in->prompt[i] >= V)
            return mlxc_errf(e, MLXC_EINVAL, "token id %d is outside the vocabulary (0..%lld)", in->prompt[i],
                             (long long)V - 1);
    const struct mlxc_logits_params *lg = &in->params.logits;
    for (int i = 0; i < lg->n_bias; i++)
        if (lg->bias_ids[i] < 0 || lg->bias_ids[i] >= V)
            return mlxc_errf(e, MLXC_EINVAL, "logit bias: token %d is outside the vocabulary (0..%lld)",
                             lg->bias_ids[i], (long long)V - 1);
    if (mlxc_logits_active(lg)) {
        int rc = mlxc_logits_check(lg, e);
        if (rc)
            return rc;
    }
    if (b->n_wait == b->cap_wait) {
        int64_t cap = b->cap_wait ? 2 * b->cap_wait : 16;
        struct req **w = realloc(b->wait, (size_t)cap * sizeof *w);
        if (!w)
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        b->wait = w;
        b->cap_wait = cap;
    }
    struct req *r = calloc(1, sizeof *r);
    if (!r)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    r->user = in->user;
    r->p = in->params;
    r->n_prompt = in->n_prompt;
    r->cache = in->cache;
    r->prefix = in->cache ? NULL : in->prefix;
    int rc = mlxc_sampler_init(&r->sampler, &in->params.sampling, V, e);
    if (rc) {
        free(r);
        return rc;
    }
    if (r->p.has_seed)
        mlxc_rng_seed(&r->sampler.rng, r->p.seed);
    else
        mlxc_rng_seed_time(&r->sampler.rng);
    int oom = 0;
    if (lg->n_bias > 0) {
        r->bias_ids = malloc((size_t)lg->n_bias * sizeof *r->bias_ids);
        r->bias_values = malloc((size_t)lg->n_bias * sizeof *r->bias_values);
        if (r->bias_ids && r->bias_values) {
            memcpy(r->bias_ids, lg->bias_ids, (size_t)lg->n_bias * sizeof *r->bias_ids);
            memcpy(r->bias_values, lg->bias_values, (size_t)lg->n_bias * sizeof *r->bias_values);
        }
        oom |= !r->bias_ids || !r->bias_values;
        r->p.logits.bias_ids = r->bias_ids;
        r->p.logits.bias_values = r->bias_values;
    }
    if (mlxc_logits_active(lg)) {
        r->hist_cap = in->n_prompt + (r->p.max_tokens > 0 ? r->p.max_tokens : 256) + 1;
        r->hist = malloc((size_t)r->hist_cap * sizeof *r->hist);
        r->seen = calloc((size_t)V, sizeof *r->seen);
        if (r->hist)
            memcpy(r->hist, in->prompt, (size_t)in->n_prompt * sizeof *r->hist);
        r->n_hist = in->n_prompt;
        oom |= !r->hist || !r->seen;
    }
    if (r->p.top_logprobs < 0)
        r->p.top_logprobs = 0;
    if (r->p.top_logprobs > V)
        r->p.top_logprobs = (int)V;
    if (r->p.top_logprobs > 0) {
        r->top_ids = malloc((size_t)r->p.top_logprobs * sizeof *r->top_ids);
        r->top_vals = malloc((size_t)r->p.top_logprobs * sizeof *r->top_vals);
        oom |= !r->top_ids || !r->top_vals;
    }
    r->prompt = malloc((size_t)in->n_prompt * sizeof *r->prompt);
    if (!r->prompt || oom) {
        req_free(r);
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    }
    memcpy(r->prompt, in->prompt, (size_t)in->n_prompt * sizeof *r->prompt);
    r->uid = ++b->next_uid;
    b->wait[b->n_wait++] = r;
    if (uid)
        *uid = r->uid;
    return 0;
}

/* Removes entry i of list (n entries), keeping the order. */
static void list_drop(struct req **list, int64_t *n, int64_t i)
{
    memmove(list + i, list + i + 1, (size_t)(*n - i - 1) * sizeof *list);
    (*n)--;
}

int mlxc_batch_remove(struct mlxc_batch *b, uint64_t uid)
{
    struct {
        struct req **list;
        int64_t *n;
    } lists[] = {{b->wait, &b->n_wait}, {b->pre, &b->n_pre}, {b->act, &b->n_act}};
    for (size_t k = 0; k < sizeof lists / sizeof lists[0]; k++)
        for (int64_t i = 0; i < *lists[k].n; i++)
            if (lists[k].list[i]->uid == uid) {
                req_free(lists[k].list[i]);
                list_drop(lists[k].list, lists[k].n, i);
                return 1;
            }
    return 0;
}

int64_t mlxc_batch_pending(const struct mlxc_batch *b) { return b->n_wait + b->n_pre + b->n_act; }
int64_t mlxc_batch_active(const struct mlxc_batch *b) { return b->n_act; }

void mlxc_batch_get_stats(const struct mlxc_batch *b, struct mlxc_batch_stats *st)
{
    *st = b->st;
    st->prompt_tps = st->prompt_time > 0 ? (double)st->prompt_tokens / st->prompt_time : 0.0;
    st->generation_tps = st->generation_time > 0 ? (double)st->generation_tokens / st->generation_time : 0.0;
    st->peak_memory = mlxc_peak_rss();
}

/* A request whose prompt is prefilled but for its last token joins the decoding batch. */
static void join(struct mlxc_batch *b, struct req *r)
{
    r->next = r->prompt[r->n_prompt - 1];
    b->act[b->n_act++] = r;
    b->st.prompt_tokens++; /* the last prompt token goes through the model in the decode step */
}

/* Admission: waiting requests into the prefill group while there is room; each gets its cache now. */
static int admit(struct mlxc_batch *b, struct mlxc_err *e)
{
    while (b->n_wait > 0 && b->n_pre < b->o.prefill_batch_size &&
           b->n_pre + b->n_act < b->o.completion_batch_size) {
        struct req *r = b->wait[0];
        list_drop(b->wait, &b->n_wait, 0);
        if (!r->cache) {
            int rc = r->prefix ? mlxc_kv_copy(&r->own, r->prefix, e) : mlxc_cache_make(b->m, &b->o.cache, &r->own, e);
            if (rc) {
                mlxc_err_ctx(e, "request %llu", (unsigned long long)r->uid);
                req_free(r);
                return rc;
            }
            r->cache = &r->own;
        }
        if (r->n_prompt == 1)
            join(b, r);
        else
            b->pre[b->n_pre++] = r;
    }
    return 0;
}

/* One prefill pass: the group members' next chunks (as mlxc_prefill cuts a prompt: prefill_step_size
 * tokens, the rest last) while they fit in the state's rows, stacked into one forward pass. */
static int prefill_pass(struct mlxc_batch *b, struct mlxc_err *e)
{
    const int64_t step = b->o.prefill_step_size, budget = b->s.max_chunk;
    int n = 0;
    int64_t N = 0;
    for (int64_t i = 0; i < b->n_pre; i++) {
        struct req *r = b->pre[i];
        int64_t left = r->n_prompt - 1 - r->done, T = left < step ? left : step;
        if (N + T > budget)
            continue;
        memcpy(b->tokens + N, r->prompt + r->done, (size_t)T * sizeof *b->tokens);
        b->caches[n] = r->cache;
        b->seg_T[n] = T;
        b->seg_req[n++] = r;
        N += T;
    }
    double t0 = mlxc_now();
    int rc = mlxc_forward_group(b->m, &b->s, b->caches, b->tokens, b->seg_T, n, e);
    b->st.prompt_time += mlxc_now() - t0;
    b->st.prefill_passes++;
    if (!rc)
        b->st.prompt_tokens += N;
    int64_t kept = 0;
    for (int64_t i = 0, k = 0; i < b->n_pre; i++) {
        struct req *r = b->pre[i];
        int in_pass = k < n && b->seg_req[k] == r;
        if (in_pass)
            r->done += b->seg_T[k++];
        if (rc && in_pass) /* its cache holds part of the pass */
            req_free(r);
        else if (r->done == r->n_prompt - 1)
            join(b, r);
        else
            b->pre[kept++] = r;
    }
    b->n_pre = kept;
    if (rc)
        mlxc_err_ctx(e, "prefilling %d requests", n);
    return rc;
}

static int is_eos(const struct mlxc_gen_params *p, int32_t id)
{
    for (int i = 0; i < p->n_eos; i++)
        if (p->eos[i] == id)
            return 1;
    return 0;
}

/* Sampling of the decode step's requests, spread over the pool's threads (each request has its own
 * processors' scratch, sampler and generator, so the order does not matter): processors, log-softmax
 * (in place: the logits row becomes the log-probabilities), the sampler on a copy, top_logprobs. */
struct sample_job {
    struct mlxc_batch *b;
    int64_t n;
};

static void sample_task(void *ctx, int tid, int nth)
{
    const struct sample_job *j = ctx;
    struct mlxc_batch *b = j->b;
    const int64_t V = b->m->cfg.vocab_size;
    for (int64_t i = tid; i < j->n; i += nth) {
        struct req *r = b->act[i];
        float *lp = b->logits + i * V, *work = b->work + i * V;
        if (r->hist)
            mlxc_logits_apply(&r->p.logits, lp, V, r->hist, r->n_hist, r->seen);
        mlxc_log_softmax(lp, lp, V);
        memcpy(work, lp, (size_t)V * sizeof *lp);
        r->y = mlxc_sampler_sample(&r->sampler, work);
        if (r->p.top_logprobs > 0)
            mlxc_top_logprobs(lp, V, r->p.top_logprobs, r->top_ids, r->top_vals);
    }
}

/* One decode step for every active request: the forward pass, sampling, then the events in order. */
static int decode(struct mlxc_batch *b, mlxc_batch_cb cb, void *ctx, struct mlxc_err *e)
{
    const int64_t V = b->m->cfg.vocab_size, n = b->n_act;
    double t0 = mlxc_now();
    for (int64_t i = 0; i < n; i++) {
        b->caches[i] = b->act[i]->cache;
        b->tokens[i] = b->act[i]->next;
    }
    int rc = mlxc_forward_batch(b->m, &b->s, b->caches, b->tokens, n, b->logits, e);
    if (rc) { /* every cache may hold part of the step */
        for (int64_t i = 0; i < n; i++)
            req_free(b->act[i]);
        b->n_act = 0;
        return rc;
    }
    struct sample_job sj = {b, n};
    mlxc_pool_run(b->s.pool, sample_task, &sj);
    int64_t kept = 0;
    for (int64_t i = 0; i < n; i++) {
        struct req *r = b->act[i];
        const float *lp = b->logits + i * V;
        int32_t y = r->y;
        r->n_gen++;
        if (r->hist) {
            if (r->n_hist == r->hist_cap) {
                int32_t *nh = realloc(r->hist, (size_t)(r->hist_cap * 2) * sizeof *nh);
                if (!nh) { /* this request and the rest stay as they are; the caller fails */
                    rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
                    for (int64_t j = i; j < n; j++)
                        b->act[kept++] = b->act[j];
                    break;
                }
                r->hist = nh;
                r->hist_cap *= 2;
            }
            r->hist[r->n_hist++] = y;
        }
        struct mlxc_batch_event ev = {
            .uid = r->uid, .user = r->user,
            .tok = {.id = y, .is_eos = is_eos(&r->p, y), .logprob = lp[y], .top_ids = r->top_ids,
                    .top_logprobs = r->top_vals, .n_top = r->p.top_logprobs},
            .prompt_tokens = r->n_prompt, .generation_tokens = r->n_gen,
        };
        if (ev.tok.is_eos)
            ev.finish_reason = "stop";
        else if (r->p.max_tokens >= 0 && r->n_gen >= r->p.max_tokens)
            ev.finish_reason = "length";
        const char *fr = ev.finish_reason;
        if (cb && cb(ctx, &ev) != 0 && !fr)
            fr = "stop";
        if (fr) {
            req_free(r);
        } else {
            r->next = y;
            b->act[kept++] = r;
        }
    }
    b->n_act = kept;
    b->st.generation_tokens += n;
    b->st.generation_time += mlxc_now() - t0;
    return rc;
}

int mlxc_batch_step(struct mlxc_batch *b, mlxc_batch_cb cb, void *ctx, struct mlxc_err *e)
{
    int rc = admit(b, e);
    if (!rc && b->n_pre > 0)
        rc = prefill_pass(b, e);
    if (!rc && b->n_act > 0)
        rc = decode(b, cb, ctx, e);
    return rc;
}

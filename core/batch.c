/* Continuous batching: see core/batch.h. */
#include "core/batch.h"

#include <stdlib.h>
#include <string.h>

#include "core/forward_batch.h"
#include "core/ops.h"
#include "core/sys.h"

struct req {
    uint64_t uid;
    void *user;
    int32_t *prompt;
    int64_t n_prompt;
    struct mlxc_gen_params p;
    struct mlxc_kv_cache own;    /* used when the caller gave no cache */
    struct mlxc_kv_cache *cache;
    struct mlxc_sampler sampler;
    int32_t *hist, *seen;        /* logits processors only: the prompt and the output so far, counts */
    int64_t n_hist, hist_cap;
    int64_t n_gen;
    int32_t next;                /* the token the next decode step feeds */
};

struct mlxc_batch {
    const struct mlxc_model *m;
    struct mlxc_batch_opts o;
    struct mlxc_state s;
    struct req **wait, **act;    /* FIFO of waiting requests; active ones in decode order */
    int64_t n_wait, cap_wait, n_act;
    struct mlxc_kv_cache **caches;
    int32_t *tokens;
    float *logits, *lp, *work;   /* (completion, vocab), (vocab), (vocab) */
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
    free(r->hist);
    free(r->seen);
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
    const int64_t V = m->cfg.vocab_size, C = opt.completion_batch_size;
    int64_t chunk = opt.prefill_step_size > C ? opt.prefill_step_size : C;
    int rc = mlxc_state_init(&b->s, m, chunk, opt.threads, e);
    if (rc) {
        free(b);
        return rc;
    }
    b->act = calloc((size_t)C, sizeof *b->act);
    b->caches = calloc((size_t)C, sizeof *b->caches);
    b->tokens = calloc((size_t)C, sizeof *b->tokens);
    b->logits = mlxc_alloc_aligned((size_t)(C * V) * sizeof(float));
    b->lp = malloc((size_t)V * sizeof(float));
    b->work = malloc((size_t)V * sizeof(float));
    if (!b->act || !b->caches || !b->tokens || !b->logits || !b->lp || !b->work) {
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
    for (int64_t i = 0; i < b->n_act; i++)
        req_free(b->act[i]);
    free(b->wait);
    free(b->act);
    free(b->caches);
    free(b->tokens);
    mlxc_free_aligned(b->logits);
    free(b->lp);
    free(b->work);
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
    int rc = mlxc_sampler_init(&r->sampler, &in->params.sampling, V, e);
    if (rc) {
        free(r);
        return rc;
    }
    if (r->p.has_seed)
        mlxc_rng_seed(&r->sampler.rng, r->p.seed);
    else
        mlxc_rng_seed_time(&r->sampler.rng);
    if (mlxc_logits_active(&r->p.logits)) {
        if ((rc = mlxc_logits_check(&r->p.logits, e)) != 0) {
            req_free(r);
            return rc;
        }
        r->hist_cap = in->n_prompt + (r->p.max_tokens > 0 ? r->p.max_tokens : 256) + 1;
        r->hist = malloc((size_t)r->hist_cap * sizeof *r->hist);
        r->seen = calloc((size_t)V, sizeof *r->seen);
        if (r->hist)
            memcpy(r->hist, in->prompt, (size_t)in->n_prompt * sizeof *r->hist);
        r->n_hist = in->n_prompt;
    }
    r->prompt = malloc((size_t)in->n_prompt * sizeof *r->prompt);
    if (!r->prompt || (mlxc_logits_active(&r->p.logits) && (!r->hist || !r->seen))) {
        req_free(r);
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    }
    memcpy(r->prompt, in->prompt, (size_t)in->n_prompt * sizeof *r->prompt);
    if (in->cache) {
        r->cache = in->cache;
    } else {
        if ((rc = mlxc_cache_make(b->m, &b->o.cache, &r->own, e)) != 0) {
            req_free(r);
            return rc;
        }
        r->cache = &r->own;
    }
    r->uid = ++b->next_uid;
    b->wait[b->n_wait++] = r;
    if (uid)
        *uid = r->uid;
    return 0;
}

int mlxc_batch_remove(struct mlxc_batch *b, uint64_t uid)
{
    for (int64_t i = 0; i < b->n_wait; i++)
        if (b->wait[i]->uid == uid) {
            req_free(b->wait[i]);
            memmove(b->wait + i, b->wait + i + 1, (size_t)(b->n_wait - i - 1) * sizeof *b->wait);
            b->n_wait--;
            return 1;
        }
    for (int64_t i = 0; i < b->n_act; i++)
        if (b->act[i]->uid == uid) {
            req_free(b->act[i]);
            memmove(b->act + i, b->act + i + 1, (size_t)(b->n_act - i - 1) * sizeof *b->act);
            b->n_act--;
            return 1;
        }
    return 0;
}

int64_t mlxc_batch_pending(const struct mlxc_batch *b) { return b->n_wait + b->n_act; }
int64_t mlxc_batch_active(const struct mlxc_batch *b) { return b->n_act; }

void mlxc_batch_get_stats(const struct mlxc_batch *b, struct mlxc_batch_stats *st)
{
    *st = b->st;
    st->prompt_tps = st->prompt_time > 0 ? (double)st->prompt_tokens / st->prompt_time : 0.0;
    st->generation_tps = st->generation_time > 0 ? (double)st->generation_tokens / st->generation_time : 0.0;
    st->peak_memory = mlxc_peak_rss();
}

/* Admission: prefill all but the last prompt token of up to prefill_batch_size waiting requests. */
static int admit(struct mlxc_batch *b, struct mlxc_err *e)
{
    int64_t take = b->o.completion_batch_size - b->n_act;
    if (take > b->o.prefill_batch_size)
        take = b->o.prefill_batch_size;
    if (take > b->n_wait)
        take = b->n_wait;
    if (take <= 0)
        return 0;
    double t0 = mlxc_now();
    int rc = 0;
    int64_t done = 0;
    for (; done < take && !rc; done++) {
        struct req *r = b->wait[done];
        rc = mlxc_prefill(b->m, &b->s, r->cache, r->prompt, r->n_prompt - 1, b->o.prefill_step_size, 0, e);
        if (rc) {
            mlxc_err_ctx(e, "prefilling request %llu", (unsigned long long)r->uid);
            req_free(r);
            done++;
            break;
        }
        r->next = r->prompt[r->n_prompt - 1];
        b->act[b->n_act++] = r;
        b->st.prompt_tokens += r->n_prompt;
    }
    memmove(b->wait, b->wait + done, (size_t)(b->n_wait - done) * sizeof *b->wait);
    b->n_wait -= done;
    b->st.prompt_time += mlxc_now() - t0;
    return rc;
}

static int is_eos(const struct mlxc_gen_params *p, int32_t id)
{
    for (int i = 0; i < p->n_eos; i++)
        if (p->eos[i] == id)
            return 1;
    return 0;
}

int mlxc_batch_step(struct mlxc_batch *b, mlxc_batch_cb cb, void *ctx, struct mlxc_err *e)
{
    int rc = admit(b, e);
    if (rc || b->n_act == 0)
        return rc;
    const int64_t V = b->m->cfg.vocab_size, n = b->n_act;
    double t0 = mlxc_now();
    for (int64_t i = 0; i < n; i++) {
        b->caches[i] = b->act[i]->cache;
        b->tokens[i] = b->act[i]->next;
    }
    if ((rc = mlxc_forward_batch(b->m, &b->s, b->caches, b->tokens, n, b->logits, e)) != 0)
        return rc;
    int64_t kept = 0;
    for (int64_t i = 0; i < n; i++) {
        struct req *r = b->act[i];
        float *logits = b->logits + i * V;
        if (r->hist)
            mlxc_logits_apply(&r->p.logits, logits, V, r->hist, r->n_hist, r->seen);
        mlxc_log_softmax(b->lp, logits, V);
        memcpy(b->work, b->lp, (size_t)V * sizeof *b->lp);
        int32_t y = mlxc_sampler_sample(&r->sampler, b->work);
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
            .tok = {.id = y, .is_eos = is_eos(&r->p, y), .logprob = b->lp[y]},
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

#include "core/app_perplexity.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/model_dir.h"
#include "core/sys.h"
#include "core/utf8.h"
#include "tokenizer/tokenizer.h"

#define MAX_TEXT_BYTES ((size_t)1 << 30)

int64_t mlxc_ppl_windows(int64_t n, const struct mlxc_ppl_params *p, struct mlxc_ppl_window *w, int64_t cap,
                         struct mlxc_err *e)
{
    const int64_t L = p->sequence_length, S = p->stride;
    if (L < 2)
        return mlxc_errf(e, MLXC_EINVAL, "--sequence-length must be at least 2 (got %lld)", (long long)L);
    if (S < 1 || S > L)
        return mlxc_errf(e, MLXC_EINVAL, "--stride must be between 1 and the sequence length %lld (got %lld)",
                         (long long)L, (long long)S);
    int64_t count = 0, scored_to = 1; /* positions < scored_to are scored already (position 0 never is) */
    for (int64_t b = 0; b + L <= n; b += S) {
        if (p->num_samples > 0 && count >= p->num_samples)
            break;
        if (w && count < cap)
            w[count] = (struct mlxc_ppl_window){b, b + 1 > scored_to ? b + 1 : scored_to};
        scored_to = b + L;
        count++;
    }
    return count;
}

/* -log softmax(row)[target] over V logits, in f64. */
static double token_loss(const float *row, int64_t V, int32_t target)
{
    float mx = row[0];
    for (int64_t i = 1; i < V; i++)
        if (row[i] > mx)
            mx = row[i];
    double sum = 0;
    for (int64_t i = 0; i < V; i++)
        sum += exp((double)row[i] - (double)mx);
    return log(sum) + (double)mx - (double)row[target];
}

/* Running mean and variance (Welford), then the formulas of the header. */
struct stats {
    int64_t n;
    double mean, m2;
};

static void stats_add(struct stats *st, double x)
{
    st->n++;
    double d = x - st->mean;
    st->mean += d / (double)st->n;
    st->m2 += d * (x - st->mean);
}

static void fill_result(const struct stats *st, double seconds, struct mlxc_ppl_result *r)
{
    r->scored = st->n;
    r->mean_loss = st->mean;
    r->perplexity = exp(st->mean);
    r->standard_error = st->n > 1 ? r->perplexity * sqrt(st->m2 / (double)(st->n - 1)) / sqrt((double)st->n) : NAN;
    r->seconds = seconds;
    r->tokens_per_sec = seconds > 0 ? (double)r->processed / seconds : 0;
}

int mlxc_perplexity(const struct mlxc_model *m, struct mlxc_state *s, const int32_t *ids, int64_t n,
                    const struct mlxc_ppl_params *p, mlxc_ppl_progress_fn progress, void *ctx,
                    volatile int *interrupt, struct mlxc_ppl_result *r, struct mlxc_err *e)
{
    memset(r, 0, sizeof *r);
    r->tokens = n;
    const int64_t V = m->cfg.vocab_size, L = p->sequence_length, C = s->max_chunk;
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= V)
            return mlxc_errf(e, MLXC_EINVAL, "token %d at position %lld is outside the model's vocabulary of %lld",
                             ids[i], (long long)i, (long long)V);
    int64_t nw = mlxc_ppl_windows(n, p, NULL, 0, e);
    if (nw < 0)
        return (int)nw;
    if (nw == 0)
        return mlxc_errf(e, MLXC_EINVAL, "the text has %lld tokens: one window needs --sequence-length %lld",
                         (long long)n, (long long)L);
    r->windows_total = nw;
    struct mlxc_ppl_window *w = malloc((size_t)nw * sizeof *w);
    size_t nlog;
    float *logits = NULL;
    if (w && mlxc_mul_size((size_t)C, (size_t)V * sizeof(float), &nlog) == 0)
        logits = malloc(nlog);
    if (!w || !logits) {
        free(w);
        free(logits);
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory for %lld windows and %lld x %lld logits", (long long)nw,
                         (long long)C, (long long)V);
    }
    mlxc_ppl_windows(n, p, w, nw, e);
    struct mlxc_kv_cache cache = {0};
    int rc = mlxc_kv_init(&cache, (int)m->cfg.n_layers, (int)m->cfg.n_kv_heads, (int)m->cfg.head_dim, e);
    struct stats st = {0};
    double t0 = mlxc_now();
    for (int64_t k = 0; !rc && k < nw; k++) {
        if (interrupt && *interrupt) {
            rc = mlxc_errf(e, MLXC_EINTR, "interrupted");
            break;
        }
        const int32_t *x = ids + w[k].begin;
        const int64_t first = w[k].first - w[k].begin; /* window positions [first, L) are scored */
        mlxc_kv_trim(&cache, cache.offset);
        /* Positions 0..first-2 only feed the cache; first-1..L-2 also give the logits that score
         * first..L-1. The last token is never fed. */
        int64_t pos = 0;
        while (!rc && pos < first - 1) {
            int64_t c = first - 1 - pos < C ? first - 1 - pos : C;
            rc = mlxc_forward(m, s, &cache, x + pos, c, 0, e);
            pos += c;
        }
        double wsum = 0;
        int64_t wn = 0;
        while (!rc && pos < L - 1) {
            int64_t c = L - 1 - pos < C ? L - 1 - pos : C;
            if ((rc = mlxc_forward_all_logits(m, s, &cache, x + pos, c, logits, e)) != 0)
                break;
            for (int64_t j = 0; j < c; j++) {
                double loss = token_loss(logits + j * V, V, x[pos + j + 1]);
                stats_add(&st, loss);
                wsum += loss;
                wn++;
            }
            pos += c;
        }
        if (rc)
            break;
        r->windows = k + 1;
        r->processed += L - 1;
        fill_result(&st, mlxc_now() - t0, r);
        if (progress && progress(ctx, &w[k], wsum, wn, r) != 0)
            rc = mlxc_errf(e, MLXC_EINTR, "stopped");
    }
    if (st.n)
        fill_result(&st, mlxc_now() - t0, r);
    mlxc_kv_free(&cache);
    free(logits);
    free(w);
    return rc;
}

/* ---------------------------------------------------------------- the program */

struct run {
    const struct mlxc_perplexity_args *a;
    FILE *out, *log;
};

static int on_window(void *ctx, const struct mlxc_ppl_window *w, double loss_sum, int64_t scored,
                     const struct mlxc_ppl_result *so_far)
{
    struct run *r = ctx;
    if (r->a->jsonl) {
        fprintf(r->out, "{\"window\": %lld, \"begin\": %lld, \"scored\": %lld, \"loss\": %.17g}\n",
                (long long)so_far->windows - 1, (long long)w->begin, (long long)scored,
                scored ? loss_sum / (double)scored : 0.0);
        fflush(r->out);
    }
    if (r->a->progress) {
        fprintf(r->log, "  Processed %lld/%lld windows...%s", (long long)so_far->windows,
                (long long)so_far->windows_total, so_far->windows == so_far->windows_total ? "\n" : "\r");
        fflush(r->log);
    }
    return 0;
}

static void print_result(const struct mlxc_perplexity_args *a, const char *dir, const struct mlxc_ppl_result *r,
                         FILE *out)
{
    double peak_gb = (double)mlxc_peak_rss() / 1e9;
    const struct mlxc_ppl_params *p = &a->params;
    if (a->jsonl) {
        struct mlxc_buf b = MLXC_BUF_INIT;
        mlxc_buf_puts(&b, "{\"model\": ");
        mlxc_buf_json_str(&b, dir, strlen(dir));
        mlxc_buf_printf(&b, ", \"perplexity\": %.17g, \"standard_error\": %.17g, \"mean_loss\": %.17g, "
                            "\"tokens\": %lld, \"windows\": %lld, \"windows_total\": %lld, \"scored_tokens\": %lld, "
                            "\"sequence_length\": %lld, \"stride\": %lld, \"seconds\": %.3f, \"tokens_per_sec\": %.3f, "
                            "\"peak_memory_gb\": %.3f}\n",
                        r->perplexity, r->standard_error, r->mean_loss, (long long)r->tokens, (long long)r->windows,
                        (long long)r->windows_total, (long long)r->scored, (long long)p->sequence_length,
                        (long long)p->stride, r->seconds, r->tokens_per_sec, peak_gb);
        fwrite(b.data, 1, b.len, out);
        mlxc_buf_free(&b);
    } else {
        fprintf(out, "Model: %s\n", dir);
        fprintf(out, "Tokens: %lld in the text, %lld window%s of %lld (stride %lld), %lld scored\n",
                (long long)r->tokens, (long long)r->windows, r->windows == 1 ? "" : "s",
                (long long)p->sequence_length, (long long)p->stride, (long long)r->scored);
        if (r->windows < r->windows_total)
            fprintf(out, "Interrupted after %lld of %lld windows\n", (long long)r->windows,
                    (long long)r->windows_total);
        fprintf(out, "Perplexity: %.3f \xc2\xb1 %.3f\n", r->perplexity, r->standard_error);
        fprintf(out, "Mean loss: %.5f nats per token\n", r->mean_loss);
        fprintf(out, "Evaluation time: %.2f seconds\n", r->seconds);
        fprintf(out, "Tokens per second: %.0f\n", r->tokens_per_sec);
        fprintf(out, "Peak memory: %.3f GB\n", peak_gb);
    }
    fflush(out);
}

int mlxc_perplexity_main(const struct mlxc_perplexity_args *a, FILE *in, FILE *out, FILE *log,
                         struct mlxc_err *e)
{
    char *dir = NULL, *text = NULL;
    struct mlxc_model *m = NULL;
    struct mlxc_tokenizer *tok = NULL;
    int32_t *ids = NULL;
    size_t n = 0, len = 0;
    struct mlxc_state s = {0};
    struct mlxc_ppl_result r = {0};
    int rc;
    if (a->batch_size < 1)
        return mlxc_errf(e, MLXC_EINVAL, "--batch-size must be at least 1 (got %lld)", (long long)a->batch_size);
    if (mlxc_ppl_windows(0, &a->params, NULL, 0, e) < 0)
        return e->code;
    dir = a->model ? mlxc_model_dir_resolve(a->model, e) : mlxc_default_model_dir(e);
    if (!dir)
        return e->code;
    if ((rc = mlxc_model_open(dir, &m, e)) != 0)
        goto out;
    if ((rc = mlxc_tok_open(dir, &tok, e)) != 0) {
        mlxc_err_ctx(e, "loading the tokenizer of '%s'", dir);
        goto out;
    }
    const char *src = a->data && strcmp(a->data, "-") != 0 ? a->data : NULL;
    text = src ? mlxc_read_file(src, MAX_TEXT_BYTES, &len, e) : mlxc_read_stream(in, MAX_TEXT_BYTES, &len, e);
    if (!text) {
        rc = e->code;
        goto out;
    }
    size_t valid = mlxc_utf8_valid_prefix(text, len);
    if (valid != len || strlen(text) != len) {
        rc = mlxc_errf(e, MLXC_EINVAL, "'%s' is not UTF-8 text (byte %zu)", src ? src : "<stdin>", valid);
        goto out;
    }
    if ((rc = mlxc_tok_encode(tok, text, len, 1, &ids, &n, e)) != 0)
        goto out;
    /* chunks of at most 256 tokens, and at most 16 M logits (64 MB) at a time */
    int64_t chunk = a->params.sequence_length - 1 < 256 ? a->params.sequence_length - 1 : 256;
    int64_t cap = ((int64_t)1 << 24) / (m->cfg.vocab_size > 0 ? m->cfg.vocab_size : 1);
    chunk = chunk < cap ? chunk : cap > 0 ? cap : 1;
    if ((rc = mlxc_state_init(&s, m, chunk, a->threads, e)) != 0)
        goto out;
    struct run run = {a, out, log};
    rc = mlxc_perplexity(m, &s, ids, (int64_t)n, &a->params, on_window, &run, a->interrupt, &r, e);
    if (rc == 0 || (rc == MLXC_EINTR && r.windows > 0))
        print_result(a, dir, &r, out);
out:
    if (s.pool)
        mlxc_state_free(&s);
    free(ids);
    free(text);
    mlxc_tok_close(tok);
    mlxc_model_close(m);
    free(dir);
    return rc;
}

#include "core/app_generate.h"

#include <stdlib.h>
#include <string.h>

#include "cache/prompt_cache.h"
#include "core/buf.h"
#include "core/generate.h"
#include "core/model_dir.h"
#include "core/prompt.h"
#include "core/stop.h"
#include "core/sys.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

/* Everything one run holds. */
struct run {
    const struct mlxc_generate_args *a;
    FILE *out, *log;
    struct mlxc_tokenizer *tok;
    struct mlxc_detok *detok;
    struct mlxc_stop stop;
    struct mlxc_buf text;        /* text that may be shown now (after the stop filter) */
    struct mlxc_buf pending;     /* jsonl: the previous token's object, printed once its text is final */
    int any_text, stopped;
    struct mlxc_err *e;
    int failed;
};

/* The EOS set: config (or generation_config) ids, else the tokenizer's eos, plus --extra-eos-token. */
int mlxc_generate_build_eos(const struct mlxc_model *m, const struct mlxc_tokenizer *tok, char *const *extra,
                            int32_t *eos, int cap, struct mlxc_err *e)
{
    int n = 0;
    for (int i = 0; i < m->cfg.n_eos && n < cap; i++)
        eos[n++] = m->cfg.eos_ids[i];
    if (n == 0 && mlxc_tok_eos_id(tok) >= 0)
        eos[n++] = mlxc_tok_eos_id(tok);
    for (char *const *x = extra; x && *x && n < cap; x++) {
        char *end;
        long id = strtol(*x, &end, 10);
        if (*end || end == *x)
            id = mlxc_tok_token_to_id(tok, *x);
        if (id < 0 || id >= m->cfg.vocab_size)
            return mlxc_errf(e, MLXC_EINVAL, "--extra-eos-token '%s' is not a token of this model", *x);
        eos[n++] = (int32_t)id;
    }
    return n;
}

static void emit_text(struct run *r, const char *s, size_t n)
{
    if (!n)
        return;
    r->any_text = 1;
    fwrite(s, 1, n, r->out);
    fflush(r->out);
}

/* jsonl: one object per token; the text of a token is only final when the next one arrives. */
static void flush_pending(struct run *r, const char *extra_text, size_t extra_len)
{
    if (!r->pending.len)
        return;
    if (extra_len) { /* the pending object ends with "text":"...": splice the extra text in */
        r->pending.len -= 2; /* drop the closing quote and the brace */
        struct mlxc_buf esc = MLXC_BUF_INIT;
        mlxc_buf_json_str(&esc, extra_text, extra_len);
        mlxc_buf_append(&r->pending, esc.data + 1, esc.len - 1); /* without its opening quote */
        mlxc_buf_putc(&r->pending, '}');
        mlxc_buf_free(&esc);
        r->any_text = 1;
    }
    fwrite(r->pending.data, 1, r->pending.len, r->out);
    fputc('\n', r->out);
    fflush(r->out);
    mlxc_buf_reset(&r->pending);
}

static int on_token(void *ctx, const struct mlxc_gen_token *t, const struct mlxc_gen_stats *st)
{
    (void)st;
    struct run *r = ctx;
    const char *piece = NULL;
    size_t len = 0;
    if (!t->is_eos && mlxc_detok_add(r->detok, t->id, &piece, &len, r->e) != 0) {
        r->failed = 1;
        return 1;
    }
    mlxc_buf_reset(&r->text);
    r->stopped = mlxc_stop_feed(&r->stop, piece ? piece : "", len, &r->text);
    if (r->a->jsonl) {
        flush_pending(r, NULL, 0);
        struct mlxc_buf *b = &r->pending;
        mlxc_buf_printf(b, "{\"token\": %d, \"logprob\": %.6g, \"top_logprobs\": [", t->id, (double)t->logprob);
        for (int i = 0; i < t->n_top; i++)
            mlxc_buf_printf(b, "%s[%d, %.6g]", i ? ", " : "", t->top_ids[i], (double)t->top_logprobs[i]);
        mlxc_buf_puts(b, "], \"text\": ");
        mlxc_buf_json_str(b, r->text.data ? r->text.data : "", r->text.len);
        mlxc_buf_putc(b, '}');
        if (r->text.len)
            r->any_text = 1;
    } else {
        emit_text(r, r->text.data, r->text.len);
    }
    return r->stopped;
}

/* The model: --model, else the one named in the prompt cache (mlx_lm generate.py step 4). Returns a
 * new string, or NULL with an error. */
static char *pick_model(const struct mlxc_generate_args *a, struct mlxc_err *e)
{
    if (!a->prompt_cache_file) /* without --model: the model this project ships */
        return a->model ? strdup(a->model) : mlxc_default_model_dir(e);
    struct mlxc_st_meta *meta = NULL;
    size_t n = 0;
    if (mlxc_prompt_cache_read_meta(a->prompt_cache_file, &meta, &n, e) != 0)
        return NULL;
    const char *cached = mlxc_meta_find(meta, n, "model");
    char *model = NULL;
    if (!a->model && !cached)
        mlxc_errf(e, MLXC_EINVAL, "no model given and the prompt cache '%s' names none", a->prompt_cache_file);
    else if (a->model && cached && strcmp(a->model, cached) != 0)
        mlxc_errf(e, MLXC_EINVAL, "providing a different model (%s) than that used to create the prompt cache (%s) "
                  "is an error", a->model, cached);
    else
        model = strdup(a->model ? a->model : cached);
    free(meta);
    return model;
}

int mlxc_generate_check_model(const struct mlxc_generate_args *a, const struct mlxc_model *m, FILE *log,
                               struct mlxc_err *e)
{
    if (m->nonfinite[0])
        fprintf(log, "warning: weight '%s' holds NaN or Inf values (a broken or corrupted model?)\n", m->nonfinite);
    for (int i = 0; i < a->logits.n_bias; i++)
        if (a->logits.bias_ids[i] < 0 || a->logits.bias_ids[i] >= m->cfg.vocab_size)
            return mlxc_errf(e, MLXC_EINVAL, "--logit-bias: token %d is outside the vocabulary (0..%lld)",
                             a->logits.bias_ids[i], (long long)m->cfg.vocab_size - 1);
    return 0;
}

int mlxc_generate_open(const struct mlxc_generate_args *a, char **model, char **dir, struct mlxc_model **m,
                       struct mlxc_tokenizer **tok, struct mlxc_chat_template **tmpl, struct mlxc_err *e)
{
    if (!(*model = pick_model(a, e)))
        return e->code;
    if (!(*dir = mlxc_model_dir_resolve(*model, e)))
        return e->code;
    int rc = mlxc_model_open(*dir, m, e);
    if (!rc && (rc = mlxc_tok_open(*dir, tok, e)) != 0)
        mlxc_err_ctx(e, "loading the tokenizer of '%s'", *dir);
    if (!rc && !a->ignore_chat_template) {
        rc = mlxc_chat_template_load(*dir, tmpl, e);
        if (rc == MLXC_ENOTFOUND) { /* no template: the raw prompt is used, as mlx_lm does */
            *tmpl = NULL;
            rc = 0;
        }
    }
    return rc;
}

int mlxc_generate_open_cache(const struct mlxc_generate_args *a, const struct mlxc_model *m, struct mlxc_kv_cache *cache,
                      struct mlxc_err *e)
{
    if (!a->prompt_cache_file)
        return mlxc_cache_make(m, &a->cache, cache, e);
    int rc = mlxc_prompt_cache_load(a->prompt_cache_file, m, cache, NULL, NULL, e);
    if (rc)
        return rc;
    const struct mlxc_kv_layer *L0 = &cache->layers[0];
    if (L0->bits && a->kv_bits_given && a->cache.kv_bits != L0->bits)
        rc = mlxc_errf(e, MLXC_EINVAL, "--kv-bits does not match the kv cache loaded from --prompt-cache-file");
    else if (L0->bits && a->cache.kv_group_size != L0->group_size)
        rc = mlxc_errf(e, MLXC_EINVAL, "--kv-group-size does not match the kv cache loaded from --prompt-cache-file");
    if (!rc && !L0->bits && a->cache.kv_bits > 0) { /* quantize later, at --quantized-kv-start */
        cache->quant_bits = a->cache.kv_bits;
        cache->quant_group_size = a->cache.kv_group_size ? a->cache.kv_group_size : 64;
        cache->quant_start = a->cache.quantized_kv_start;
    }
    return rc;
}

/* mlx_lm's metadata: the model as given and the tokenizer config it used. */
static int save_cache(const struct mlxc_generate_args *a, const struct mlxc_kv_cache *cache,
                      const struct mlxc_model *m, const char *model, struct mlxc_err *e)
{
    struct mlxc_st_meta meta[] = {{"model", model}, {"tokenizer_config", "{\"trust_remote_code\": false}"}};
    return mlxc_prompt_cache_save(a->save_prompt_cache, cache, m, meta, 2, e);
}

/* A prompt longer than the model's context: mlx_lm does not check and generates anyway (RoPE goes on
 * past max_position_embeddings, quality degrades); mlxc does the same but says so on stderr, once,
 * before generating. Models without max_position_embeddings get no warning. */
static void warn_context(const struct mlxc_model *m, int64_t cached, int64_t prompt, int64_t max_tokens, FILE *log)
{
    int64_t ctx = m->cfg.max_position_embeddings;
    if (ctx <= 0)
        return;
    int64_t need = cached + prompt + (max_tokens > 0 ? max_tokens : 0);
    if (need <= ctx)
        return;
    if (cached + prompt > ctx)
        fprintf(log, "warning: the prompt (%lld tokens) is longer than the model's context (max_position_embeddings "
                     "%lld); the output may be poor\n", (long long)(cached + prompt), (long long)ctx);
    else
        fprintf(log, "warning: the prompt (%lld tokens) plus --max-tokens %lld exceed the model's context "
                     "(max_position_embeddings %lld); the output may be poor past it\n",
                (long long)(cached + prompt), (long long)max_tokens, (long long)ctx);
}

int mlxc_generate_main(const struct mlxc_generate_args *a, FILE *out, FILE *log, struct mlxc_err *e)
{
    char *model = NULL, *dir = NULL;
    struct mlxc_model *m = NULL;
    struct mlxc_chat_template *tmpl = NULL;
    struct run r = {.a = a, .out = out, .log = log, .e = e};
    int32_t *ids = NULL;
    size_t n = 0;
    struct mlxc_state s = {0};
    struct mlxc_kv_cache cache = {0};
    int32_t eos[64];
    mlxc_stop_init(&r.stop, a->stop);
    int rc = mlxc_generate_open(a, &model, &dir, &m, &r.tok, &tmpl, e);
    if (rc)
        goto out;
    if ((rc = mlxc_generate_check_model(a, m, log, e)) != 0)
        goto out;
    int n_eos = mlxc_generate_build_eos(m, r.tok, a->extra_eos_token, eos, 64, e);
    if (n_eos < 0) {
        rc = n_eos;
        goto out;
    }
    if (a->ignore_eos)
        n_eos = 0;
    struct mlxc_prompt_opts po = {a->prompt, a->system_prompt, a->prefill_response, a->chat_template_config,
                                  a->ignore_chat_template, a->prompt_cache_file != NULL};
    if ((rc = mlxc_prompt_encode(r.tok, tmpl, &po, &ids, &n, NULL, e)) != 0)
        goto out;
    if (n == 0) {
        rc = mlxc_errf(e, MLXC_EINVAL, "the prompt encodes to no tokens");
        goto out;
    }
    int64_t step = a->prefill_step_size > 0 ? a->prefill_step_size : 2048;
    int64_t chunk = (int64_t)n < step ? (int64_t)n : step;
    if ((rc = mlxc_state_init(&s, m, chunk, a->threads, e)) != 0 || (rc = mlxc_generate_open_cache(a, m, &cache, e)) != 0 ||
        (rc = mlxc_detok_init(r.tok, &r.detok, e)) != 0)
        goto out;
    warn_context(m, cache.offset, (int64_t)n, a->max_tokens, log);

    /* XTC never removes newline or EOS tokens (mlx_lm: tokenizer.encode("\n") + eos ids) */
    int32_t special[80];
    int n_special = 0;
    int32_t *nl = NULL;
    size_t n_nl = 0;
    if (mlxc_tok_encode(r.tok, "\n", 1, 1, &nl, &n_nl, NULL) == 0)
        for (size_t i = 0; i < n_nl && n_special < 16; i++)
            special[n_special++] = nl[i];
    free(nl);
    for (int i = 0; i < n_eos; i++)
        special[n_special++] = eos[i];
    struct mlxc_gen_params gp = {
        .max_tokens = a->max_tokens, .prefill_step_size = step, .sampling = a->sampling, .logits = a->logits,
        .has_seed = a->has_seed, .seed = a->seed, .eos = eos, .n_eos = n_eos, .top_logprobs = a->top_logprobs,
        .interrupt = a->interrupt, .feed_last = a->save_prompt_cache != NULL,
    };
    gp.sampling.xtc_special = special;
    gp.sampling.n_xtc_special = n_special;

    if (a->verbose && !a->jsonl)
        fprintf(log, "==========\n");
    struct mlxc_gen_stats st;
    rc = mlxc_generate(m, &s, &cache, ids, (int64_t)n, &gp, on_token, &r, &st, e);
    if (!rc && r.failed)
        rc = e->code;
    if (rc)
        goto out;
    const char *tail = NULL;
    size_t tail_len = 0;
    if ((rc = mlxc_detok_finalize(r.detok, &tail, &tail_len, e)) != 0)
        goto out;
    mlxc_buf_reset(&r.text);
    mlxc_stop_feed(&r.stop, tail ? tail : "", tail_len, &r.text);
    mlxc_stop_flush(&r.stop, &r.text);
    double peak_gb = (double)mlxc_peak_rss() / 1e9;
    if (a->jsonl) {
        flush_pending(&r, r.text.data, r.text.len);
        fprintf(out, "{\"finish_reason\": \"%s\", \"prompt_tokens\": %lld, \"generation_tokens\": %lld, "
                     "\"prompt_tps\": %.3f, \"generation_tps\": %.3f, \"peak_memory_gb\": %.3f, "
                     "\"kv_cache_bytes\": %llu}\n",
                st.finish_reason, (long long)st.prompt_tokens, (long long)st.generation_tokens, st.prompt_tps,
                st.generation_tps, peak_gb, (unsigned long long)mlxc_kv_nbytes(&cache));
    } else {
        emit_text(&r, r.text.data, r.text.len);
        if (r.any_text)
            fputc('\n', out);
        fflush(out);
        if (a->verbose) {
            fprintf(log, "==========\n");
            if (!r.any_text) {
                fprintf(log, "No text generated for this prompt\n");
            } else {
                fprintf(log, "Prompt: %lld tokens, %.3f tokens-per-sec\n", (long long)st.prompt_tokens, st.prompt_tps);
                fprintf(log, "Generation: %lld tokens, %.3f tokens-per-sec\n", (long long)st.generation_tokens,
                        st.generation_tps);
                fprintf(log, "Peak memory: %.3f GB\n", peak_gb);
            }
        }
    }
    if (a->save_prompt_cache && (rc = save_cache(a, &cache, m, model, e)) != 0)
        goto out;
    if (strcmp(st.finish_reason, "interrupted") == 0)
        rc = mlxc_errf(e, MLXC_EINTR, "interrupted");
out:
    mlxc_stop_free(&r.stop);
    mlxc_buf_free(&r.text);
    mlxc_buf_free(&r.pending);
    mlxc_detok_free(r.detok);
    mlxc_kv_free(&cache);
    if (s.pool)
        mlxc_state_free(&s);
    free(ids);
    mlxc_chat_template_free(tmpl);
    mlxc_tok_close(r.tok);
    mlxc_model_close(m);
    free(dir);
    free(model);
    return rc;
}

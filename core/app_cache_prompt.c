#include "core/app_cache_prompt.h"

#include <stdlib.h>
#include <string.h>

#include "cache/prompt_cache.h"
#include "core/buf.h"
#include "core/forward.h"
#include "core/model_dir.h"
#include "core/sys.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

/* mlx_lm's file names end in .safetensors (mx.save_safetensors appends it). */
static char *cache_path(const char *p)
{
    size_t n = strlen(p);
    if (n >= 12 && strcmp(p + n - 12, ".safetensors") == 0)
        return strdup(p);
    char *out = malloc(n + 13);
    if (out)
        snprintf(out, n + 13, "%s.safetensors", p);
    return out;
}

/* The prompt as an open user turn (mlx_lm: apply_chat_template([user], add_generation_prompt=False,
 * continue_final_message=True)), or the raw text with BOS when there is no template. */
static int encode_prompt(const char *dir, const struct mlxc_tokenizer *tok, const char *prompt, int32_t **ids,
                         size_t *n, struct mlxc_err *e)
{
    struct mlxc_chat_template *tmpl = NULL;
    int rc = mlxc_chat_template_load(dir, &tmpl, e);
    if (rc == MLXC_ENOTFOUND)
        return mlxc_tok_encode(tok, prompt, strlen(prompt), 1, ids, n, e);
    if (rc)
        return rc;
    struct mlxc_buf msg = MLXC_BUF_INIT;
    mlxc_buf_puts(&msg, "[{\"role\": \"user\", \"content\": ");
    mlxc_buf_json_str(&msg, prompt, strlen(prompt));
    mlxc_buf_puts(&msg, "}]");
    struct mlxc_chat_opts co = {.continue_final_message = 1};
    char *text = NULL;
    size_t len = 0;
    rc = msg.oom ? mlxc_errf(e, MLXC_ENOMEM, "out of memory") : mlxc_chat_template_apply(tmpl, msg.data, &co, &text, &len, e);
    if (!rc)
        rc = mlxc_tok_encode(tok, text, len, 0, ids, n, e);
    free(text);
    mlxc_buf_free(&msg);
    mlxc_chat_template_free(tmpl);
    return rc;
}

int mlxc_cache_prompt_main(const struct mlxc_cache_prompt_args *a, FILE *log, struct mlxc_err *e)
{
    char *dir = mlxc_model_dir_resolve(a->model, e), *path = NULL;
    if (!dir)
        return e->code;
    struct mlxc_model *m = NULL;
    struct mlxc_tokenizer *tok = NULL;
    struct mlxc_state s = {0};
    struct mlxc_kv_cache cache = {0};
    int32_t *ids = NULL;
    size_t n = 0;
    struct mlxc_buf cfg = MLXC_BUF_INIT;
    int rc = mlxc_model_open(dir, &m, e);
    if (!rc && (rc = mlxc_tok_open(dir, &tok, e)) != 0)
        mlxc_err_ctx(e, "loading the tokenizer of '%s'", dir);
    if (!rc)
        rc = encode_prompt(dir, tok, a->prompt, &ids, &n, e);
    if (!rc && n == 0)
        rc = mlxc_errf(e, MLXC_EINVAL, "the prompt encodes to no tokens");
    int64_t step = a->prefill_step_size > 0 ? a->prefill_step_size : 2048;
    if (!rc)
        rc = mlxc_state_init(&s, m, (int64_t)n < step ? (int64_t)n : step, a->threads, e);
    if (!rc)
        rc = mlxc_cache_make(m, &a->cache, &cache, e);
    if (rc)
        goto out;
    /* every prompt token goes into the cache, with an in-place progress line */
    double t0 = mlxc_now();
    size_t longest = 0;
    for (size_t i = 0; i < n && !rc; i += (size_t)step) {
        int64_t T = (int64_t)(n - i) < step ? (int64_t)(n - i) : step;
        if ((rc = mlxc_forward(m, &s, &cache, ids + i, T, 0, e)) != 0)
            break;
        char line[128];
        double dt = mlxc_now() - t0;
        int len = snprintf(line, sizeof line, "Processed %6zu tokens (%6.2f tok/s)", i + (size_t)T,
                           dt > 0 ? (double)(i + (size_t)T) / dt : 0.0);
        if ((size_t)len > longest)
            longest = (size_t)len;
        if (a->progress_in_place)
            fprintf(log, "\r%-*s", (int)longest, line);
        else
            fprintf(log, "%s\n", line);
        fflush(log);
        if (a->interrupt && *a->interrupt)
            rc = mlxc_errf(e, MLXC_EINTR, "interrupted");
    }
    if (rc)
        goto out;
    if (a->progress_in_place)
        fputc('\n', log);
    fprintf(log, "Peak memory: %.3f GB\nSaving...\n", (double)mlxc_peak_rss() / 1e9);
    mlxc_buf_puts(&cfg, "{\"trust_remote_code\": false");
    if (a->eos_token) {
        mlxc_buf_puts(&cfg, ", \"eos_token\": ");
        mlxc_buf_json_str(&cfg, a->eos_token, strlen(a->eos_token));
    }
    mlxc_buf_putc(&cfg, '}');
    struct mlxc_st_meta meta[] = {{"model", a->model}, {"tokenizer_config", cfg.data}};
    if (!(path = cache_path(a->prompt_cache_file)))
        rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    else
        rc = mlxc_prompt_cache_save(path, &cache, m, meta, 2, e);
out:
    mlxc_buf_free(&cfg);
    free(path);
    free(ids);
    mlxc_kv_free(&cache);
    if (s.pool)
        mlxc_state_free(&s);
    mlxc_tok_close(tok);
    mlxc_model_close(m);
    free(dir);
    return rc;
}

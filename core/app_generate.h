/* What mlxc-generate does, as a library call (mlx_lm generate.py main + generate + stream_generate):
 * load the model and tokenizer, build the prompt, generate, stream the text to `out`, and write the
 * rules and statistics to `log` (stderr), so a pipe gets only the text. */
#ifndef MLXC_APP_GENERATE_H
#define MLXC_APP_GENERATE_H

#include <stdint.h>
#include <stdio.h>

#include "cache/kv.h"
#include "core/err.h"
#include "core/logits.h"
#include "core/sample.h"

struct mlxc_generate_args {
    const char *model;                /* folder or cached repo id; NULL: the default model (core/model_dir.h) */
    const char *prompt;               /* final text (escapes already handled, stdin already read) */
    const char *system_prompt, *prefill_response, *chat_template_config;
    int ignore_chat_template;
    int ignore_eos;                   /* generate past EOS tokens (benchmarks) */
    char *const *extra_eos_token;     /* NULL-ended: ids or token strings */
    int64_t max_tokens;               /* < 0: no limit */
    int64_t prefill_step_size;
    struct mlxc_sampler_params sampling;
    int has_seed;
    uint64_t seed;
    int verbose;                      /* rules and stats to log */
    int jsonl;                        /* --output-format jsonl */
    int top_logprobs;
    int threads;                      /* <= 0: default */
    struct mlxc_cache_opts cache;     /* --max-kv-size, --kv-bits, --kv-group-size, --quantized-kv-start */
    int kv_bits_given, kv_group_size_given; /* to check them against a loaded prompt cache */
    struct mlxc_logits_params logits; /* penalties and logit bias */
    char *const *stop;                /* NULL-ended stop strings */
    const char *prompt_cache_file;    /* start from this cache (the model may come from its metadata) */
    const char *save_prompt_cache;    /* write the cache here after generating */
    volatile int *interrupt;          /* set by SIGINT */
    /* --batch (core/app_batch.h) */
    int64_t prefill_batch_size, completion_batch_size;
};

/* Returns 0, MLXC_EINTR when interrupted (the output so far is complete), or an error. */
int mlxc_generate_main(const struct mlxc_generate_args *a, FILE *out, FILE *log, struct mlxc_err *e);

struct mlxc_model;
struct mlxc_tokenizer;
struct mlxc_chat_template;
/* The model (--model, else the one the prompt cache names, else the bundled one: *model, malloc'd),
 * its folder (*dir), weights, tokenizer and chat template (NULL when it has none or it is ignored). The
 * caller frees what was set, also on error. */
int mlxc_generate_open(const struct mlxc_generate_args *a, char **model, char **dir, struct mlxc_model **m,
                       struct mlxc_tokenizer **tok, struct mlxc_chat_template **tmpl, struct mlxc_err *e);
/* The cache: loaded from --prompt-cache-file (its --kv-bits/--kv-group-size must agree, mlx_lm step 2)
 * or made fresh with the options. */
int mlxc_generate_open_cache(const struct mlxc_generate_args *a, const struct mlxc_model *m,
                             struct mlxc_kv_cache *cache, struct mlxc_err *e);

/* The EOS set: config (or generation_config) ids, else the tokenizer's eos, plus extra (ids or token
 * strings, NULL-ended). Returns how many ids it wrote (<= cap) or an error. */
int mlxc_generate_build_eos(const struct mlxc_model *m, const struct mlxc_tokenizer *tok, char *const *extra,
                            int32_t *eos, int cap, struct mlxc_err *e);

#endif

/* What mlxc-cache-prompt does (mlx_lm cache_prompt.py, facts §1.3): render the prompt as an unfinished
 * user turn (continue_final_message, no end-of-turn marker) when the model has a chat template, prefill
 * all of it into a fresh cache (--max-kv-size, --kv-bits), and save the cache with the metadata
 * {"model": <--model as given>, "tokenizer_config": "{\"trust_remote_code\": false[, \"eos_token\": ...]}"}. */
#ifndef MLXC_APP_CACHE_PROMPT_H
#define MLXC_APP_CACHE_PROMPT_H

#include <stdint.h>
#include <stdio.h>

#include "cache/kv.h"
#include "core/err.h"

struct mlxc_cache_prompt_args {
    const char *model, *prompt, *prompt_cache_file, *eos_token;
    struct mlxc_cache_opts cache;
    int64_t prefill_step_size;
    int threads;
    int progress_in_place;    /* a terminal: rewrite the progress line with \r */
    volatile int *interrupt;
};

int mlxc_cache_prompt_main(const struct mlxc_cache_prompt_args *a, FILE *log, struct mlxc_err *e);

#endif

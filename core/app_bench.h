/* What mlxc-bench does (mlx_lm.benchmark, and llama-bench's figures): random prompt ids, EOS ignored,
 * one warm-up run, then trials of prefill + decode; per trial and on average prompt_tps,
 * generation_tps and peak memory; plus the weight bytes one decoded token reads and the decode bound at
 * the read bandwidth it measures. */
#ifndef MLXC_APP_BENCH_H
#define MLXC_APP_BENCH_H

#include <stdint.h>
#include <stdio.h>

#include "core/err.h"

struct mlxc_bench_args {
    const char *model;
    int64_t prompt_tokens, generation_tokens, prefill_step_size;
    int trials, threads, jsonl;
    int batch_size; /* > 1: sequences decoded together (the batch engine) */
};

int mlxc_bench_main(const struct mlxc_bench_args *a, FILE *out, struct mlxc_err *e);

#endif

/* What mlxc-convert does (mlx_lm convert.py + utils.py save/quantize_model, facts §1.4, §3.5, §3.6):
 * read a Hugging Face (or MLX) model folder, cast float weights (--dtype, else the config's dtype),
 * quantize (-q, with per-layer recipes) or dequantize (-d), and write an MLX model folder: shards of at
 * most 5 GiB, an index, config.json with "quantization" and "quantization_config", the tokenizer and
 * generation files. Tensors stream one at a time (row chunks), so memory stays near the largest
 * tensor. The folder appears under its name only once complete. */
#ifndef MLXC_APP_CONVERT_H
#define MLXC_APP_CONVERT_H

#include <stdint.h>
#include <stdio.h>

#include "core/err.h"

struct mlxc_convert_args {
    const char *hf_path;          /* source folder or cached repo id */
    const char *mlx_path;         /* output folder; must not exist */
    int quantize, dequantize;
    int q_group_size, q_bits;     /* 0: the mode's default */
    const char *q_mode;           /* "affine" (default), "mxfp4", "nvfp4", "mxfp8" */
    const char *quant_predicate;  /* NULL or "mixed_2_6", "mixed_3_4", "mixed_3_6", "mixed_4_6" */
    const char *dtype;            /* NULL or "float16", "bfloat16", "float32" */
    int progress;                 /* draw a progress bar on `log` (a terminal) */
    uint64_t max_shard_bytes;     /* 0: 5 GiB */
    volatile int *interrupt;
};

int mlxc_convert_main(const struct mlxc_convert_args *a, FILE *log, struct mlxc_err *e);

#endif

/* The library parameter structs that several programs build from the same flags, in one place. */
#ifndef MLXC_CLI_PARAMS_H
#define MLXC_CLI_PARAMS_H

#include "cache/kv.h"
#include "cmd/cli.h"
#include "core/logits.h"
#include "core/sample.h"

/* --temp, --top-p, --min-p, --min-tokens-to-keep, --top-k, --xtc-probability, --xtc-threshold */
struct mlxc_sampler_params mlxc_cli_sampling(const struct mlxc_opts *o);
/* --max-kv-size and --kv-bits (0 when not given), --kv-group-size, --quantized-kv-start */
struct mlxc_cache_opts mlxc_cli_cache_opts(const struct mlxc_cli *cli, const struct mlxc_opts *o);
/* the penalties (repetition off when not given); the logit-bias arrays are the caller's */
struct mlxc_logits_params mlxc_cli_penalties(const struct mlxc_cli *cli, const struct mlxc_opts *o);

#endif

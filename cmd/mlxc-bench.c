/* mlxc-bench: prefill and decode speed of a model (mlx_lm.benchmark, llama-bench). */
#include <string.h>

#include "cmd/cli.h"
#include "core/app_bench.h"

int main(int argc, char **argv)
{
    const struct mlxc_cli *cli = &mlxc_cli_bench;
    struct mlxc_opts o;
    int rc = mlxc_cli_parse(cli, argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : rc;
    struct mlxc_bench_args a = {
        .model = o.model,
        .prompt_tokens = o.prompt_tokens,
        .generation_tokens = o.generation_tokens,
        .prefill_step_size = o.prefill_step_size,
        .trials = (int)o.num_trials,
        .threads = (int)o.threads,
        .batch_size = (int)o.batch_size,
        .jsonl = strcmp(o.output_format, "jsonl") == 0,
    };
    if (!a.model)
        return mlxc_cli_usage_error(cli, "the following arguments are required: --model");
    struct mlxc_err e = {0};
    return mlxc_cli_status(cli, mlxc_bench_main(&a, stdout, &e), e.msg);
}

/* mlxc-perplexity: the perplexity of a text under a model (mlx_lm.perplexity, llama-perplexity). The
 * result goes to stdout; progress lines go to stderr when it is a terminal. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cli.h"
#include "cmd/sig.h"
#include "core/app_perplexity.h"

int main(int argc, char **argv)
{
    const struct mlxc_cli *cli = &mlxc_cli_perplexity;
    struct mlxc_opts o;
    int rc = mlxc_cli_parse(cli, argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : rc;
    struct mlxc_perplexity_args a = {
        .model = o.model,
        .data = o.data,
        .params = {.sequence_length = o.sequence_length,
                   .stride = mlxc_cli_given(cli, &o, "stride") ? o.stride : o.sequence_length,
                   .num_samples = o.num_samples},
        .batch_size = o.batch_size,
        .jsonl = strcmp(o.output_format, "jsonl") == 0,
        .progress = isatty(fileno(stderr)),
        .threads = (int)o.threads,
        .interrupt = (volatile int *)&mlxc_interrupted,
    };
    mlxc_catch_sigint();
    struct mlxc_err e = {0};
    rc = mlxc_perplexity_main(&a, stdin, stdout, stderr, &e);
    return mlxc_cli_status(cli, rc, e.msg);
}

/* mlxc-convert: Hugging Face safetensors to MLX layout, casts, quantization (mlx_lm.convert). */
#include <stdio.h>

#include "cmd/cli.h"
#include "cmd/sig.h"
#include "core/app_convert.h"
#include "core/term.h"

int main(int argc, char **argv)
{
    const struct mlxc_cli *cli = &mlxc_cli_convert;
    struct mlxc_opts o;
    int rc = mlxc_cli_parse(cli, argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : rc;
    /* A model from the defaults file (say a global "model = ...") gives way to --hf-path on the command line. */
    int src_hf = mlxc_cli_given(cli, &o, "hf-path"), src_model = mlxc_cli_given(cli, &o, "model");
    if (o.hf_path && o.model && src_hf != src_model) {
        if (src_hf > src_model)
            o.model = NULL;
        else
            o.hf_path = NULL;
    }
    if (o.hf_path && o.model)
        return mlxc_cli_usage_error(cli, "give the source once: --hf-path or --model");
    struct mlxc_convert_args a = {
        .hf_path = o.hf_path ? o.hf_path : o.model,
        .mlx_path = o.mlx_path,
        .quantize = o.quantize,
        .dequantize = o.dequantize,
        .q_group_size = mlxc_cli_given(cli, &o, "q-group-size") ? (int)o.q_group_size : 0,
        .q_bits = mlxc_cli_given(cli, &o, "q-bits") ? (int)o.q_bits : 0,
        .q_mode = o.q_mode,
        .quant_predicate = o.quant_predicate,
        .dtype = o.dtype,
        .progress = mlxc_term_interactive(fileno(stderr)), /* plain lines in pipes and logs */
        .interrupt = (volatile int *)&mlxc_interrupted,
    };
    if (!a.hf_path)
        return mlxc_cli_usage_error(cli, "the following arguments are required: --hf-path");
    mlxc_catch_sigint();
    struct mlxc_err e = {0};
    rc = mlxc_convert_main(&a, stderr, &e);
    return mlxc_cli_status(cli, rc, e.msg);
}

/* mlxc-cache-prompt: prefill a prompt once and save its KV cache (mlx_lm.cache_prompt). */
#include <stdlib.h>
#include <string.h>

#include "cmd/cli.h"
#include "cmd/cli_params.h"
#include "cmd/sig.h"
#include "core/app_cache_prompt.h"
#include "core/sys.h"
#include "core/term.h"
#include "core/utf8.h"

int main(int argc, char **argv)
{
    const struct mlxc_cli *cli = &mlxc_cli_cache_prompt;
    struct mlxc_opts o;
    int rc = mlxc_cli_parse(cli, argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (!o.prompt || !o.prompt_cache_file)
        return mlxc_cli_usage_error(cli, "the following arguments are required: %s",
                                    !o.prompt ? "--prompt" : "--prompt-cache-file");
    struct mlxc_err e = {0};
    char *prompt = NULL;
    if (strcmp(o.prompt, "-") == 0) { /* no escape processing, as mlx_lm */
        size_t len;
        if (!(prompt = mlxc_read_stream(stdin, 1u << 30, &len, &e))) {
            mlxc_cli_error(cli, e.msg);
            return 1;
        }
        if (!mlxc_utf8_valid(prompt, len) || strlen(prompt) != len) {
            free(prompt);
            mlxc_cli_error(cli, "the prompt read from stdin is not valid UTF-8 text");
            return 1;
        }
    }
    struct mlxc_cache_prompt_args a = {
        .model = o.model,
        .prompt = prompt ? prompt : o.prompt,
        .prompt_cache_file = o.prompt_cache_file,
        .eos_token = o.eos_token,
        .cache = mlxc_cli_cache_opts(cli, &o),
        .prefill_step_size = o.prefill_step_size,
        .threads = (int)o.threads,
        .progress_in_place = mlxc_term_interactive(fileno(stderr)), /* plain lines in pipes and logs */
        .interrupt = (volatile int *)&mlxc_interrupted,
    };
    mlxc_catch_sigint();
    rc = mlxc_cache_prompt_main(&a, stderr, &e);
    free(prompt);
    return mlxc_cli_status(cli, rc, e.msg);
}

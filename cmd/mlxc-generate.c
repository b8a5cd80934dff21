/* mlxc-generate: one-shot generation (mlx_lm.generate). Text goes to stdout as it is produced; the
 * rules and statistics go to stderr, so `mlxc-generate ... | cmd` gets only text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cli.h"
#include "cmd/cli_params.h"
#include "cmd/sig.h"
#include "core/app_batch.h"
#include "core/app_generate.h"
#include "core/prompt.h"
#include "core/sys.h"
#include "core/utf8.h"

#define MAX_STDIN_PROMPT (256u << 20)

int main(int argc, char **argv)
{
    const struct mlxc_cli *cli = &mlxc_cli_generate;
    struct mlxc_opts o;
    int rc = mlxc_cli_parse(cli, argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : rc;
    struct mlxc_err e = {0};
    char *prompt;
    if (o.batch) {
        if (mlxc_cli_given(cli, &o, "prompt"))
            return mlxc_cli_usage_error(cli, "--batch reads the prompts from stdin: drop --prompt");
        if (o.prefill_batch_size < 1 || o.completion_batch_size < o.prefill_batch_size)
            return mlxc_cli_usage_error(cli, "--completion-batch-size (%ld) must be at least --prefill-batch-size "
                                        "(%ld), which must be at least 1", o.completion_batch_size,
                                        o.prefill_batch_size);
        prompt = strdup("");
    } else if (strcmp(o.prompt, "-") == 0) { /* stdin is taken as it is: no escape processing (as mlx_lm) */
        size_t len;
        if (!(prompt = mlxc_read_stream(stdin, MAX_STDIN_PROMPT, &len, &e))) {
            mlxc_cli_error(cli, e.msg);
            return 1;
        }
        size_t valid = mlxc_utf8_valid_prefix(prompt, len);
        if (valid != len || strlen(prompt) != len) {
            fprintf(stderr, "%s: error: the prompt read from stdin is not valid UTF-8 text (byte %zu)\n", cli->prog,
                    valid);
            free(prompt);
            return 1;
        }
    } else {
        prompt = mlxc_prompt_unescape(o.prompt);
        size_t len = prompt ? strlen(prompt) : 0, valid = prompt ? mlxc_utf8_valid_prefix(prompt, len) : 0;
        if (!prompt || valid != len) { /* argv bytes are whatever the shell passed */
            fprintf(stderr, "%s: error: the prompt is not valid UTF-8 text (byte %zu)\n", cli->prog, valid);
            free(prompt);
            return 1;
        }
    }
    struct mlxc_logits_params lp = mlxc_cli_penalties(cli, &o);
    int32_t *bias_ids = NULL;
    float *bias_values = NULL;
    if (o.logit_bias && mlxc_logit_bias_parse(o.logit_bias, 0, &bias_ids, &bias_values, &lp.n_bias, &e) != 0) {
        free(prompt);
        return mlxc_cli_usage_error(cli, "%s", e.msg);
    }
    lp.bias_ids = bias_ids;
    lp.bias_values = bias_values;
    struct mlxc_generate_args a = {
        .model = o.model,
        .prompt = prompt,
        .system_prompt = o.system_prompt,
        .prefill_response = o.prefill_response,
        .chat_template_config = o.chat_template_config,
        .ignore_chat_template = o.ignore_chat_template,
        .ignore_eos = o.ignore_eos,
        .extra_eos_token = o.extra_eos_token,
        .max_tokens = o.max_tokens,
        .prefill_step_size = o.prefill_step_size,
        .sampling = mlxc_cli_sampling(&o),
        .has_seed = mlxc_cli_given(cli, &o, "seed"),
        .seed = (uint64_t)o.seed,
        .verbose = o.verbose,
        .jsonl = strcmp(o.output_format, "jsonl") == 0,
        .top_logprobs = (int)o.top_logprobs,
        .threads = (int)o.threads,
        .interrupt = (volatile int *)&mlxc_interrupted,
        .cache = mlxc_cli_cache_opts(cli, &o),
        .kv_bits_given = mlxc_cli_given(cli, &o, "kv-bits"),
        .kv_group_size_given = mlxc_cli_given(cli, &o, "kv-group-size"),
        .logits = lp,
        .stop = o.stop,
        .prompt_cache_file = o.prompt_cache_file,
        .save_prompt_cache = o.save_prompt_cache,
        .prefill_batch_size = o.prefill_batch_size,
        .completion_batch_size = o.completion_batch_size,
    };
    mlxc_catch_sigint();
    rc = o.batch ? mlxc_generate_batch_main(&a, stdin, stdout, stderr, &e) : mlxc_generate_main(&a, stdout, stderr, &e);
    free(prompt);
    free(o.extra_eos_token);
    free(o.stop);
    free(bias_ids);
    free(bias_values);
    return mlxc_cli_status(cli, rc, e.msg);
}

/* mlxc-chat: terminal chat (mlx_lm.chat). The chat core is core/chat.h; this picks the view: the
 * full-screen one when stdin and stdout are terminals, else (or with --plain) the line view. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cli.h"
#include "cmd/cli_params.h"
#include "cmd/sig.h"
#include "core/chat.h"
#include "core/chat_view.h"
#include "core/term.h"

int main(int argc, char **argv)
{
    const struct mlxc_cli *cli = &mlxc_cli_chat;
    struct mlxc_opts o;
    int rc = mlxc_cli_parse(cli, argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : rc;
    mlxc_catch_sigint(); /* a Ctrl-C while loading stops the first reply, never kills the terminal mid-draw */
    if (o.resume && o.prompt_cache_file)
        return mlxc_cli_usage_error(cli, "--resume and --prompt-cache-file cannot be used together");
    struct mlxc_err e = {0};
    char *system = NULL;
    if (o.system_prompt && !(system = mlxc_chat_text_arg(o.system_prompt, &e))) {
        mlxc_cli_error(cli, e.msg);
        return 1;
    }
    struct mlxc_chat_params p = {
        .model = o.model,
        .system_prompt = system,
        .chat_template_config = o.chat_template_config,
        .extra_eos_token = o.extra_eos_token,
        .max_tokens = o.max_tokens,
        .prefill_step_size = o.prefill_step_size,
        .sampling = mlxc_cli_sampling(&o),
        .logits = mlxc_cli_penalties(cli, &o),
        .logit_bias = o.logit_bias,
        .stop = o.stop,
        .seed = (uint64_t)o.seed,
        .seed_given = mlxc_cli_given(cli, &o, "seed"),
        .cache = mlxc_cli_cache_opts(cli, &o),
        .prompt_cache_file = o.prompt_cache_file,
        .resume = o.resume,
        .render = strcmp(o.render_mode, "conversation") == 0 ? MLXC_CHAT_RENDER_CONVERSATION : MLXC_CHAT_RENDER_TURN,
        .max_context = o.max_context,
        .threads = (int)o.threads,
        .interrupt = (volatile int *)&mlxc_interrupted,
    };
    struct mlxc_chat *c = NULL;
    rc = mlxc_chat_open(&p, &c, &e);
    free(system);
    free(o.extra_eos_token);
    free(o.stop);
    if (rc) {
        mlxc_cli_error(cli, e.msg);
        return 1;
    }
    int tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
    char *history = NULL;
    if (tty && !(history = mlxc_chat_history_path(&e)))
        fprintf(stderr, "%s: warning: no input history: %s\n", cli->prog, e.msg);
    struct mlxc_chat_view_opts vo = {
        .prog = cli->prog,
        .interrupt = (volatile int *)&mlxc_interrupted,
        .history_path = history,
        .color = mlxc_term_use_color(o.color, STDOUT_FILENO), /* --color, NO_COLOR */
    };
    if (tty && !o.plain)
        rc = mlxc_chat_view_tui(c, &vo);
    else
        rc = mlxc_chat_view_plain(c, &vo, stdin, stdout, stderr);
    free(history);
    mlxc_chat_close(c);
    return rc;
}

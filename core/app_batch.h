/* mlxc-generate --batch: many requests through one continuously batched engine (core/batch.h).
 *
 * Requests come from `in`, one per line, and are served as they arrive (stdin is polled between decode
 * steps, so a slow pipe is served line by line):
 *   - plain text: the prompt, with the command line's settings;
 *   - a JSON object (a line starting with '{'): {"id": any JSON value, "prompt": "..." or "messages":
 *     [...], "system_prompt", and mlxc-generate's sampling and processing flags with underscores (the
 *     mlx_lm server's request fields): "max_tokens", "temp", "top_p", "min_p", "top_k",
 *     "min_tokens_to_keep", "xtc_probability", "xtc_threshold", "seed", "stop" (a string or a list),
 *     "repetition_penalty", "repetition_context_size", "presence_penalty", "frequency_penalty",
 *     "logit_bias" ({"ID": bias, ...} or "ID=V,..."), "top_logprobs"}; absent keys take the command
 *     line's values, the id defaults to the line number (from 1). The prompt goes through the chat
 *     template as mlxc-generate's does; messages are rendered with the template's generation prompt.
 * With --prompt-cache-file every request starts from its own copy of the loaded cache (made when the
 * request is admitted), and its prompt is cut to what follows the cached prefix as mlxc-generate cuts
 * it (mlx_lm's "<query>" trick, also for messages); the model defaults to the one the cache names.
 * Each finished request writes one line to `out` at once:
 *   {"id": ..., "text": "...", "finish_reason": "stop"|"length", "prompt_tokens": N, "generation_tokens": N}
 * A bad line (invalid JSON, unknown keys, bad values, a prompt longer than the model's context, a line
 * over 16 MiB) writes {"id": ..., "error": "..."} and the rest go on. With jsonl, every token writes
 * {"id": ..., "token": N, "logprob": x, "top_logprobs": [[id, logprob], ...], "text": "..."} (the text
 * it makes final) and the end of a request
 * {"id": ..., "finish_reason": ..., "text": "...", "prompt_tokens": N, "generation_tokens": N}.
 * End of input: the requests under way finish, then it returns. A failed write (the reader went away)
 * ends it quietly with 0. Statistics (mlx_lm's BatchStats) go to `log` when verbose. */
#ifndef MLXC_APP_BATCH_H
#define MLXC_APP_BATCH_H

#include <stdio.h>

#include "core/app_generate.h"

int mlxc_generate_batch_main(const struct mlxc_generate_args *a, FILE *in, FILE *out, FILE *log,
                             struct mlxc_err *e);

#endif

/* The flag tables of every program. Shared flags are written once as macros, with mlx_lm's names and
 * defaults (../shared/reference/mlx-lm-facts.md §1); where mlx_lm's tools differ (max tokens 100 in
 * generate, 256 in chat) each table says so. */
#include <stddef.h>

#include "cmd/cli.h"

#define OFF(field) offsetof(struct mlxc_opts, field)

#define HELP_OPT {"help", 'h', OPT_HELP, NULL, NULL, "show this help message and exit", OFF(help), NULL, 0}
#define VERSION_OPT {"version", 0, OPT_VERSION, NULL, NULL, "show the version and exit", OFF(version), NULL, 0}
#define MODEL_OPT(def)                                                                                  \
    {"model", 0, OPT_STR, def, "MODEL",                                                                 \
     "the model folder, or a Hugging Face repo id found in the local cache", OFF(model), NULL,        \
     COMPLETE_MODEL}
/* Every table has it (a test checks): the views and progress bars ask mlxc_term_use_color (core/term.h). */
#define COLOR_OPT                                                                                       \
    {"color", 0, OPT_CHOICE, "auto", NULL, "color the output: auto (only a terminal, and not with NO_COLOR), "   \
     "always or never", OFF(color), "auto|always|never", COMPLETE_CHOICES}

/* generate and chat: without --model, the model this project ships (core/model_dir.h) */
#define DEFAULT_MODEL_OPT                                                                               \
    {"model", 0, OPT_STR, NULL, "MODEL",                                                                \
     "the model folder, or a Hugging Face repo id found in the local cache; none: the bundled "        \
     "mlxc-tiny", OFF(model), NULL, COMPLETE_MODEL}
#define THREADS_OPT                                                                                     \
    {"threads", 't', OPT_INT, "0", "N", "worker threads; 0 uses every core (or $MLXC_THREADS)",        \
     OFF(threads), NULL, 0}

/* Sampling flags shared by generate and chat (mlx_lm make_sampler). */
#define TEMP_OPT {"temp", 0, OPT_FLOAT, "0.0", "TEMP", "sampling temperature; 0 is greedy", OFF(temp), NULL, 0}
#define TOP_P_OPT {"top-p", 0, OPT_FLOAT, "1.0", "P", "nucleus sampling: keep the most likely tokens up to mass P", OFF(top_p), NULL, 0}
#define XTC_OPTS                                                                                         \
    {"xtc-probability", 0, OPT_FLOAT, "0.0", "P", "probability of applying XTC (exclude top choices)",     \
     OFF(xtc_probability), NULL, 0},                                                                     \
    {"xtc-threshold", 0, OPT_FLOAT, "0.1", "T", "XTC removes the tokens above this probability but the least likely", \
     OFF(xtc_threshold), NULL, 0}

/* KV cache flags shared by generate, chat and cache-prompt. */
#define MAX_KV_SIZE_OPT                                                                                  \
    {"max-kv-size", 0, OPT_INT, NULL, "N",                                                               \
     "keep at most N positions in a rotating KV cache (the first 4 are always kept); works for every "   \
     "family, unlike mlx_lm; sliding-window layers (gemma3) keep their window, N bounds the others",      \
     OFF(max_kv_size), NULL, 0}
#define KV_QUANT_OPTS                                                                                    \
    {"kv-bits", 0, OPT_INT, NULL, "BITS", "quantize the KV cache to BITS (2-8); also with a rotating cache (max-kv-size)",  \
     OFF(kv_bits), NULL, 0},                                                                             \
    {"kv-group-size", 0, OPT_INT, "64", "N", "group size of KV cache quantization", OFF(kv_group_size),  \
     NULL, 0},                                                                                           \
    {"quantized-kv-start", 0, OPT_INT, "5000", "N", "quantize the KV cache once it holds N positions",  \
     OFF(quantized_kv_start), NULL, 0}
/* Logits processors (the mlx_lm server's; its CLI lacks them) and stop strings. */
#define PENALTY_OPTS                                                                                     \
    {"repetition-penalty", 0, OPT_FLOAT, NULL, "P", "penalize tokens seen in the last context tokens "   \
     "(> 1 discourages)", OFF(repetition_penalty), NULL, 0},                                            \
    {"repetition-context-size", 0, OPT_INT, "20", "N", "tokens (prompt included) the penalties look back", \
     OFF(repetition_context_size), NULL, 0},                                                             \
    {"presence-penalty", 0, OPT_FLOAT, "0.0", "P", "subtract P from tokens seen in the context",        \
     OFF(presence_penalty), NULL, 0},                                                                    \
    {"frequency-penalty", 0, OPT_FLOAT, "0.0", "P", "subtract P per occurrence in the context",         \
     OFF(frequency_penalty), NULL, 0},                                                                   \
    {"logit-bias", 0, OPT_STR, NULL, "ID=V,...", "add V to the logit of token ID", OFF(logit_bias), NULL, 0}, \
    {"stop", 0, OPT_STRS, NULL, "STRING", "stop when the text contains STRING (repeatable; never printed)", \
     OFF(stop), NULL, 0}

static const struct mlxc_opt generate_opts[] = {
    HELP_OPT,
    DEFAULT_MODEL_OPT,
    {"prompt", 'p', OPT_STR, "hello", "PROMPT", "message to the model; '-' reads stdin", OFF(prompt), NULL, 0},
    {"system-prompt", 0, OPT_STR, NULL, "TEXT", "system message (only with the chat template)",
     OFF(system_prompt), NULL, 0},
    {"prefill-response", 0, OPT_STR, NULL, "TEXT", "start of the assistant's reply, continued by the model",
     OFF(prefill_response), NULL, 0},
    {"max-tokens", 'm', OPT_INT, "100", "N", "maximum number of tokens to generate; -1 for no limit",
     OFF(max_tokens), NULL, 0},
    TEMP_OPT,
    TOP_P_OPT,
    {"min-p", 0, OPT_FLOAT, "0.0", "P", "drop tokens less likely than P times the most likely one", OFF(min_p),
     NULL, 0},
    {"min-tokens-to-keep", 0, OPT_INT, "1", "N", "tokens min-p always keeps", OFF(min_tokens_to_keep), NULL, 0},
    {"top-k", 0, OPT_INT, "0", "K", "keep only the K most likely tokens; 0 keeps all", OFF(top_k), NULL, 0},
    XTC_OPTS,
    {"seed", 0, OPT_INT, NULL, "SEED", "seed of the random generator (unseeded: the clock)", OFF(seed), NULL, 0},
    {"ignore-chat-template", 0, OPT_FLAG, NULL, NULL, "use the raw prompt without the chat template",
     OFF(ignore_chat_template), NULL, 0},
    {"chat-template-config", 0, OPT_STR, NULL, "JSON", "extra chat template arguments, e.g. '{\"enable_thinking\": false}'",
     OFF(chat_template_config), NULL, 0},
    {"extra-eos-token", 0, OPT_STRS, NULL, "TOKEN", "more tokens (ids or strings) that end generation",
     OFF(extra_eos_token), NULL, 0},
    {"ignore-eos", 0, OPT_FLAG, NULL, NULL, "keep generating past end-of-sequence tokens (for benchmarks)",
     OFF(ignore_eos), NULL, 0},
    PENALTY_OPTS,
    MAX_KV_SIZE_OPT,
    KV_QUANT_OPTS,
    {"prompt-cache-file", 0, OPT_STR, NULL, "FILE", "start from a prompt cache written by mlxc-cache-prompt "
     "(or mlx_lm.cache_prompt); the model defaults to the one it names", OFF(prompt_cache_file), NULL,
     COMPLETE_SAFETENSORS},
    {"save-prompt-cache", 0, OPT_STR, NULL, "FILE", "after generating, save the KV cache (prompt and reply) to FILE",
     OFF(save_prompt_cache), NULL, COMPLETE_SAFETENSORS},
    {"prefill-step-size", 0, OPT_INT, "2048", "N", "prompt tokens processed per step", OFF(prefill_step_size),
     NULL, 0},
    {"batch", 0, OPT_FLAG, NULL, NULL, "serve requests read from stdin, one per line (text or JSON), with "
     "continuous batching; one JSON line per finished request", OFF(batch), NULL, 0},
    {"prefill-batch-size", 0, OPT_INT, "8", "N", "in batch mode: new prompts prefilled together",
     OFF(prefill_batch_size), NULL, 0},
    {"completion-batch-size", 0, OPT_INT, "32", "N", "in batch mode: requests decoded together (at least the "
     "prefill batch size)", OFF(completion_batch_size), NULL, 0},
    {"output-format", 0, OPT_CHOICE, "text", NULL, "text, or one JSON object per token (jsonl)",
     OFF(output_format), "text|jsonl", COMPLETE_CHOICES},
    {"top-logprobs", 0, OPT_INT, "0", "K", "with jsonl: the K most likely tokens at each step", OFF(top_logprobs),
     NULL, 0},
    {"verbose", 0, OPT_BOOL, "true", "BOOL", "print the rules and statistics (to stderr)", OFF(verbose),
     NULL, 0},
    THREADS_OPT,
    COLOR_OPT,
    VERSION_OPT,
};

static const struct mlxc_opt chat_opts[] = {
    HELP_OPT,
    DEFAULT_MODEL_OPT,
    TEMP_OPT,
    TOP_P_OPT,
    {"min-p", 0, OPT_FLOAT, "0.0", "P", "drop tokens less likely than P times the most likely one", OFF(min_p),
     NULL, 0},
    {"min-tokens-to-keep", 0, OPT_INT, "1", "N", "tokens min-p always keeps", OFF(min_tokens_to_keep), NULL, 0},
    {"top-k", 0, OPT_INT, "0", "K", "keep only the K most likely tokens; 0 keeps all", OFF(top_k), NULL, 0},
    XTC_OPTS,
    {"seed", 0, OPT_INT, "0", "SEED", "seed of the random generator (seeded once per session; a resumed session "
     "goes on with its saved random state unless a seed is given)", OFF(seed), NULL, 0},
    {"max-tokens", 'm', OPT_INT, "256", "N", "maximum number of tokens per reply; -1 for no limit", OFF(max_tokens),
     NULL, 0},
    {"system-prompt", 0, OPT_STR, NULL, "TEXT", "system message; @FILE reads it from a file", OFF(system_prompt),
     NULL, 0},
    {"chat-template-config", 0, OPT_STR, NULL, "JSON", "extra chat template arguments, e.g. '{\"enable_thinking\": false}'",
     OFF(chat_template_config), NULL, 0},
    {"extra-eos-token", 0, OPT_STRS, NULL, "TOKEN", "more tokens (ids or strings) that end a reply",
     OFF(extra_eos_token), NULL, 0},
    PENALTY_OPTS,
    MAX_KV_SIZE_OPT,
    KV_QUANT_OPTS,
    {"max-context", 0, OPT_INT, NULL, "N", "end the context at N positions (none: the model's max_position_embeddings)",
     OFF(max_context), NULL, 0},
    {"prompt-cache-file", 0, OPT_STR, NULL, "FILE", "start from this cached prompt (mlxc-cache-prompt) or saved "
     "session", OFF(prompt_cache_file), NULL, COMPLETE_SAFETENSORS},
    {"resume", 0, OPT_STR, NULL, "FILE", "continue a session saved with /save", OFF(resume), NULL,
     COMPLETE_SAFETENSORS},
    {"render", 0, OPT_CHOICE, "turn", NULL, "turn: each message is rendered alone, as mlx_lm.chat does; "
     "conversation: the whole conversation is rendered and only what the cache lacks is computed", OFF(render_mode),
     "turn|conversation", COMPLETE_CHOICES},
    {"plain", 0, OPT_FLAG, NULL, NULL, "a plain line interface instead of the full-screen one (also when stdin or "
     "stdout is not a terminal)", OFF(plain), NULL, 0},
    {"prefill-step-size", 0, OPT_INT, "2048", "N", "prompt tokens processed per step", OFF(prefill_step_size),
     NULL, 0},
    THREADS_OPT,
    COLOR_OPT,
    VERSION_OPT,
};

static const struct mlxc_opt convert_opts[] = {
    HELP_OPT,
    {"hf-path", 0, OPT_STR, NULL, "PATH", "the source model: a folder or a cached repo id (model is another name for it)",
     OFF(hf_path), NULL, COMPLETE_MODEL},
    {"model", 0, OPT_STR, NULL, "PATH", "the source model (another name for hf-path)", OFF(model), NULL, COMPLETE_MODEL},
    {"mlx-path", 0, OPT_STR, "mlx_model", "PATH", "where to write the converted model (must not exist)",
     OFF(mlx_path), NULL, COMPLETE_DIR},
    {"quantize", 'q', OPT_FLAG, NULL, NULL, "quantize the model", OFF(quantize), NULL, 0},
    {"q-group-size", 0, OPT_INT, NULL, "N", "group size (mode default: affine 64, mxfp4/mxfp8 32, nvfp4 16)",
     OFF(q_group_size), NULL, 0},
    {"q-bits", 0, OPT_INT, NULL, "N", "bits per weight (mode default: 4, mxfp8 8)", OFF(q_bits), NULL, 0},
    {"q-mode", 0, OPT_CHOICE, "affine", NULL, "quantization mode", OFF(q_mode), "affine|mxfp4|nvfp4|mxfp8",
     COMPLETE_CHOICES},
    {"quant-predicate", 0, OPT_CHOICE, NULL, NULL, "mixed-bit recipe (affine only)", OFF(quant_predicate),
     "mixed_2_6|mixed_3_4|mixed_3_6|mixed_4_6", COMPLETE_CHOICES},
    {"dtype", 0, OPT_CHOICE, NULL, NULL, "type of the float weights (default: the config's)", OFF(dtype),
     "float16|bfloat16|float32", COMPLETE_CHOICES},
    {"dequantize", 'd', OPT_FLAG, NULL, NULL, "dequantize a quantized model", OFF(dequantize), NULL, 0},
    COLOR_OPT,
    VERSION_OPT,
};

static const struct mlxc_opt cache_prompt_opts[] = {
    HELP_OPT,
    MODEL_OPT("mlx_model"),
    {"prompt", 0, OPT_STR, NULL, "PROMPT", "the prompt to cache (required); '-' reads stdin", OFF(prompt), NULL, 0},
    {"prompt-cache-file", 0, OPT_STR, NULL, "FILE", "the .safetensors file to write (required)",
     OFF(prompt_cache_file), NULL, COMPLETE_SAFETENSORS},
    {"eos-token", 0, OPT_STR, NULL, "TOKEN", "end-of-sequence token stored in the cache's tokenizer config",
     OFF(eos_token), NULL, 0},
    MAX_KV_SIZE_OPT,
    KV_QUANT_OPTS,
    {"prefill-step-size", 0, OPT_INT, "2048", "N", "prompt tokens processed per step", OFF(prefill_step_size),
     NULL, 0},
    THREADS_OPT,
    COLOR_OPT,
    VERSION_OPT,
};

static const struct mlxc_opt tokenize_opts[] = {
    HELP_OPT,
    MODEL_OPT(NULL),
    {"tokenizer", 0, OPT_STR, NULL, "DIR", "a folder with tokenizer.json (instead of a model)",
     OFF(tokenizer), NULL, COMPLETE_DIR},
    {"text", 0, OPT_STR, NULL, "TEXT", "text to tokenize; stdin when absent", OFF(text), NULL, 0},
    {"count", 0, OPT_FLAG, NULL, NULL, "print only the number of tokens", OFF(count), NULL, 0},
    {"json", 0, OPT_FLAG, NULL, NULL, "print {\"ids\": [...], \"tokens\": [...]}", OFF(json), NULL, 0},
    {"decode", 0, OPT_FLAG, NULL, NULL, "the input is token ids (separated by spaces or commas): print their text",
     OFF(decode), NULL, 0},
    {"no-special", 0, OPT_FLAG, NULL, NULL,
     "no special tokens: no BOS/EOS when encoding, special tokens skipped when decoding", OFF(no_special), NULL, 0},
    {"jsonl", 0, OPT_FLAG, NULL, NULL, "read one JSON string per line, write one JSON array of ids per line",
     OFF(jsonl), NULL, 0},
    {"chat", 0, OPT_STR, NULL, "FILE", "render the chat template over a JSON file of messages (or a request "
     "object) and print its ids", OFF(chat), NULL, COMPLETE_FILE},
    {"render", 0, OPT_FLAG, NULL, NULL, "print the chat template's rendered text exactly instead of its ids", OFF(render),
     NULL, 0},
    COLOR_OPT,
    VERSION_OPT,
};

static const struct mlxc_opt bench_opts[] = {
    HELP_OPT,
    MODEL_OPT(NULL),
    {"prompt-tokens", 'p', OPT_INT, "512", "N", "random prompt tokens per trial", OFF(prompt_tokens), NULL, 0},
    {"generation-tokens", 'g', OPT_INT, "128", "N", "tokens generated per trial (EOS ignored)",
     OFF(generation_tokens), NULL, 0},
    {"num-trials", 'n', OPT_INT, "5", "N", "timed trials after one warm-up run", OFF(num_trials), NULL, 0},
    {"batch-size", 'b', OPT_INT, "1", "N",
     "sequences processed together: N random prompts prefilled as one group, then decoded together (the batch "
     "engine of generate's batch mode); tokens/s are summed over them", OFF(batch_size), NULL, 0},
    {"prefill-step-size", 0, OPT_INT, "2048", "N", "prompt tokens processed per step", OFF(prefill_step_size),
     NULL, 0},
    {"output-format", 0, OPT_CHOICE, "text", NULL, "text, or one JSON object per trial and the averages (jsonl)",
     OFF(output_format), "text|jsonl", COMPLETE_CHOICES},
    THREADS_OPT,
    COLOR_OPT,
    VERSION_OPT,
};

static const struct mlxc_opt perplexity_opts[] = {
    HELP_OPT,
    DEFAULT_MODEL_OPT,
    {"data", 0, OPT_STR, "-", "FILE", "the UTF-8 text to score; '-' reads stdin", OFF(data), NULL, COMPLETE_FILE},
    {"sequence-length", 0, OPT_INT, "512", "L", "tokens per window", OFF(sequence_length), NULL, 0},
    {"stride", 0, OPT_INT, NULL, "S",
     "tokens between window starts (1..L; none: L); windows after the first score their last S tokens",
     OFF(stride), NULL, 0},
    {"batch-size", 0, OPT_INT, "1", "N", "windows per step; they run one at a time, so no result depends on it",
     OFF(batch_size), NULL, 0},
    {"num-samples", 0, OPT_INT, "-1", "N", "score only the first N windows; -1 for all", OFF(num_samples), NULL, 0},
    {"output-format", 0, OPT_CHOICE, "text", NULL, "text, or one JSON object per window and the result (jsonl)",
     OFF(output_format), "text|jsonl", COMPLETE_CHOICES},
    THREADS_OPT,
    COLOR_OPT,
    VERSION_OPT,
};

#define CLI(var, name, summary, table) \
    const struct mlxc_cli var = {name, summary, table, sizeof table / sizeof table[0]}

CLI(mlxc_cli_generate, "mlxc-generate", "Generate text from a prompt with an MLX model.", generate_opts);
CLI(mlxc_cli_chat, "mlxc-chat", "Chat with an MLX model in the terminal.", chat_opts);
CLI(mlxc_cli_convert, "mlxc-convert", "Convert Hugging Face models to MLX format (cast, quantize, dequantize).",
    convert_opts);
CLI(mlxc_cli_cache_prompt, "mlxc-cache-prompt", "Prefill a prompt once and save its KV cache to a file.",
    cache_prompt_opts);
CLI(mlxc_cli_tokenize, "mlxc-tokenize", "Turn text into token ids and back with a model's tokenizer.",
    tokenize_opts);

CLI(mlxc_cli_bench, "mlxc-bench", "Measure prefill and decode speed of a model.", bench_opts);
CLI(mlxc_cli_perplexity, "mlxc-perplexity", "Measure the perplexity of a text under a model.", perplexity_opts);

const struct mlxc_cli *const mlxc_all_clis[] = {
    &mlxc_cli_generate, &mlxc_cli_chat, &mlxc_cli_convert, &mlxc_cli_cache_prompt, &mlxc_cli_tokenize,
    &mlxc_cli_bench, &mlxc_cli_perplexity,
};
const size_t mlxc_n_clis = sizeof mlxc_all_clis / sizeof mlxc_all_clis[0];

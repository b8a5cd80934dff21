/* Command-line flags for every mlxc program, from one declarative table per program (cmd/flags.c).
 *
 * The tables drive parsing (getopt_long, with argparse's behaviour: unique prefixes of long names are
 * accepted, a bad flag prints a usage line and exits 2), --help (every flag with its default), and the
 * generated shell completions and man pages, so the three can never drift apart. */
#ifndef MLXC_CLI_H
#define MLXC_CLI_H

#include <stddef.h>

enum mlxc_opt_type {
    OPT_FLAG,    /* no value: sets an int to 1 */
    OPT_STR,     /* a string */
    OPT_INT,     /* a long */
    OPT_FLOAT,   /* a double */
    OPT_BOOL,    /* a value read as mlx_lm's str2bool: anything but "false"/"f" is true */
    OPT_CHOICE,  /* one of opt->choices ("a|b|c"), stored as a string */
    OPT_STRS,    /* one or more values (argparse nargs="+"), repeatable; stored as a NULL-ended list */
    OPT_HELP,    /* -h/--help */
    OPT_VERSION, /* --version */
};

/* What shells should complete a flag's value with. */
enum mlxc_complete {
    COMPLETE_NONE,
    COMPLETE_FILE,        /* any file */
    COMPLETE_SAFETENSORS, /* *.safetensors files */
    COMPLETE_DIR,         /* a folder */
    COMPLETE_MODEL,       /* a folder or a repo id from the local Hugging Face cache */
    COMPLETE_CHOICES,     /* opt->choices */
};

struct mlxc_opt {
    const char *name;        /* long name, without "--" */
    char short_name;         /* 0 if none */
    enum mlxc_opt_type type;
    const char *def;         /* default as text (parsed into the field before argv); NULL = None */
    const char *metavar;     /* value name in help, e.g. "N" */
    const char *help;
    size_t off;              /* offsetof(struct mlxc_opts, field) */
    const char *choices;     /* "a|b|c" for OPT_CHOICE (and completion hints) */
    enum mlxc_complete complete;
};

/* Every value any program takes. Unset strings are NULL; `given` bits say which flags appeared. */
struct mlxc_opts {
    /* model and prompt */
    const char *model, *tokenizer, *prompt, *system_prompt, *prefill_response, *text;
    const char *chat_template_config, *prompt_cache_file, *save_prompt_cache, *output_format;
    char **extra_eos_token, **stop;
    int ignore_chat_template, verbose, trust_remote_code, ignore_eos;
    /* generation */
    long max_tokens, top_k, min_tokens_to_keep, seed, top_logprobs, prefill_step_size;
    int batch;                                       /* generate --batch */
    long prefill_batch_size, completion_batch_size;
    double temp, top_p, min_p, xtc_probability, xtc_threshold;
    double repetition_penalty, presence_penalty, frequency_penalty;
    long repetition_context_size;
    const char *logit_bias;
    /* KV cache */
    long max_kv_size, kv_bits, kv_group_size, quantized_kv_start;
    const char *eos_token;
    /* convert */
    const char *hf_path, *mlx_path, *q_mode, *quant_predicate, *dtype;
    long q_group_size, q_bits;  /* given[] says whether they were set */
    int quantize, dequantize;
    /* tokenize */
    int count, json, decode, no_special, jsonl, render;
    const char *chat;
    /* bench */
    long prompt_tokens, generation_tokens, num_trials;
    /* runtime */
    long threads;
    /* help / version */
    int help, version;
    /* which options appeared on the command line or had a default (index = table position) */
    unsigned char given[64];
};

struct mlxc_cli {
    const char *prog;        /* "mlxc-generate" */
    const char *summary;     /* one line */
    const struct mlxc_opt *opts;
    size_t nopts;
};

/* The programs' tables (cmd/flags.c). */
extern const struct mlxc_cli mlxc_cli_generate, mlxc_cli_chat, mlxc_cli_convert, mlxc_cli_cache_prompt,
    mlxc_cli_tokenize, mlxc_cli_bench;
extern const struct mlxc_cli *const mlxc_all_clis[];
extern const size_t mlxc_n_clis;

/* Parses argv into o. Prints help or the version and returns 1 (caller exits 0); prints a usage error
 * and returns 2 (caller exits 2); returns 0 to go on. */
int mlxc_cli_parse(const struct mlxc_cli *cli, int argc, char **argv, struct mlxc_opts *o);

/* 1 if the option named `name` was given on the command line (not just defaulted). */
int mlxc_cli_given(const struct mlxc_cli *cli, const struct mlxc_opts *o, const char *name);

/* Prints "usage: ..." and "<prog>: error: <msg>" to stderr and returns 2. */
int mlxc_cli_usage_error(const struct mlxc_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints "<prog>: error: <msg>" for a runtime failure. */
void mlxc_cli_error(const struct mlxc_cli *cli, const char *msg);

void mlxc_cli_print_help(const struct mlxc_cli *cli);

#endif

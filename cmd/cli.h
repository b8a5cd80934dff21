/* Command-line flags for every mlxc program, from one declarative table per program (cmd/flags.c),
 * with a description and examples per program next to them (cmd/docs.c).
 *
 * The tables drive parsing (getopt_long, with argparse's behaviour: unique prefixes of long names are
 * accepted, a bad flag prints a usage line and exits 2), --help (one line per flag with its default), the
 * optional defaults file (cmd/cli_config.c), and the shell completions and man pages that cmd/gen_shell.c
 * writes at build time, so none of them can drift apart.
 *
 * Values are applied in order: the table's defaults, then the defaults file, then argv. */
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
    /* chat */
    const char *resume, *render_mode;
    long max_context;
    int plain;
    /* bench */
    long prompt_tokens, generation_tokens, num_trials;
    /* perplexity */
    const char *data;
    long sequence_length, stride, batch_size, num_samples;
    /* runtime and terminal */
    long threads;
    const char *color; /* auto|always|never: give it to mlxc_term_use_color (core/term.h) */
    /* help / version */
    int help, version;
    /* where each option's value came from (enum mlxc_opt_source; index = table position) */
    unsigned char given[64];
};

enum mlxc_opt_source {
    MLXC_SRC_DEFAULT = 0, /* the table's default (or none) */
    MLXC_SRC_CONFIG = 1,  /* the defaults file */
    MLXC_SRC_ARGV = 2,    /* the command line */
};

/* Exit statuses of every program (printed by --help and in the man pages). */
enum {
    MLXC_EXIT_OK = 0,
    MLXC_EXIT_ERROR = 1,        /* a runtime error: bad model, unreadable file, ... */
    MLXC_EXIT_USAGE = 2,        /* a usage error: bad flag or value, bad defaults file */
    MLXC_EXIT_INTERRUPTED = 130 /* stopped by Ctrl-C (SIGINT) */
};

struct mlxc_cli {
    const char *prog;        /* "mlxc-generate" */
    const char *summary;     /* one line */
    const struct mlxc_opt *opts;
    size_t nopts;
};

/* One example in a program's man page: a command line and what it does. */
struct mlxc_cli_example {
    const char *cmd;
    const char *what;
};

/* A program's man page text that the flag table does not hold (cmd/docs.c). */
struct mlxc_cli_doc {
    const char *prog;                          /* "mlxc-generate" */
    const char *description;                   /* paragraphs separated by "\n\n" */
    const struct mlxc_cli_example examples[8]; /* ended by an entry with cmd == NULL */
};

/* The programs' tables (cmd/flags.c). */
extern const struct mlxc_cli mlxc_cli_generate, mlxc_cli_chat, mlxc_cli_convert, mlxc_cli_cache_prompt,
    mlxc_cli_tokenize, mlxc_cli_bench, mlxc_cli_perplexity;
extern const struct mlxc_cli *const mlxc_all_clis[];
extern const size_t mlxc_n_clis;

/* The doc of a program (cmd/docs.c), or NULL. */
const struct mlxc_cli_doc *mlxc_cli_doc_find(const char *prog);

/* Parses argv into o. Prints help or the version and returns 1 (caller exits 0); prints a usage error
 * and returns 2 (caller exits 2); returns 0 to go on. */
int mlxc_cli_parse(const struct mlxc_cli *cli, int argc, char **argv, struct mlxc_opts *o);

/* Nonzero if the option named `name` was set by the user, on the command line or in the defaults file
 * (not just the table's default): its enum mlxc_opt_source. */
int mlxc_cli_given(const struct mlxc_cli *cli, const struct mlxc_opts *o, const char *name);

/* Prints "usage: ..." and "<prog>: error: <msg>" to stderr and returns 2. */
int mlxc_cli_usage_error(const struct mlxc_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints "<prog>: error: <msg>" for a runtime failure. */
void mlxc_cli_error(const struct mlxc_cli *cli, const char *msg);

/* The exit status for what a command's main function returned: 0 for 0, 130 for MLXC_EINTR (Ctrl-C),
 * else 1 after printing msg with mlxc_cli_error. */
int mlxc_cli_status(const struct mlxc_cli *cli, int rc, const char *msg);

/* --help: a usage line without "--", the summary, one line per flag (each holding "--" once, before
 * anything else on it), and an epilog (exit statuses, defaults file, environment) without "--". */
void mlxc_cli_print_help(const struct mlxc_cli *cli);

/* ---- internals shared by cli.c and cli_config.c ---- */

/* Stores one value for opt into o (OPT_STRS appends); returns 0, or -1 with a message such as
 * "invalid int value: 'abc'" in msg. */
int mlxc_cli_set_value(const struct mlxc_opt *opt, struct mlxc_opts *o, const char *v, char *msg, size_t msgsz);

/* Applies the defaults file to o (after the table's defaults): $MLXC_CONFIG, else
 * $XDG_CONFIG_HOME/mlxc/config (~/.config/mlxc/config); nothing when MLXC_NO_CONFIG is set to a non-empty
 * value other than "0", or when the default file does not exist. Format: "key = value" lines, keys are
 * long flag names, '#' starts a comment line, one optional pair of quotes around a value is removed;
 * "[generate]" (or "[mlxc-generate]") starts a section for one program. Keys before any section apply
 * to every program that has the flag; a program's section wins over them. The whole file is checked
 * on every run, whatever the program: a bad line, an unknown section or key, or a bad value prints one
 * error naming the file and line and returns 2; 0 otherwise. Strings point into a buffer kept until the
 * next call. */
int mlxc_cli_config_apply(const struct mlxc_cli *cli, struct mlxc_opts *o);

/* The defaults file's path as mlxc_cli_config_apply picks it (a new string), or NULL when disabled or
 * there is no $HOME. */
char *mlxc_cli_config_path(void);

#endif

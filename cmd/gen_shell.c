/* gen_shell: writes the shell completions and man pages of the programs from their flag tables
 * (cmd/flags.c) and docs (cmd/docs.c), at build time (completions/meson.build, man/meson.build), so they
 * cannot drift from what the parser accepts.
 *
 *   gen_shell bash|zsh|fish|man PROG   the file for PROG, on stdout
 *   gen_shell list                     the programs, one per line
 *   gen_shell flags PROG               PROG's flags in table order, one per line: "--name -s kind [choices]"
 *                                      (-s is "-" without a short form; kind is flag, value, choices, file,
 *                                      safetensors, dir or model), for the tests
 *   gen_shell check                    checks the tables and docs (every program has a doc, examples use
 *                                      only its flags, help/version/color everywhere, no duplicate names,
 *                                      no "--" in help texts)
 *
 * How each flag's value completes comes from its `complete` field: COMPLETE_CHOICES lists opt->choices,
 * COMPLETE_FILE any file, COMPLETE_SAFETENSORS *.safetensors files (and folders to descend into),
 * COMPLETE_DIR folders, COMPLETE_MODEL folders and the repo ids ("org/name") of the models--org--name
 * folders in the Hugging Face cache roots that core/model_dir.c searches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cli.h"

static int takes_value(const struct mlxc_opt *opt)
{
    return opt->type != OPT_FLAG && opt->type != OPT_HELP && opt->type != OPT_VERSION;
}

static const char *metavar(const struct mlxc_opt *opt)
{
    return opt->metavar ? opt->metavar : "VALUE";
}

/* The words of "a|b|c", separated by `sep`. */
static void put_choices(FILE *out, const char *choices, const char *sep)
{
    for (const char *p = choices; *p; p++) {
        if (*p == '|')
            fputs(sep, out);
        else
            fputc(*p, out);
    }
}

/* "(default: X)" as --help prints it, or "" for flags */
static void default_text(const struct mlxc_opt *opt, char *buf, size_t n)
{
    buf[0] = '\0';
    if (takes_value(opt))
        snprintf(buf, n, " (default: %s)", opt->def ? opt->def : "none");
}

/* "mlxc-generate" -> "_mlxc_generate" (the bash completion function) */
static void put_ident(FILE *out, const char *prog)
{
    fputc('_', out);
    for (; *prog; prog++)
        fputc((*prog >= 'a' && *prog <= 'z') || (*prog >= 'A' && *prog <= 'Z') || (*prog >= '0' && *prog <= '9')
                  ? *prog
                  : '_',
              out);
}

/* ---- bash ---- */

static const char bash_helpers[] =
    "# The repo ids (\"org/name\") of the models in the local Hugging Face caches, one per line: the\n"
    "# models--org--name folders in the roots that mlxc searches for --model.\n"
    "_mlxc_hf_repos()\n"
    "{\n"
    "    local root dir name\n"
    "    for root in ${HF_HUB_CACHE:+\"$HF_HUB_CACHE\"} ${HF_HOME:+\"$HF_HOME/hub\"} \\\n"
    "        ${XDG_CACHE_HOME:+\"$XDG_CACHE_HOME/huggingface/hub\"} ${HOME:+\"$HOME/.cache/huggingface/hub\"}; do\n"
    "        for dir in \"$root\"/models--*--*; do\n"
    "            [[ -d $dir ]] || continue\n"
    "            name=${dir##*/models--}\n"
    "            printf '%s\\n' \"${name/--//}\"\n"
    "        done\n"
    "    done\n"
    "}\n"
    "\n"
    "# _mlxc_complete_value KIND WORD: fills COMPREPLY with the values of kind KIND that start with WORD\n"
    "_mlxc_complete_value()\n"
    "{\n"
    "    compopt -o filenames 2>/dev/null\n"
    "    case $1 in\n"
    "    file) mapfile -t COMPREPLY < <(compgen -f -- \"$2\") ;;\n"
    "    dir) mapfile -t COMPREPLY < <(compgen -d -- \"$2\") ;;\n"
    "    safetensors) mapfile -t COMPREPLY < <(compgen -d -- \"$2\"; compgen -f -X '!*.safetensors' -- \"$2\") ;;\n"
    "    model) mapfile -t COMPREPLY < <(compgen -d -- \"$2\"; compgen -W \"$(_mlxc_hf_repos)\" -- \"$2\") ;;\n"
    "    esac\n"
    "}\n";

static void put_bash_case_names(FILE *out, const struct mlxc_opt *opt)
{
    if (opt->short_name)
        fprintf(out, "-%c|", opt->short_name);
    fprintf(out, "--%s", opt->name);
}

static void gen_bash(FILE *out, const struct mlxc_cli *cli)
{
    fprintf(out, "# bash completion for %s                                  -*- shell-script -*-\n", cli->prog);
    fprintf(out, "# Generated from the flag table in cmd/flags.c by cmd/gen_shell.c: do not edit.\n\n");
    fputs(bash_helpers, out);
    fputc('\n', out);
    put_ident(out, cli->prog);
    fputs("()\n{\n", out);
    fputs("    local cur=${COMP_WORDS[COMP_CWORD]} prev= pre=\n"
          "    (( COMP_CWORD > 0 )) && prev=${COMP_WORDS[COMP_CWORD-1]}\n"
          "    if [[ $cur == = ]]; then                      # \"--flag=\", split at '=' by COMP_WORDBREAKS\n"
          "        cur=\n"
          "    elif [[ $prev == = ]] && (( COMP_CWORD > 1 )); then\n"
          "        prev=${COMP_WORDS[COMP_CWORD-2]}\n"
          "    elif [[ $cur == --*=* ]]; then                # \"--flag=value\" as one word\n"
          "        prev=${cur%%=*} pre=${cur%%=*}= cur=${cur#*=}\n"
          "    fi\n"
          "    COMPREPLY=()\n"
          "    case $prev in\n",
          out);
    /* flags whose values complete, then those that take a value with nothing to complete */
    for (size_t i = 0; i < cli->nopts; i++) {
        const struct mlxc_opt *opt = &cli->opts[i];
        if (!takes_value(opt) || opt->complete == COMPLETE_NONE)
            continue;
        fputs("    ", out);
        put_bash_case_names(out, opt);
        fputs(")\n        ", out);
        switch (opt->complete) {
        case COMPLETE_CHOICES:
            fputs("mapfile -t COMPREPLY < <(compgen -W '", out);
            put_choices(out, opt->choices, " ");
            fputs("' -- \"$cur\")", out);
            break;
        case COMPLETE_FILE: fputs("_mlxc_complete_value file \"$cur\"", out); break;
        case COMPLETE_SAFETENSORS: fputs("_mlxc_complete_value safetensors \"$cur\"", out); break;
        case COMPLETE_DIR: fputs("_mlxc_complete_value dir \"$cur\"", out); break;
        case COMPLETE_MODEL: fputs("_mlxc_complete_value model \"$cur\"", out); break;
        case COMPLETE_NONE: break;
        }
        fputs(" ;;\n", out);
    }
    int any = 0;
    for (size_t i = 0; i < cli->nopts; i++) {
        const struct mlxc_opt *opt = &cli->opts[i];
        if (!takes_value(opt) || opt->complete != COMPLETE_NONE)
            continue;
        fputs(any ? "|" : "    ", out);
        put_bash_case_names(out, opt);
        any = 1;
    }
    if (any)
        fputs(")\n        ;; # a value with nothing to complete\n", out);
    fputs("    *)\n"
          "        [[ -z $cur || $cur == -* ]] && mapfile -t COMPREPLY < <(compgen -W '",
          out);
    for (size_t i = 0; i < cli->nopts; i++)
        fprintf(out, "%s--%s", i ? " " : "", cli->opts[i].name);
    for (size_t i = 0; i < cli->nopts; i++)
        if (cli->opts[i].short_name)
            fprintf(out, " -%c", cli->opts[i].short_name);
    fputs("' -- \"$cur\")\n"
          "        ;;\n"
          "    esac\n"
          "    [[ -n $pre ]] && COMPREPLY=(\"${COMPREPLY[@]/#/$pre}\")\n"
          "    return 0\n"
          "}\n",
          out);
    fputs("complete -F ", out);
    put_ident(out, cli->prog);
    fprintf(out, " %s\n", cli->prog);
}

/* ---- zsh ---- */

static const char zsh_helpers[] =
    "# the repo ids (\"org/name\") of the models in the local Hugging Face caches: the models--org--name\n"
    "# folders in the roots that mlxc searches for --model\n"
    "(( $+functions[_mlxc_hf_repos] )) ||\n"
    "_mlxc_hf_repos() {\n"
    "  local root dir expl\n"
    "  local -a repos\n"
    "  for root in ${HF_HUB_CACHE:+$HF_HUB_CACHE} ${HF_HOME:+$HF_HOME/hub} \\\n"
    "      ${XDG_CACHE_HOME:+$XDG_CACHE_HOME/huggingface/hub} ${HOME:+$HOME/.cache/huggingface/hub}; do\n"
    "    for dir in $root/models--*--*(N/); do\n"
    "      dir=${dir:t}\n"
    "      dir=${dir#models--}\n"
    "      repos+=(${dir/--//})\n"
    "    done\n"
    "  done\n"
    "  _wanted repos expl 'model in the Hugging Face cache' compadd -a repos\n"
    "}\n"
    "\n"
    "(( $+functions[_mlxc_model] )) ||\n"
    "_mlxc_model() {\n"
    "  _alternative 'repos:model in the Hugging Face cache:_mlxc_hf_repos' 'folders:model folder:_files -/'\n"
    "}\n";

/* s inside an _arguments description "[...]": \ [ ] : are escaped with a backslash */
static void put_zsh_desc(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '[' || *s == ']' || *s == ':')
            fputc('\\', out);
        if (*s == '\'')
            fputs("'\\''", out);
        else
            fputc(*s, out);
    }
}

static void gen_zsh(FILE *out, const struct mlxc_cli *cli)
{
    fprintf(out, "#compdef %s\n", cli->prog);
    fprintf(out, "# zsh completion for %s. Generated from the flag table in cmd/flags.c by cmd/gen_shell.c: do "
                 "not edit.\n\n",
            cli->prog);
    fputs(zsh_helpers, out);
    fputs("\n_arguments -s -S \\\n", out);
    for (size_t i = 0; i < cli->nopts; i++) {
        const struct mlxc_opt *opt = &cli->opts[i];
        int val = takes_value(opt);
        fputs("  ", out);
        /* exclusion list: help/version end everything; a short/long pair excludes each other */
        if (opt->type == OPT_HELP || opt->type == OPT_VERSION)
            fputs("'(- *)'", out);
        else if (opt->short_name)
            fprintf(out, "'(-%c --%s)'", opt->short_name, opt->name);
        else if (opt->type != OPT_STRS)
            fprintf(out, "'(--%s)'", opt->name);
        const char *rep = opt->type == OPT_STRS ? "*" : "";
        if (opt->short_name)
            fprintf(out, "{%s-%c%s,%s--%s%s}'", rep, opt->short_name, val ? "+" : "", rep, opt->name, val ? "=" : "");
        else
            fprintf(out, "'%s--%s%s", rep, opt->name, val ? "=" : "");
        char def[256];
        default_text(opt, def, sizeof def);
        fputc('[', out);
        put_zsh_desc(out, opt->help);
        put_zsh_desc(out, def);
        fputc(']', out);
        if (val) {
            fputc(':', out);
            put_zsh_desc(out, opt->type == OPT_CHOICE ? opt->name : metavar(opt));
            fputc(':', out);
            switch (opt->complete) {
            case COMPLETE_CHOICES:
                fputc('(', out);
                put_choices(out, opt->choices, " ");
                fputc(')', out);
                break;
            case COMPLETE_FILE: fputs("_files", out); break;
            case COMPLETE_SAFETENSORS: fputs("_files -g \"*.safetensors(-.)\"", out); break;
            case COMPLETE_DIR: fputs("_files -/", out); break;
            case COMPLETE_MODEL: fputs("_mlxc_model", out); break;
            case COMPLETE_NONE: fputc(' ', out); break; /* a value, nothing to complete */
            }
        }
        fputs(i + 1 < cli->nopts ? "' \\\n" : "'\n", out);
    }
}

/* ---- fish ---- */

static const char fish_helpers[] =
    "# the repo ids (\"org/name\") of the models in the local Hugging Face caches: the models--org--name\n"
    "# folders in the roots that mlxc searches for --model\n"
    "function __mlxc_hf_repos\n"
    "    for root in $HF_HUB_CACHE $HF_HOME/hub $XDG_CACHE_HOME/huggingface/hub $HOME/.cache/huggingface/hub\n"
    "        for dir in $root/models--*--*/\n"
    "            string replace -r -- '^.*/models--([^/]*?)--([^/]*)/?$' '$1/$2\\tcached model' $dir\n"
    "        end\n"
    "    end\n"
    "end\n"
    "\n"
    "function __mlxc_model\n"
    "    __fish_complete_directories (commandline -ct) 'model folder'\n"
    "    __mlxc_hf_repos\n"
    "end\n"
    "\n"
    "# files ending in $argv[1], and folders to descend into\n"
    "function __mlxc_complete_suffix --argument-names suffix\n"
    "    set -l tok (commandline -ct)\n"
    "    complete -C\"__mlxc_no_such_command $tok\" | string match -r -- '^[^\\t]*(?:/|'(string escape --style=regex "
    "-- $suffix)')(?:\\t.*)?$'\n"
    "end\n";

/* s inside a fish single-quoted string: \ and ' are escaped */
static void put_fish_sq(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '\'')
            fputc('\\', out);
        fputc(*s, out);
    }
}

static void gen_fish(FILE *out, const struct mlxc_cli *cli)
{
    fprintf(out, "# fish completion for %s. Generated from the flag table in cmd/flags.c by cmd/gen_shell.c: do "
                 "not edit.\n\n",
            cli->prog);
    fputs(fish_helpers, out);
    fprintf(out, "\n# no positional arguments: no file completion unless a flag asks for it\ncomplete -c %s -f\n",
            cli->prog);
    for (size_t i = 0; i < cli->nopts; i++) {
        const struct mlxc_opt *opt = &cli->opts[i];
        fprintf(out, "complete -c %s", cli->prog);
        if (opt->short_name)
            fprintf(out, " -s %c", opt->short_name);
        fprintf(out, " -l %s", opt->name);
        if (takes_value(opt)) {
            switch (opt->complete) {
            case COMPLETE_CHOICES:
                fputs(" -x -a '", out);
                put_choices(out, opt->choices, " ");
                fputc('\'', out);
                break;
            case COMPLETE_FILE: fputs(" -r -F", out); break;
            case COMPLETE_SAFETENSORS: fputs(" -x -a '(__mlxc_complete_suffix .safetensors)'", out); break;
            case COMPLETE_DIR: fputs(" -x -a '(__fish_complete_directories)'", out); break;
            case COMPLETE_MODEL: fputs(" -x -a '(__mlxc_model)'", out); break;
            case COMPLETE_NONE: fputs(" -x", out); break;
            }
        }
        char def[256];
        default_text(opt, def, sizeof def);
        fputs(" -d '", out);
        put_fish_sq(out, opt->help);
        put_fish_sq(out, def);
        fputs("'\n", out);
    }
}

/* ---- man ---- */

/* s as roff text: \ is \e, every - is \- (options stay ASCII when copied), a line may not start with .
 * or ' (a control line) */
static void put_roff(FILE *out, const char *s)
{
    int bol = 1;
    for (; *s; s++) {
        if (bol && (*s == '.' || *s == '\''))
            fputs("\\&", out);
        bol = *s == '\n';
        if (*s == '\\')
            fputs("\\e", out);
        else if (*s == '-')
            fputs("\\-", out);
        else
            fputc(*s, out);
    }
}

static void put_roff_upper(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '-')
            fputs("\\-", out);
        else
            fputc(*s >= 'a' && *s <= 'z' ? *s - 'a' + 'A' : *s, out);
    }
}

static int has_model_opt(const struct mlxc_cli *cli)
{
    for (size_t i = 0; i < cli->nopts; i++)
        if (cli->opts[i].complete == COMPLETE_MODEL)
            return 1;
    return 0;
}

static int has_opt(const struct mlxc_cli *cli, const char *name)
{
    for (size_t i = 0; i < cli->nopts; i++)
        if (strcmp(cli->opts[i].name, name) == 0)
            return 1;
    return 0;
}

static void man_tp(FILE *out, const char *tag_bold, const char *text)
{
    fputs(".TP\n.B ", out);
    put_roff(out, tag_bold);
    fputc('\n', out);
    put_roff(out, text);
    fputc('\n', out);
}

static void gen_man(FILE *out, const struct mlxc_cli *cli, const struct mlxc_cli_doc *doc)
{
    const char *section = strncmp(cli->prog, "mlxc-", 5) == 0 ? cli->prog + 5 : cli->prog;
    fputs(".\\\" Generated from cmd/flags.c and cmd/docs.c by cmd/gen_shell.c: do not edit.\n", out);
    fputs(".TH ", out);
    put_roff_upper(out, cli->prog);
    fprintf(out, " 1 \"\" \"mlxc %s\" \"mlxc manual\"\n.nh\n", MLXC_VERSION); /* .nh: no hyphenated flags */

    fputs(".SH NAME\n", out);
    put_roff(out, cli->prog);
    fputs(" \\- ", out);
    size_t slen = strlen(cli->summary);
    char summary[512];
    snprintf(summary, sizeof summary, "%.*s", (int)(slen && cli->summary[slen - 1] == '.' ? slen - 1 : slen),
             cli->summary);
    if (summary[0] >= 'A' && summary[0] <= 'Z' && !(summary[1] >= 'A' && summary[1] <= 'Z'))
        summary[0] = (char)(summary[0] - 'A' + 'a');
    put_roff(out, summary);
    fputs("\n.SH SYNOPSIS\n.B ", out);
    put_roff(out, cli->prog);
    fputs("\n.RI [ options ]\n", out);

    fputs(".SH DESCRIPTION\n", out);
    const char *desc = doc ? doc->description : cli->summary;
    for (const char *p = desc; *p;) {
        const char *end = strstr(p, "\n\n");
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char *para = strndup(p, n);
        if (!para)
            exit(1);
        put_roff(out, para);
        free(para);
        fputc('\n', out);
        if (!end)
            break;
        fputs(".PP\n", out);
        p = end + 2;
    }

    fputs(".SH OPTIONS\n", out);
    for (size_t i = 0; i < cli->nopts; i++) {
        const struct mlxc_opt *opt = &cli->opts[i];
        fputs(".TP\n", out);
        if (opt->short_name)
            fprintf(out, "\\fB\\-%c\\fR, ", opt->short_name);
        fputs("\\fB\\-\\-", out);
        put_roff(out, opt->name);
        fputs("\\fR", out);
        if (takes_value(opt)) {
            fputc(' ', out);
            if (opt->type == OPT_CHOICE) {
                fputs("{", out);
                put_choices(out, opt->choices, "|");
                fputs("}", out);
            } else {
                fputs("\\fI", out);
                put_roff(out, metavar(opt));
                fputs("\\fR", out);
                if (opt->type == OPT_STRS) {
                    fputs(" [\\fI", out);
                    put_roff(out, metavar(opt));
                    fputs("\\fR ...]", out);
                }
            }
        }
        fputc('\n', out);
        char def[256];
        default_text(opt, def, sizeof def);
        put_roff(out, opt->help);
        put_roff(out, def);
        fputc('\n', out);
    }

    if (doc && doc->examples[0].cmd) {
        fputs(".SH EXAMPLES\n", out);
        for (const struct mlxc_cli_example *ex = doc->examples; ex->cmd; ex++) {
            fputs(".PP\n", out);
            char what[512];
            snprintf(what, sizeof what, "%c%s:", ex->what[0] >= 'a' && ex->what[0] <= 'z' ? ex->what[0] - 'a' + 'A'
                                                                                            : ex->what[0],
                     ex->what + 1);
            put_roff(out, what);
            fputs("\n.PP\n.RS 4\n.nf\n", out);
            put_roff(out, ex->cmd);
            fputs("\n.fi\n.RE\n", out);
        }
    }

    fputs(".SH EXIT STATUS\n", out);
    char code[8];
    snprintf(code, sizeof code, "%d", MLXC_EXIT_OK);
    man_tp(out, code, "success");
    snprintf(code, sizeof code, "%d", MLXC_EXIT_ERROR);
    man_tp(out, code, "a runtime error (a model, file or input that cannot be used), told in one line on "
                      "standard error");
    snprintf(code, sizeof code, "%d", MLXC_EXIT_USAGE);
    man_tp(out, code, "a usage error: an unknown flag, a bad value, or a bad line in the defaults file");
    snprintf(code, sizeof code, "%d", MLXC_EXIT_INTERRUPTED);
    man_tp(out, code, "interrupted with Ctrl-C (SIGINT)");

    fputs(".SH ENVIRONMENT\n", out);
    man_tp(out, "NO_COLOR", "when set to a non-empty value, --color=auto (the default) gives no color");
    man_tp(out, "MLXC_CONFIG", "the defaults file to read instead of the one under $XDG_CONFIG_HOME (it must exist)");
    man_tp(out, "MLXC_NO_CONFIG", "when set to a value other than 0, no defaults file is read");
    man_tp(out, "XDG_CONFIG_HOME", "where the defaults file lives (default ~/.config)");
    if (has_opt(cli, "threads"))
        man_tp(out, "MLXC_THREADS", "the number of worker threads when --threads is 0 (else one per CPU the "
                                    "process may run on, as taskset or a container's cpuset allows)");
    if (has_model_opt(cli))
        man_tp(out, "MLXC_ISA", "ref or avx2: only those kernels (plain C, or AVX2 and no AMX tiles); unset, the "
                                "best this CPU has");
    if (has_model_opt(cli))
        man_tp(out, "OPENBLAS_CORETYPE", "OpenBLAS's kernels (Haswell, SkylakeX, ...); unset, mlxc makes sure they use "
                                         "AVX2 or AVX-512 where the CPU has them. MLXC_ISA=avx2 with Haswell runs as on "
                                         "a CPU with AVX2 only (AMD Zen 1-3)");
    if (has_model_opt(cli))
        man_tp(out, "HF_HUB_CACHE, HF_HOME, XDG_CACHE_HOME",
               "a repo id given as the model (\"org/name\") is looked up, in order, in $HF_HUB_CACHE, "
               "$HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub and ~/.cache/huggingface/hub; nothing is "
               "downloaded");

    fputs(".SH FILES\n", out);
    char files_text[1024];
    snprintf(files_text, sizeof files_text,
             "Defaults for any long flag, as \"name = value\" lines (\"temp = 0.7\"); '#' starts a comment line. "
             "Lines before any section apply to every program that has the flag; lines after a [%s] line apply "
             "to %s only and win over them. Flags on the command line override the file. A bad line, an "
             "unknown key or a bad value is an error naming the file and line.",
             section, cli->prog);
    man_tp(out, "$XDG_CONFIG_HOME/mlxc/config (~/.config/mlxc/config)", files_text);

    fputs(".SH SEE ALSO\n", out);
    int first = 1;
    for (size_t i = 0; i < mlxc_n_clis; i++) {
        if (mlxc_all_clis[i] == cli)
            continue;
        if (!first)
            fputs(",\n", out);
        fputs(".BR ", out);
        put_roff(out, mlxc_all_clis[i]->prog);
        fputs(" (1)", out);
        first = 0;
    }
    fputc('\n', out);
}

/* ---- check ---- */

static const struct mlxc_cli *find_cli(const char *prog);

static int check_cli(const struct mlxc_cli *cli)
{
    int bad = 0;
    const char *need[] = {"help", "version", "color"};
    for (size_t k = 0; k < sizeof need / sizeof need[0]; k++)
        if (!has_opt(cli, need[k])) {
            fprintf(stderr, "%s: the table has no --%s\n", cli->prog, need[k]);
            bad = 1;
        }
    for (size_t i = 0; i < cli->nopts; i++) {
        const struct mlxc_opt *a = &cli->opts[i];
        for (size_t j = i + 1; j < cli->nopts; j++) {
            const struct mlxc_opt *b = &cli->opts[j];
            if (strcmp(a->name, b->name) == 0 || (a->short_name && a->short_name == b->short_name)) {
                fprintf(stderr, "%s: --%s and --%s clash\n", cli->prog, a->name, b->name);
                bad = 1;
            }
        }
        if ((a->type == OPT_CHOICE || a->complete == COMPLETE_CHOICES) && (!a->choices || !*a->choices)) {
            fprintf(stderr, "%s: --%s has no choices\n", cli->prog, a->name);
            bad = 1;
        }
        if (a->type == OPT_CHOICE && a->complete != COMPLETE_CHOICES) {
            fprintf(stderr, "%s: --%s is a choice but does not complete its choices\n", cli->prog, a->name);
            bad = 1;
        }
        if (!takes_value(a) && a->complete != COMPLETE_NONE) {
            fprintf(stderr, "%s: --%s takes no value but has a completion kind\n", cli->prog, a->name);
            bad = 1;
        }
        if (!a->help || !*a->help) {
            fprintf(stderr, "%s: --%s has no help text\n", cli->prog, a->name);
            bad = 1;
        } else if (strstr(a->help, "--")) { /* `--help | grep -c -- --` counts the flags */
            fprintf(stderr, "%s: the help of --%s holds \"--\": name other flags without dashes\n", cli->prog,
                    a->name);
            bad = 1;
        }
    }
    const struct mlxc_cli_doc *doc = mlxc_cli_doc_find(cli->prog);
    if (!doc || !doc->description || !*doc->description || !doc->examples[0].cmd) {
        fprintf(stderr, "%s: no description or no example in cmd/docs.c\n", cli->prog);
        return 1;
    }
    /* the examples run the program (one may show another program's follow-up); each "--name" or "-x"
     * word in them is a flag of the program it follows */
    int runs_it = 0;
    for (const struct mlxc_cli_example *ex = doc->examples; ex->cmd; ex++) {
        const struct mlxc_cli *cur = NULL;
        int runs_any = 0;
        for (const char *p = ex->cmd; *p;) {
            p += strspn(p, " ");
            if (*p == '\'' || *p == '"') { /* a quoted value */
                const char *end = strchr(p + 1, *p);
                p = end ? end + 1 : p + strlen(p);
                continue;
            }
            size_t n = strcspn(p, " ");
            char word[128];
            snprintf(word, sizeof word, "%.*s", (int)n, p);
            p += n;
            const struct mlxc_cli *c = find_cli(word);
            if (c) {
                cur = c;
                runs_it |= c == cli;
                runs_any = 1;
                continue;
            }
            if (strcmp(word, "|") == 0 || strcmp(word, "&&") == 0 || strcmp(word, ";") == 0) {
                cur = NULL;
                continue;
            }
            /* "-" (stdin) and negative numbers are values */
            if (!cur || word[0] != '-' || !word[1] || (word[1] >= '0' && word[1] <= '9'))
                continue;
            int found = 0;
            for (size_t i = 0; i < cur->nopts && !found; i++) {
                const struct mlxc_opt *opt = &cur->opts[i];
                found = (word[1] == '-' && strcmp(word + 2, opt->name) == 0) ||
                        (word[1] != '-' && !word[2] && word[1] == opt->short_name);
            }
            if (!found) {
                fprintf(stderr, "%s: example '%s' uses '%s', which is not a flag of %s\n", cli->prog, ex->cmd, word,
                        cur->prog);
                bad = 1;
            }
        }
        if (!runs_any) {
            fprintf(stderr, "%s: example '%s' runs no mlxc program\n", cli->prog, ex->cmd);
            bad = 1;
        }
    }
    if (!runs_it) {
        fprintf(stderr, "%s: no example runs it\n", cli->prog);
        bad = 1;
    }
    return bad;
}

static const struct mlxc_cli *find_cli(const char *prog)
{
    for (size_t i = 0; i < mlxc_n_clis; i++)
        if (strcmp(mlxc_all_clis[i]->prog, prog) == 0)
            return mlxc_all_clis[i];
    return NULL;
}

int main(int argc, char **argv)
{
    const char *usage = "usage: gen_shell bash|zsh|fish|man|flags PROG, or gen_shell list|check\n";
    if (argc == 2 && strcmp(argv[1], "list") == 0) {
        for (size_t i = 0; i < mlxc_n_clis; i++)
            printf("%s\n", mlxc_all_clis[i]->prog);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "check") == 0) {
        int bad = 0;
        for (size_t i = 0; i < mlxc_n_clis; i++)
            bad |= check_cli(mlxc_all_clis[i]);
        return bad;
    }
    if (argc != 3) {
        fputs(usage, stderr);
        return 2;
    }
    const struct mlxc_cli *cli = find_cli(argv[2]);
    if (!cli) {
        fprintf(stderr, "gen_shell: unknown program '%s'\n", argv[2]);
        return 2;
    }
    const char *what = argv[1];
    if (strcmp(what, "bash") == 0)
        gen_bash(stdout, cli);
    else if (strcmp(what, "zsh") == 0)
        gen_zsh(stdout, cli);
    else if (strcmp(what, "fish") == 0)
        gen_fish(stdout, cli);
    else if (strcmp(what, "man") == 0)
        gen_man(stdout, cli, mlxc_cli_doc_find(cli->prog));
    else if (strcmp(what, "flags") == 0)
        for (size_t i = 0; i < cli->nopts; i++) {
            const struct mlxc_opt *opt = &cli->opts[i];
            static const char *kinds[] = {
                [COMPLETE_NONE] = "value", [COMPLETE_FILE] = "file", [COMPLETE_SAFETENSORS] = "safetensors",
                [COMPLETE_DIR] = "dir", [COMPLETE_MODEL] = "model", [COMPLETE_CHOICES] = "choices",
            };
            char short_form[3] = {'-', opt->short_name, 0};
            printf("--%s %s %s", opt->name, short_form, takes_value(opt) ? kinds[opt->complete] : "flag");
            if (opt->complete == COMPLETE_CHOICES) {
                fputc(' ', stdout);
                put_choices(stdout, opt->choices, " ");
            }
            fputc('\n', stdout);
        }
    else {
        fputs(usage, stderr);
        return 2;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("gen_shell: write");
        return 1;
    }
    return 0;
}

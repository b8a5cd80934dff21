/* Flag parsing for all programs from their declarative tables (see cli.h). */
#include "cmd/cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"

#define FIELD(o, opt, type) ((type *)((char *)(o) + (opt)->off))

static int parse_long(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || isnan(v))
        return -1;
    *out = v;
    return 0;
}

static int choice_ok(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, v, n) == 0)
            return 1;
        p += len + (bar ? 1 : 0);
    }
    return 0;
}

int mlxc_cli_set_value(const struct mlxc_opt *opt, struct mlxc_opts *o, const char *v, char *msg, size_t msgsz)
{
    switch (opt->type) {
    case OPT_FLAG:
    case OPT_HELP:
    case OPT_VERSION:
        *FIELD(o, opt, int) = 1;
        return 0;
    case OPT_STR:
        *FIELD(o, opt, const char *) = v;
        return 0;
    case OPT_CHOICE:
        if (!choice_ok(opt->choices, v)) {
            snprintf(msg, msgsz, "invalid choice: '%s' (choose from %s)", v, opt->choices);
            return -1;
        }
        *FIELD(o, opt, const char *) = v;
        return 0;
    case OPT_BOOL:
        *FIELD(o, opt, int) = !(strcasecmp(v, "false") == 0 || strcasecmp(v, "f") == 0);
        return 0;
    case OPT_INT:
        if (parse_long(v, FIELD(o, opt, long)) != 0) {
            snprintf(msg, msgsz, "invalid int value: '%s'", v);
            return -1;
        }
        return 0;
    case OPT_FLOAT:
        if (parse_double(v, FIELD(o, opt, double)) != 0) {
            snprintf(msg, msgsz, "invalid float value: '%s'", v);
            return -1;
        }
        return 0;
    case OPT_STRS: {
        char ***list = FIELD(o, opt, char **);
        size_t n = 0;
        while (*list && (*list)[n])
            n++;
        char **nl = realloc(*list, (n + 2) * sizeof *nl);
        if (!nl) {
            snprintf(msg, msgsz, "out of memory");
            return -1;
        }
        nl[n] = (char *)v;
        nl[n + 1] = NULL;
        *list = nl;
        return 0;
    }
    }
    return 0;
}

/* mlxc_cli_set_value for argv: a bad value is a usage error (2) */
static int set_arg(const struct mlxc_cli *cli, const struct mlxc_opt *opt, struct mlxc_opts *o, const char *v)
{
    char msg[512];
    if (mlxc_cli_set_value(opt, o, v, msg, sizeof msg) != 0)
        return mlxc_cli_usage_error(cli, "argument --%s: %s", opt->name, msg);
    return 0;
}

static void print_usage_line(const struct mlxc_cli *cli, FILE *out)
{
    fprintf(out, "usage: %s [options]\n", cli->prog);
}

int mlxc_cli_usage_error(const struct mlxc_cli *cli, const char *fmt, ...)
{
    print_usage_line(cli, stderr);
    fprintf(stderr, "%s: error: ", cli->prog);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

void mlxc_cli_error(const struct mlxc_cli *cli, const char *msg)
{
    fprintf(stderr, "%s: error: %s\n", cli->prog, msg);
}

int mlxc_cli_status(const struct mlxc_cli *cli, int rc, const char *msg)
{
    if (rc == MLXC_EINTR)
        return 130;
    if (rc) {
        mlxc_cli_error(cli, msg);
        return 1;
    }
    return 0;
}

void mlxc_cli_print_help(const struct mlxc_cli *cli)
{
    print_usage_line(cli, stdout);
    printf("\n%s\n\noptions:\n", cli->summary);
    for (size_t i = 0; i < cli->nopts; i++) {
        const struct mlxc_opt *opt = &cli->opts[i];
        char head[128];
        int n = 0;
        if (opt->short_name)
            n = snprintf(head, sizeof head, "-%c, ", opt->short_name);
        n += snprintf(head + n, sizeof head - (size_t)n, "--%s", opt->name);
        if (opt->type == OPT_CHOICE)
            snprintf(head + n, sizeof head - (size_t)n, " {%s}", opt->choices);
        else if (opt->metavar)
            snprintf(head + n, sizeof head - (size_t)n, opt->type == OPT_STRS ? " %s [%s ...]" : " %s",
                     opt->metavar, opt->metavar);
        printf("  %-34s %s", head, opt->help);
        if (opt->type != OPT_FLAG && opt->type != OPT_HELP && opt->type != OPT_VERSION)
            printf(" (default: %s)", opt->def ? opt->def : "none");
        printf("\n");
    }
    /* No "--" below: `--help | grep -c -- --` counts the flags. */
    printf("\nexit status: %d success, %d runtime error, %d usage error, %d interrupted (Ctrl-C)\n", MLXC_EXIT_OK,
           MLXC_EXIT_ERROR, MLXC_EXIT_USAGE, MLXC_EXIT_INTERRUPTED);
    printf("defaults file: $XDG_CONFIG_HOME/mlxc/config (~/.config/mlxc/config) or $MLXC_CONFIG, with\n"
           "  \"flag-name = value\" lines, optionally under a [%s] section; the command line overrides it,\n"
           "  MLXC_NO_CONFIG=1 ignores it\n",
           strncmp(cli->prog, "mlxc-", 5) == 0 ? cli->prog + 5 : cli->prog);
    printf("color: auto colors a terminal unless NO_COLOR is set; progress bars only on a terminal\n");
    printf("see also: man %s\n", cli->prog);
}

int mlxc_cli_given(const struct mlxc_cli *cli, const struct mlxc_opts *o, const char *name)
{
    for (size_t i = 0; i < cli->nopts && i < sizeof o->given; i++)
        if (strcmp(cli->opts[i].name, name) == 0)
            return o->given[i];
    return 0;
}

/* 1 if argv holds -h, --help or --version as a word before "--" */
static int asks_help_or_version(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "--version") == 0)
            return 1;
    return 0;
}

int mlxc_cli_parse(const struct mlxc_cli *cli, int argc, char **argv, struct mlxc_opts *o)
{
    memset(o, 0, sizeof *o);
    struct option longopts[64 + 1];
    char shortopts[3 * 64 + 2];
    size_t ns = 0;
    shortopts[ns++] = '+'; /* stop at the first non-option: positional arguments are an error */
    shortopts[ns++] = ':'; /* report a missing value as ':' */
    if (cli->nopts > 64)
        return mlxc_cli_usage_error(cli, "internal error: too many options");
    for (size_t i = 0; i < cli->nopts; i++) {
        const struct mlxc_opt *opt = &cli->opts[i];
        int has_arg = opt->type == OPT_FLAG || opt->type == OPT_HELP || opt->type == OPT_VERSION
                          ? no_argument
                          : required_argument;
        longopts[i] = (struct option){opt->name, has_arg, NULL, 1000 + (int)i};
        if (opt->short_name) {
            shortopts[ns++] = opt->short_name;
            if (has_arg == required_argument)
                shortopts[ns++] = ':';
        }
        if (opt->def && opt->type != OPT_STRS && set_arg(cli, opt, o, opt->def) != 0)
            return MLXC_EXIT_USAGE;
    }
    longopts[cli->nopts] = (struct option){0};
    shortopts[ns] = '\0';
    if (mlxc_cli_config_apply(cli, o) != 0 && !asks_help_or_version(argc, argv))
        return MLXC_EXIT_USAGE; /* a broken defaults file still lets --help and --version through */

    opterr = 0;
    optind = 1;
    for (;;) {
        int longindex = -1;
        int c = getopt_long(argc, argv, shortopts, longopts, &longindex);
        if (c == -1)
            break;
        if (c == '?') {
            if (optopt && optopt < 1000)
                return mlxc_cli_usage_error(cli, "unrecognized arguments: -%c", optopt);
            return mlxc_cli_usage_error(cli, "unrecognized arguments: %s", argv[optind - 1]);
        }
        if (c == ':')
            return mlxc_cli_usage_error(cli, "argument %s: expected one argument", argv[optind - 1]);
        size_t idx = cli->nopts;
        if (c >= 1000)
            idx = (size_t)(c - 1000);
        else
            for (size_t i = 0; i < cli->nopts; i++)
                if (cli->opts[i].short_name == c)
                    idx = i;
        if (idx >= cli->nopts)
            return mlxc_cli_usage_error(cli, "unrecognized arguments: %s", argv[optind - 1]);
        const struct mlxc_opt *opt = &cli->opts[idx];
        if (opt->type == OPT_STRS && o->given[idx] == MLXC_SRC_CONFIG) { /* argv replaces the file's list */
            free(*FIELD(o, opt, char **));
            *FIELD(o, opt, char **) = NULL;
        }
        o->given[idx] = MLXC_SRC_ARGV;
        if (opt->type == OPT_HELP) {
            mlxc_cli_print_help(cli);
            return 1;
        }
        if (opt->type == OPT_VERSION) {
            printf("%s %s\n", cli->prog, MLXC_VERSION);
            return 1;
        }
        int rc = set_arg(cli, opt, o, optarg);
        if (rc)
            return rc;
        if (opt->type == OPT_STRS) /* nargs="+": take following values up to the next flag */
            while (optind < argc && argv[optind][0] != '-')
                if ((rc = set_arg(cli, opt, o, argv[optind++])) != 0)
                    return rc;
    }
    if (optind < argc)
        return mlxc_cli_usage_error(cli, "unrecognized arguments: %s", argv[optind]);
    return 0;
}

/* The optional defaults file (see mlxc_cli_config_apply in cli.h):
 *
 *   # ~/.config/mlxc/config ('#' starts a comment at the start of a line only)
 *   model = mlx-community/Qwen3-0.6B-4bit
 *   temp = 0.7
 *   [chat]
 *   max-tokens = 512
 *   system-prompt = "You are terse."
 *
 * The file is read whole, parsed into entries (section, key, value, line), checked in full against every
 * program's table, then the entries before any section and those of the running program's section are
 * applied, in that order. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cli.h"
#include "core/xdg.h"

#define MAX_CONFIG_BYTES (1u << 20)

struct entry {
    const struct mlxc_cli *section; /* NULL: before any section (every program) */
    char *key, *value;
    int line;
};

/* Kept for the process: the option strings point into it. */
static char *config_text;

char *mlxc_cli_config_path(void)
{
    const char *no = getenv("MLXC_NO_CONFIG");
    if (no && *no && strcmp(no, "0") != 0)
        return NULL;
    const char *env = getenv("MLXC_CONFIG");
    if (env && *env)
        return strdup(env);
    struct mlxc_err e = {0};
    return mlxc_xdg_path(MLXC_XDG_CONFIG, "config", &e);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
    *end = '\0';
    return s;
}

static const struct mlxc_cli *find_program(const char *name)
{
    for (size_t i = 0; i < mlxc_n_clis; i++) {
        const char *prog = mlxc_all_clis[i]->prog;
        if (strcmp(prog, name) == 0 || (strncmp(prog, "mlxc-", 5) == 0 && strcmp(prog + 5, name) == 0))
            return mlxc_all_clis[i];
    }
    return NULL;
}

static const struct mlxc_opt *find_opt(const struct mlxc_cli *cli, const char *name, size_t *idx)
{
    for (size_t i = 0; i < cli->nopts; i++)
        if (strcmp(cli->opts[i].name, name) == 0) {
            if (idx)
                *idx = i;
            return &cli->opts[i];
        }
    return NULL;
}

/* Checks one value against opt by storing it into a scratch struct; 0 or -1 with msg. */
static int check_value(const struct mlxc_opt *opt, const char *v, char *msg, size_t msgsz)
{
    if (opt->type == OPT_HELP || opt->type == OPT_VERSION) {
        snprintf(msg, msgsz, "'%s' cannot be set in a defaults file", opt->name);
        return -1;
    }
    if (opt->type == OPT_FLAG) {
        if (strcmp(v, "true") && strcmp(v, "false")) {
            snprintf(msg, msgsz, "'%s' takes true or false, not '%s'", opt->name, v);
            return -1;
        }
        return 0;
    }
    if (opt->type == OPT_STRS)
        return 0;
    struct mlxc_opts scratch;
    memset(&scratch, 0, sizeof scratch);
    char inner[256];
    if (mlxc_cli_set_value(opt, &scratch, v, inner, sizeof inner) != 0) {
        snprintf(msg, msgsz, "'%s': %s", opt->name, inner);
        return -1;
    }
    return 0;
}

/* Checks an entry against its section's program, or (before any section) against every program that
 * has the key; 0 or -1 with msg. */
static int check_entry(const struct entry *en, char *msg, size_t msgsz)
{
    int known = 0;
    for (size_t i = 0; i < mlxc_n_clis; i++) {
        const struct mlxc_cli *cli = mlxc_all_clis[i];
        if (en->section && en->section != cli)
            continue;
        const struct mlxc_opt *opt = find_opt(cli, en->key, NULL);
        if (!opt)
            continue;
        known = 1;
        if (check_value(opt, en->value, msg, msgsz) != 0)
            return -1;
    }
    if (!known) {
        if (en->section)
            snprintf(msg, msgsz, "unknown key '%s' for %s", en->key, en->section->prog);
        else
            snprintf(msg, msgsz, "unknown key '%s' (keys are long flag names, such as 'temp')", en->key);
        return -1;
    }
    return 0;
}

/* Applies one checked entry; pass 0 is the keys before any section, pass 1 the program's section.
 * Repeated keys act as repeated flags: the last wins, lists (OPT_STRS) add up within one pass, and a
 * list in the section replaces the one from before any section. */
static void apply_entry(const struct mlxc_cli *cli, struct mlxc_opts *o, const struct entry *en, int pass,
                        unsigned char *list_pass)
{
    size_t idx;
    const struct mlxc_opt *opt = find_opt(cli, en->key, &idx);
    if (!opt)
        return; /* a key before any section that this program lacks */
    char msg[16];
    if (opt->type == OPT_STRS && list_pass[idx] != pass + 1) {
        free(*(char ***)((char *)o + opt->off));
        *(char ***)((char *)o + opt->off) = NULL;
        list_pass[idx] = (unsigned char)(pass + 1);
    }
    if (opt->type == OPT_FLAG)
        *(int *)((char *)o + opt->off) = strcmp(en->value, "true") == 0;
    else if (mlxc_cli_set_value(opt, o, en->value, msg, sizeof msg) != 0)
        return; /* checked before; only "out of memory" is left, and the program fails later */
    o->given[idx] = MLXC_SRC_CONFIG;
}

/* Splits the text into entries (in place); returns the count, or -1 with msg and *bad_line set. */
static int parse_text(char *text, struct entry **out, char *msg, size_t msgsz, int *bad_line)
{
    size_t n = 0, cap = 0;
    struct entry *entries = NULL;
    const struct mlxc_cli *section = NULL;
    int line = 0;
    for (char *p = text; p && *p;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        char *s = trim(p);
        p = nl ? nl + 1 : NULL;
        line++;
        if (!*s || *s == '#')
            continue;
        *bad_line = line;
        if (*s == '[') {
            size_t len = strlen(s);
            if (s[len - 1] != ']') {
                snprintf(msg, msgsz, "a section line must look like [generate]");
                goto fail;
            }
            s[len - 1] = '\0';
            char *name = trim(s + 1);
            if (!(section = find_program(name))) {
                snprintf(msg, msgsz, "unknown section '[%s]' (sections are program names, such as [generate])",
                         name);
                goto fail;
            }
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(msg, msgsz, "expected 'key = value', got '%s'", s);
            goto fail;
        }
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        if (!*key) {
            snprintf(msg, msgsz, "no key before '='");
            goto fail;
        }
        if (key[0] == '-') {
            snprintf(msg, msgsz, "write the key without dashes: '%s'", key + strspn(key, "-"));
            goto fail;
        }
        size_t vlen = strlen(value);
        if (vlen >= 2 && (value[0] == '"' || value[0] == '\'') && value[vlen - 1] == value[0]) {
            value[vlen - 1] = '\0';
            value++;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            struct entry *ne = realloc(entries, cap * sizeof *ne);
            if (!ne) {
                snprintf(msg, msgsz, "out of memory");
                goto fail;
            }
            entries = ne;
        }
        entries[n++] = (struct entry){section, key, value, line};
    }
    *out = entries;
    return (int)n;
fail:
    free(entries);
    return -1;
}

int mlxc_cli_config_apply(const struct mlxc_cli *cli, struct mlxc_opts *o)
{
    free(config_text);
    config_text = NULL;
    char *path = mlxc_cli_config_path();
    if (!path)
        return 0;
    int explicit_path = getenv("MLXC_CONFIG") && *getenv("MLXC_CONFIG");
    FILE *f = fopen(path, "rb");
    if (!f) {
        int err = errno;
        int rc = 0;
        if (explicit_path || err != ENOENT) {
            fprintf(stderr, "%s: error: cannot open defaults file '%s': %s\n", cli->prog, path, strerror(err));
            rc = MLXC_EXIT_USAGE;
        }
        free(path);
        return rc;
    }
    size_t cap = 4096, len = 0;
    char *text = malloc(cap + 1);
    for (size_t got; text && (got = fread(text + len, 1, cap - len, f)) > 0;) {
        len += got;
        if (len == cap && cap < MAX_CONFIG_BYTES) {
            char *nt = realloc(text, 2 * cap + 1);
            if (!nt) {
                free(text);
                text = NULL;
                break;
            }
            text = nt;
            cap *= 2;
        } else if (len == cap) {
            break;
        }
    }
    int read_failed = ferror(f);
    fclose(f);
    if (!text || read_failed || len >= MAX_CONFIG_BYTES || memchr(text, '\0', len)) {
        fprintf(stderr, "%s: error: cannot read defaults file '%s': %s\n", cli->prog, path,
                !text ? "out of memory" : read_failed ? "read error" : len >= MAX_CONFIG_BYTES ? "larger than 1 MiB" : "not a text file");
        free(text);
        free(path);
        return MLXC_EXIT_USAGE;
    }
    text[len] = '\0';

    char msg[512];
    int bad_line = 0;
    struct entry *entries = NULL;
    int n = parse_text(text, &entries, msg, sizeof msg, &bad_line);
    for (int i = 0; i < n; i++)
        if (check_entry(&entries[i], msg, sizeof msg) != 0) {
            bad_line = entries[i].line;
            n = -1;
            break;
        }
    if (n < 0) {
        fprintf(stderr, "%s: error: %s:%d: %s\n", cli->prog, path, bad_line, msg);
        free(entries);
        free(text);
        free(path);
        return MLXC_EXIT_USAGE;
    }
    unsigned char list_pass[sizeof o->given] = {0};
    for (int pass = 0; pass < 2; pass++) /* keys before any section, then this program's section */
        for (int i = 0; i < n; i++)
            if (pass == 0 ? entries[i].section == NULL : entries[i].section == cli)
                apply_entry(cli, o, &entries[i], pass, list_pass);
    free(entries);
    free(path);
    config_text = text;
    return 0;
}

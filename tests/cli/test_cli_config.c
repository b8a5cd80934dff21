/* The shared parser with the defaults file (cmd/cli_config.c): table defaults, then the file (the lines
 * before any section, then the program's section), then argv; lists, flags, quotes, comments, CRLF; the
 * file's location (MLXC_CONFIG, XDG_CONFIG_HOME, HOME, MLXC_NO_CONFIG); every kind of bad line gives
 * status 2 with one error line naming the file and the line. */
#include "tests/test_util.h"

#include <sys/stat.h>

#include "cmd/cli.h"

static char dir[512], path[600], errpath[600];

static void write_config(const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Parses argv (NULL-ended, program name first) for cli, with stderr sent to errpath; returns the status. */
static int parse(const struct mlxc_cli *cli, struct mlxc_opts *o, const char **args)
{
    int argc = 0;
    while (args[argc])
        argc++;
    fflush(stderr);
    int saved = dup(2);
    FILE *ef = fopen(errpath, "wb");
    assert_non_null(ef);
    dup2(fileno(ef), 2);
    int rc = mlxc_cli_parse(cli, argc, (char **)args, o);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fclose(ef);
    return rc;
}

/* The error line the last parse printed. */
static const char *err_text(void)
{
    static char buf[2048];
    FILE *f = fopen(errpath, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    snprintf(path, sizeof path, "%s/config", dir);
    snprintf(errpath, sizeof errpath, "%s/stderr", dir);
    unsetenv("MLXC_NO_CONFIG");
    setenv("MLXC_CONFIG", path, 1);
    return 0;
}

static void test_precedence(void **state)
{
    (void)state;
    write_config("# defaults\n"
                 "\n"
                 "temp = 0.7\n"
                 "  top-p=0.9  \r\n"
                 "model = org/global\n"
                 "[generate]\n"
                 "temp = 0.5\n"
                 "max-tokens = 7\n"
                 "[mlxc-chat]\n"
                 "max-tokens = 512\n");
    struct mlxc_opts o;
    const char *gen[] = {"mlxc-generate", NULL};
    assert_int_equal(parse(&mlxc_cli_generate, &o, gen), 0);
    assert_true(o.temp == 0.5);                 /* the section wins over the lines before it */
    assert_true(o.top_p == 0.9);                /* spaces and CRLF around */
    assert_int_equal(o.max_tokens, 7);
    assert_string_equal(o.model, "org/global");
    assert_true(o.min_p == 0.0);                /* untouched: the table's default */
    assert_int_equal(mlxc_cli_given(&mlxc_cli_generate, &o, "temp"), MLXC_SRC_CONFIG);
    assert_int_equal(mlxc_cli_given(&mlxc_cli_generate, &o, "min-p"), MLXC_SRC_DEFAULT);

    const char *chat[] = {"mlxc-chat", NULL};
    assert_int_equal(parse(&mlxc_cli_chat, &o, chat), 0);
    assert_true(o.temp == 0.7);
    assert_int_equal(o.max_tokens, 512);

    /* argv wins over the file */
    const char *gen2[] = {"mlxc-generate", "--temp", "0.25", "-m", "3", NULL};
    assert_int_equal(parse(&mlxc_cli_generate, &o, gen2), 0);
    assert_true(o.temp == 0.25);
    assert_int_equal(o.max_tokens, 3);
    assert_int_equal(mlxc_cli_given(&mlxc_cli_generate, &o, "temp"), MLXC_SRC_ARGV);

    /* a program without the key ignores a line before any section */
    const char *conv[] = {"mlxc-convert", "--hf-path", "x", NULL};
    assert_int_equal(parse(&mlxc_cli_convert, &o, conv), 0);
    assert_int_equal(mlxc_cli_given(&mlxc_cli_convert, &o, "model"), MLXC_SRC_CONFIG);
    assert_int_equal(mlxc_cli_given(&mlxc_cli_convert, &o, "hf-path"), MLXC_SRC_ARGV);
}

static void test_values(void **state)
{
    (void)state;
    write_config("[generate]\n"
                 "ignore-chat-template = true\n"
                 "system-prompt = \"  keep my spaces  \"\n"
                 "prefill-response = 'single'\n"
                 "extra-eos-token = <|a|>\n"
                 "extra-eos-token = <|b|>\n"
                 "output-format = jsonl\n"
                 "verbose = false\n"
                 "color = never\n"
                 "seed = 42\n"
                 "[convert]\n"
                 "q-group-size = 32\n"
                 "quantize = false\n");
    struct mlxc_opts o;
    const char *gen[] = {"mlxc-generate", NULL};
    assert_int_equal(parse(&mlxc_cli_generate, &o, gen), 0);
    assert_int_equal(o.ignore_chat_template, 1);
    assert_string_equal(o.system_prompt, "  keep my spaces  ");
    assert_string_equal(o.prefill_response, "single");
    assert_non_null(o.extra_eos_token);
    assert_string_equal(o.extra_eos_token[0], "<|a|>");
    assert_string_equal(o.extra_eos_token[1], "<|b|>");
    assert_null(o.extra_eos_token[2]);
    assert_string_equal(o.output_format, "jsonl");
    assert_int_equal(o.verbose, 0);
    assert_string_equal(o.color, "never");
    assert_int_equal(o.seed, 42);
    assert_true(mlxc_cli_given(&mlxc_cli_generate, &o, "seed") != 0);
    free(o.extra_eos_token);

    /* a list on the command line replaces the file's */
    const char *gen2[] = {"mlxc-generate", "--extra-eos-token", "x", "y", NULL};
    assert_int_equal(parse(&mlxc_cli_generate, &o, gen2), 0);
    assert_string_equal(o.extra_eos_token[0], "x");
    assert_string_equal(o.extra_eos_token[1], "y");
    assert_null(o.extra_eos_token[2]);
    free(o.extra_eos_token);

    const char *conv[] = {"mlxc-convert", NULL};
    assert_int_equal(parse(&mlxc_cli_convert, &o, conv), 0);
    assert_int_equal(o.q_group_size, 32);
    assert_true(mlxc_cli_given(&mlxc_cli_convert, &o, "q-group-size") != 0);
    assert_int_equal(o.quantize, 0);
}

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text, *msg;
    } cases[] = {
        {"temp = 0.7\nno_such_flag = 1\n", ":2: unknown key 'no_such_flag'"},
        {"[generate]\nq-mode = affine\n", ":2: unknown key 'q-mode' for mlxc-generate"},
        {"max-tokens = many\n", ":1: 'max-tokens': invalid int value: 'many'"},
        /* checked whatever program runs: a bad value in another program's section */
        {"\n[convert]\nq-mode = q3\n", ":3: 'q-mode': invalid choice: 'q3'"},
        {"[nosuch]\n", ":1: unknown section '[nosuch]'"},
        {"[generate\n", ":1: a section line must look like [generate]"},
        {"temp 0.7\n", ":1: expected 'key = value', got 'temp 0.7'"},
        {" = 3\n", ":1: no key before '='"},
        {"--temp = 1\n", ":1: write the key without dashes: 'temp'"},
        {"help = true\n", ":1: 'help' cannot be set in a defaults file"},
        {"[generate]\nignore-chat-template = yes\n", ":2: 'ignore-chat-template' takes true or false, not 'yes'"},
        {"temp = 0.7 # warm\n", ":1: 'temp': invalid float value: '0.7 # warm'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_config(cases[i].text);
        struct mlxc_opts o;
        const char *gen[] = {"mlxc-generate", "--temp", "1", NULL};
        assert_int_equal(parse(&mlxc_cli_generate, &o, gen), MLXC_EXIT_USAGE);
        const char *err = err_text();
        char want[1024];
        snprintf(want, sizeof want, "mlxc-generate: error: %s%s", path, cases[i].msg);
        if (strncmp(err, want, strlen(want)) != 0)
            fail_msg("case %zu: got '%s', want '%s...'", i, err, want);
        assert_int_equal((int)(strchr(err, '\n') - err + 1), (int)strlen(err)); /* one line */
    }
}

static void test_location(void **state)
{
    (void)state;
    struct mlxc_opts o;
    const char *gen[] = {"mlxc-generate", NULL};
    write_config("max-tokens = 9\n");

    /* MLXC_NO_CONFIG turns it off ("0" does not) */
    setenv("MLXC_NO_CONFIG", "1", 1);
    assert_int_equal(parse(&mlxc_cli_generate, &o, gen), 0);
    assert_int_equal(o.max_tokens, 100);
    setenv("MLXC_NO_CONFIG", "0", 1);
    assert_int_equal(parse(&mlxc_cli_generate, &o, gen), 0);
    assert_int_equal(o.max_tokens, 9);
    unsetenv("MLXC_NO_CONFIG");

    /* a file named by MLXC_CONFIG must exist */
    char missing[700];
    snprintf(missing, sizeof missing, "%s/nope", dir);
    setenv("MLXC_CONFIG", missing, 1);
    assert_int_equal(parse(&mlxc_cli_generate, &o, gen), MLXC_EXIT_USAGE);
    assert_str_contains(err_text(), "cannot open defaults file");

    /* $XDG_CONFIG_HOME/mlxc/config; missing there is fine */
    unsetenv("MLXC_CONFIG");
    char xdg[700], sub[760], file[800];
    snprintf(xdg, sizeof xdg, "%s/xdg", dir);
    setenv("XDG_CONFIG_HOME", xdg, 1);
    assert_int_equal(parse(&mlxc_cli_generate, &o, gen), 0);
    assert_int_equal(o.max_tokens, 100);
    snprintf(sub, sizeof sub, "%s/mlxc", xdg);
    assert_int_equal(mkdir(xdg, 0700), 0);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(file, sizeof file, "%s/config", sub);
    FILE *f = fopen(file, "wb");
    assert_non_null(f);
    fputs("max-tokens = 11\n", f);
    fclose(f);
    assert_int_equal(parse(&mlxc_cli_generate, &o, gen), 0);
    assert_int_equal(o.max_tokens, 11);
    char *p = mlxc_cli_config_path();
    assert_string_equal(p, file);
    free(p);

    /* a relative XDG_CONFIG_HOME is ignored (the specification): ~/.config/mlxc/config */
    setenv("XDG_CONFIG_HOME", "relative", 1);
    const char *home = getenv("HOME");
    char *saved_home = home ? strdup(home) : NULL;
    setenv("HOME", xdg, 1);
    p = mlxc_cli_config_path();
    char want[800];
    snprintf(want, sizeof want, "%s/.config/mlxc/config", xdg);
    assert_string_equal(p, want);
    free(p);
    if (saved_home)
        setenv("HOME", saved_home, 1);
    free(saved_home);
    unsetenv("XDG_CONFIG_HOME");
    setenv("MLXC_CONFIG", path, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_precedence, setup),
        cmocka_unit_test_setup(test_values, setup),
        cmocka_unit_test_setup(test_errors, setup),
        cmocka_unit_test_setup(test_location, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

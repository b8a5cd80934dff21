/* Terminal conventions (core/term.h: --color and NO_COLOR, in-place lines only on a terminal) on a pipe
 * and on a real pseudo-terminal, and the XDG paths (core/xdg.h). */
#include "tests/test_util.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "core/term.h"
#include "core/xdg.h"

/* A pseudo-terminal's slave side, open (a terminal without needing one around the test). */
static int open_pty(int *master)
{
    *master = posix_openpt(O_RDWR | O_NOCTTY);
    if (*master < 0 || grantpt(*master) != 0 || unlockpt(*master) != 0)
        return -1;
    const char *name = ptsname(*master);
    return name ? open(name, O_RDWR | O_NOCTTY) : -1;
}

static void test_color(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    int master, tty = open_pty(&master);
    assert_true(tty >= 0);
    setenv("TERM", "xterm", 1);
    unsetenv("NO_COLOR");

    assert_int_equal(mlxc_term_color_parse("auto"), MLXC_COLOR_AUTO);
    assert_int_equal(mlxc_term_color_parse(NULL), MLXC_COLOR_AUTO);
    assert_int_equal(mlxc_term_color_parse("always"), MLXC_COLOR_ALWAYS);
    assert_int_equal(mlxc_term_color_parse("never"), MLXC_COLOR_NEVER);
    assert_int_equal(mlxc_term_color_parse("yes"), -1);

    /* auto: a terminal only */
    assert_int_equal(mlxc_term_use_color("auto", tty), 1);
    assert_int_equal(mlxc_term_use_color("auto", fds[1]), 0);
    assert_int_equal(mlxc_term_use_color(NULL, tty), 1);
    /* always and never are obeyed on both */
    assert_int_equal(mlxc_term_use_color("always", fds[1]), 1);
    assert_int_equal(mlxc_term_use_color("never", tty), 0);

    /* NO_COLOR (non-empty) turns auto off, but not always (no-color.org: flags win) */
    setenv("NO_COLOR", "1", 1);
    assert_int_equal(mlxc_term_use_color("auto", tty), 0);
    assert_int_equal(mlxc_term_use_color("always", tty), 1);
    setenv("NO_COLOR", "", 1);
    assert_int_equal(mlxc_term_use_color("auto", tty), 1);
    unsetenv("NO_COLOR");

    /* in-place lines: a terminal that is not dumb */
    assert_int_equal(mlxc_term_interactive(tty), 1);
    assert_int_equal(mlxc_term_interactive(fds[1]), 0);
    setenv("TERM", "dumb", 1);
    assert_int_equal(mlxc_term_interactive(tty), 0);
    assert_int_equal(mlxc_term_use_color("auto", tty), 0);
    assert_int_equal(mlxc_term_use_color("always", tty), 1);

    close(tty);
    close(master);
    close(fds[0]);
    close(fds[1]);
}

static void expect_path(enum mlxc_xdg_kind kind, const char *name, const char *want)
{
    struct mlxc_err e = {0};
    char *p = mlxc_xdg_path(kind, name, &e);
    assert_non_null(p);
    assert_string_equal(p, want);
    free(p);
}

static void test_xdg(void **state)
{
    (void)state;
    const char *vars[] = {"XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "HOME"};
    char *saved[5];
    for (int i = 0; i < 5; i++) {
        const char *v = getenv(vars[i]);
        saved[i] = v ? strdup(v) : NULL;
        unsetenv(vars[i]);
    }
    setenv("HOME", "/home/u", 1);
    expect_path(MLXC_XDG_CONFIG, "config", "/home/u/.config/mlxc/config");
    expect_path(MLXC_XDG_STATE, "history", "/home/u/.local/state/mlxc/history");
    expect_path(MLXC_XDG_CACHE, "x", "/home/u/.cache/mlxc/x");
    expect_path(MLXC_XDG_DATA, "x", "/home/u/.local/share/mlxc/x");
    setenv("XDG_STATE_HOME", "/var/st", 1);
    expect_path(MLXC_XDG_STATE, "history", "/var/st/mlxc/history");
    setenv("XDG_STATE_HOME", "rel/st", 1); /* not absolute: ignored */
    expect_path(MLXC_XDG_STATE, "history", "/home/u/.local/state/mlxc/history");
    setenv("XDG_STATE_HOME", "", 1);
    expect_path(MLXC_XDG_STATE, "history", "/home/u/.local/state/mlxc/history");
    unsetenv("XDG_STATE_HOME");
    unsetenv("HOME");
    struct mlxc_err e = {0};
    assert_null(mlxc_xdg_path(MLXC_XDG_STATE, "history", &e));
    assert_str_contains(e.msg, "neither $XDG_STATE_HOME nor $HOME is set");

    /* the folders above a state file are made, private */
    char base[600], file[700], dir[700];
    snprintf(base, sizeof base, "%s", test_tmpdir());
    setenv("XDG_STATE_HOME", base, 1);
    char *p = mlxc_xdg_path(MLXC_XDG_STATE, "sub/history", &e);
    assert_non_null(p);
    snprintf(file, sizeof file, "%s/mlxc/sub/history", base);
    assert_string_equal(p, file);
    assert_int_equal(mlxc_xdg_make_parent(p, &e), 0);
    assert_int_equal(mlxc_xdg_make_parent(p, &e), 0); /* again: already there */
    snprintf(dir, sizeof dir, "%s/mlxc/sub", base);
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    free(p);
    /* a file in the way is an error */
    snprintf(file, sizeof file, "%s/plain", base);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(dir, sizeof dir, "%s/plain/x/history", base);
    assert_true(mlxc_xdg_make_parent(dir, &e) < 0);
    assert_str_contains(e.msg, "plain");

    for (int i = 0; i < 5; i++) {
        if (saved[i])
            setenv(vars[i], saved[i], 1);
        else
            unsetenv(vars[i]);
        free(saved[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_color),
        cmocka_unit_test(test_xdg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

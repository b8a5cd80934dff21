/* Shared helpers for the cmocka tests: where the committed test data lives, and scratch folders. */
#ifndef MLXC_TEST_UTIL_H
#define MLXC_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* The build's test data folder: links to tests/data, the compressed fixtures unpacked
 * (tests/unpack_data.sh; meson passes the path) */
#ifndef MLXC_TEST_DATA_DIR
#define MLXC_TEST_DATA_DIR "tests/data"
#endif

/* Path of a file under the test data ($MLXC_TEST_DATA, set by meson, else MLXC_TEST_DATA_DIR). Returns a
 * static buffer. */
static inline const char *test_data(const char *rel)
{
    static char buf[4][4096];
    static int k;
    const char *root = getenv("MLXC_TEST_DATA");
    char *out = buf[k++ & 3];
    snprintf(out, sizeof buf[0], "%s/%s", root ? root : MLXC_TEST_DATA_DIR, rel);
    return out;
}

/* A fresh scratch folder under $TMPDIR (removed by the OS later; tests clean up what they can). */
static inline const char *test_tmpdir(void)
{
    static char dir[512];
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/mlxc-test-XXXXXX", t ? t : "/tmp");
    if (!mkdtemp(dir))
        fail_msg("mkdtemp failed");
    return dir;
}

/* Deterministic test data in [-1/2, 1/2): a stride through the residues mod `mod`. */
static inline float test_value(long i, int mod) { return (float)((int)(i * 7919 % mod) - mod / 2) / (float)mod; }

/* Reports a whole test program skipped, for tests of hardware this machine lacks: TAP's "1..0 # SKIP",
 * which meson counts as a skip. (cmocka 1.1's skip() prints "not ok N # SKIP", which meson and tests/run
 * count as a failure.) Returns main's exit status. */
static inline int test_skip_all(const char *reason)
{
    printf("1..0 # SKIP %s\n", reason);
    return 0;
}

#define assert_str_contains(haystack, needle)                                                   \
    do {                                                                                        \
        const char *h_ = (haystack), *n_ = (needle);                                            \
        if (!h_ || !strstr(h_, n_))                                                             \
            fail_msg("expected \"%s\" to contain \"%s\"", h_ ? h_ : "(null)", n_);             \
    } while (0)

#endif

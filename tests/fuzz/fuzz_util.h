/* Helpers shared by the libFuzzer targets (tests/fuzz/README.md says how to build and run them).
 *
 * Every target defines LLVMFuzzerTestOneInput; a target that needs fixtures finds them under
 * MLXC_FUZZ_DATA (BUILD/tests/data, the build's test data, set at build time; the environment variable
 * MLXC_TEST_DATA overrides it). Targets abort() when an invariant the library promises is broken, so
 * libFuzzer records the input as a crash. */
#ifndef MLXC_FUZZ_UTIL_H
#define MLXC_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* tests/data/<rel> (static buffer: use at once) */
static inline const char *fuzz_data(const char *rel)
{
    static char path[4096];
    const char *root = getenv("MLXC_TEST_DATA");
    snprintf(path, sizeof path, "%s/%s", root && *root ? root : MLXC_FUZZ_DATA, rel);
    return path;
}

/* A NUL-terminated copy of data[0..n) (the library's text APIs take C strings). */
static inline char *fuzz_strndup(const uint8_t *data, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        abort();
    memcpy(s, data, n);
    s[n] = '\0';
    return s;
}

/* Splits data at its first NUL byte: *a gets the part before, *b the part after (NULL when there is no
 * NUL). Both are malloc'd C strings. */
static inline void fuzz_split(const uint8_t *data, size_t size, char **a, char **b)
{
    const uint8_t *z = memchr(data, 0, size);
    size_t na = z ? (size_t)(z - data) : size;
    *a = fuzz_strndup(data, na);
    *b = z ? fuzz_strndup(z + 1, size - na - 1) : NULL;
}

#define FUZZ_CHECK(cond)                                                                          \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);          \
            abort();                                                                              \
        }                                                                                         \
    } while (0)

#endif

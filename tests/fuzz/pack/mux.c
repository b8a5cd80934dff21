/* One libFuzzer executable holding several targets (make_pack.sh): MLXC_FUZZ_TARGET names the one to
 * run. Each target's source is compiled with its entry points renamed to fuzz_<target>_one / _init; the
 * targets not linked in are NULL (weak). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T(name)                                                                                   \
    int fuzz_##name##_one(const uint8_t *data, size_t size) __attribute__((weak));                                      \
    int fuzz_##name##_init(int *argc, char ***argv) __attribute__((weak));
T(safetensors) T(config) T(tok_load) T(tok_encode) T(tok_decode) T(jinja) T(chat_template) T(prompt_cache)
#undef T

static const struct {
    const char *name;
    int (*one)(const uint8_t *, size_t);
    int (*init)(int *, char ***);
} targets[] = {
#define T(name) {#name, fuzz_##name##_one, fuzz_##name##_init},
    T(safetensors) T(config) T(tok_load) T(tok_encode) T(tok_decode) T(jinja) T(chat_template) T(prompt_cache)
#undef T
};

static int (*chosen)(const uint8_t *, size_t);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *want = getenv("MLXC_FUZZ_TARGET");
    for (size_t i = 0; want && i < sizeof targets / sizeof targets[0]; i++)
        if (targets[i].one && strcmp(targets[i].name, want) == 0) {
            chosen = targets[i].one;
            return targets[i].init ? targets[i].init(argc, argv) : 0;
        }
    fprintf(stderr, "set MLXC_FUZZ_TARGET to one of:");
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++)
        if (targets[i].one)
            fprintf(stderr, " %s", targets[i].name);
    fputc('\n', stderr);
    exit(2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return chosen(data, size);
}

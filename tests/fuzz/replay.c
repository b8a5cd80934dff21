/* Replays files through a fuzz target without libFuzzer, so the normal test run (tests/run, with any
 * compiler) checks the committed seeds and every past finding (tests/fuzz/regressions/TARGET/) against
 * the same invariants. usage: replay_TARGET DIR_OR_FILE...; speaks TAP, one line per file. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int n;

static void replay(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("not ok %d - cannot open %s\n", ++n, path);
        return;
    }
    size_t cap = 1 << 16, len = 0, got;
    uint8_t *buf = malloc(cap);
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0)
        if ((len += got) == cap)
            buf = realloc(buf, cap *= 2);
    fclose(f);
    if (!buf) {
        printf("not ok %d - out of memory reading %s\n", ++n, path);
        return;
    }
    /* a copy of exactly len bytes, so ASan sees any read past the input as libFuzzer would */
    uint8_t *exact = malloc(len ? len : 1);
    memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len); /* an invariant broken aborts the program: the test fails */
    free(exact);
    printf("ok %d - %s\n", ++n, path);
    fflush(stdout);
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv)
{
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0)
            continue; /* a target may have no regressions yet */
        if (!S_ISDIR(st.st_mode)) {
            replay(argv[i]);
            continue;
        }
        DIR *d = opendir(argv[i]);
        char **names = NULL;
        size_t k = 0;
        struct dirent *ent;
        while (d && (ent = readdir(d))) {
            if (ent->d_name[0] == '.')
                continue;
            names = realloc(names, (k + 1) * sizeof *names);
            names[k] = malloc(strlen(argv[i]) + strlen(ent->d_name) + 2);
            sprintf(names[k++], "%s/%s", argv[i], ent->d_name);
        }
        if (d)
            closedir(d);
        qsort(names, k, sizeof *names, cmp);
        for (size_t j = 0; j < k; j++) {
            replay(names[j]);
            free(names[j]);
        }
        free(names);
    }
    printf("1..%d\n", n);
    return 0;
}

/* The real tokenizers of tests/data/tok, opened once per fuzzing process (shared by the encode and
 * decode targets), and the checks every opened tokenizer must pass. */
#ifndef MLXC_FUZZ_TOK_H
#define MLXC_FUZZ_TOK_H

#include "fuzz_util.h"

#include <dirent.h>

#include "tokenizer/tokenizer.h"

#define FUZZ_MAX_TOK 32
static struct mlxc_tokenizer *fuzz_tok[FUZZ_MAX_TOK];
static int fuzz_ntok;

static int fuzz_tok_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Opens every tests/data/tok/<name>/ (sorted by name); exits when none opens. */
static __attribute__((unused)) void fuzz_tok_open_all(void)
{
    char root[4096];
    snprintf(root, sizeof root, "%s", fuzz_data("tok"));
    DIR *d = opendir(root);
    if (!d) {
        fprintf(stderr, "cannot open '%s'\n", root);
        exit(1);
    }
    char *names[FUZZ_MAX_TOK];
    int n = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) && n < FUZZ_MAX_TOK)
        if (ent->d_name[0] != '.' && ent->d_type == DT_DIR)
            names[n++] = strdup(ent->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, fuzz_tok_cmp);
    /* MLXC_FUZZ_TOK=name limits the run to one tokenizer */
    const char *only = getenv("MLXC_FUZZ_TOK");
    for (int i = 0; i < n; i++) {
        if (!only || !*only || strcmp(only, names[i]) == 0) {
            char dir[8192];
            snprintf(dir, sizeof dir, "%s/%s", root, names[i]);
            struct mlxc_err e = {0};
            if (mlxc_tok_open(dir, &fuzz_tok[fuzz_ntok], &e) != 0) {
                fprintf(stderr, "%s\n", e.msg);
                exit(1);
            }
            fuzz_ntok++;
        }
        free(names[i]);
    }
    if (fuzz_ntok == 0) {
        fprintf(stderr, "no tokenizer under '%s'\n", root);
        exit(1);
    }
}

/* Streams ids through a detokenizer and checks the pieces add up to the full decode (skip_special=0)
 * of the ids, as tokenizer.h promises. With `any_decoder` (tokenizers made up by the fuzzer) the sum is
 * only checked for the BPE and SPM streams: the Naive stream re-decodes a growing line as mlx_lm does,
 * which equals the full decode only when decoding is stable under appending tokens (every real
 * decoder; a made-up Strip with stop > 0 is not). */
static __attribute__((unused)) void fuzz_detok_check(const struct mlxc_tokenizer *t, const int32_t *ids, size_t n,
                                                     int trim, int any_decoder)
{
    struct mlxc_detok *d = NULL;
    struct mlxc_err e = {0};
    FUZZ_CHECK(mlxc_detok_init(t, &d, &e) == 0);
    if (trim)
        mlxc_detok_set_trim_first_space(d, 1);
    char *all = NULL;
    size_t len = 0;
    for (size_t i = 0; i <= n; i++) {
        const char *piece = NULL;
        size_t pl = 0;
        int rc = i < n ? mlxc_detok_add(d, ids[i], &piece, &pl, &e) : mlxc_detok_finalize(d, &piece, &pl, &e);
        FUZZ_CHECK(rc == 0);
        if (piece) {
            FUZZ_CHECK(pl > 0 && piece[pl] == '\0');
            all = realloc(all, len + pl + 1);
            FUZZ_CHECK(all != NULL);
            memcpy(all + len, piece, pl);
            len += pl;
            all[len] = '\0';
        }
    }
    char *full = NULL;
    size_t fl = 0;
    FUZZ_CHECK(mlxc_tok_decode(t, ids, n, 0, &full, &fl, &e) == 0);
    if (!trim && !(any_decoder && mlxc_detok_kind(d) == MLXC_DETOK_NAIVE)) {
        if (fl != len || (len && memcmp(full, all, len) != 0)) {
            fprintf(stderr, "stream (%zu bytes): '%.*s'\nfull decode (%zu bytes): '%.*s'\n", len, (int)len,
                    all ? all : "", fl, (int)fl, full);
            FUZZ_CHECK(!"the streamed pieces add up to the full decode");
        }
    }
    free(full);
    free(all);
    mlxc_detok_free(d);
}

#endif

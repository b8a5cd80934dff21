/* Loading an arbitrary tokenizer.json (and, after a NUL byte, tokenizer_config.json) from a private
 * temporary folder; a tokenizer that opens is then used: a few encodes, decodes of its first ids, and a
 * stream through its detokenizer. */
#include "fuzz_tok.h"

#include <unistd.h>

static char dir[256];

static void cleanup(void)
{
    char p[512];
    snprintf(p, sizeof p, "%s/tokenizer.json", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/tokenizer_config.json", dir);
    unlink(p);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    snprintf(dir, sizeof dir, "%s/mlxc-fuzz-tok-XXXXXX", base);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
    atexit(cleanup);
    return 0;
}

static void put(const char *name, const char *text, size_t n)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    if (!text) {
        unlink(p);
        return;
    }
    FILE *f = fopen(p, "wb");
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(fwrite(text, 1, n, f) == n);
    FUZZ_CHECK(fclose(f) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *z = memchr(data, 0, size);
    size_t na = z ? (size_t)(z - data) : size;
    put("tokenizer.json", (const char *)data, na);
    put("tokenizer_config.json", z ? (const char *)z + 1 : NULL, z ? size - na - 1 : 0);
    struct mlxc_tokenizer *t = NULL;
    struct mlxc_err e = {0};
    if (mlxc_tok_open(dir, &t, &e) != 0) {
        FUZZ_CHECK(t == NULL && e.msg[0]);
        return 0;
    }
    static const char *texts[] = {"Hello world", " 12 345 ünïcode\n\ttabs  ", "<s>x</s>", "", "a\xcc\x81 \xf0\x9f\x98\x80"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        int32_t *ids = NULL;
        size_t n = 0;
        if (mlxc_tok_encode(t, texts[i], strlen(texts[i]), (int)(i & 1), &ids, &n, &e) == 0) {
            /* a post-processor may add an id the vocabulary lacks (HF does the same), never a negative one */
            for (size_t k = 0; k < n; k++)
                FUZZ_CHECK(ids[k] >= 0);
            /* the Naive detokenizer decodes its whole line again at every token, as mlx_lm's
             * NaiveStreamingDetokenizer does: quadratic in a line by design, so a normalizer that
             * multiplies the text (a Replace of an empty match) would stream thousands of ids for
             * seconds; the first 512 say as much */
            fuzz_detok_check(t, ids, n < 512 ? n : 512, 0, 1);
        } else {
            FUZZ_CHECK(e.msg[0]);
        }
        free(ids);
    }
    int32_t ids[64];
    int32_t v = mlxc_tok_vocab_size(t);
    for (int i = 0; i < 64; i++)
        ids[i] = i - 2 + (v > 64 ? (i * 7919) % v : 0);
    fuzz_detok_check(t, ids, 64, 0, 1);
    fuzz_detok_check(t, ids, 64, 1, 1);
    mlxc_tok_bos_id(t);
    mlxc_tok_eos_id(t);
    mlxc_tok_chat_template(t);
    mlxc_tok_has_thinking(t);
    mlxc_tok_close(t);
    return 0;
}

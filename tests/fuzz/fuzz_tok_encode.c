/* Encoding arbitrary text with each real tokenizer. Input: byte 0 picks the tokenizer, byte 1 bit 0
 * sets add_special, the rest is the text. Valid UTF-8 must encode; invalid UTF-8 must be refused
 * cleanly; every id must have a token; the ids decode without error. */
#include "fuzz_tok.h"

#include "core/utf8.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fuzz_tok_open_all();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    const struct mlxc_tokenizer *t = fuzz_tok[data[0] % fuzz_ntok];
    int add_special = data[1] & 1;
    const char *text = (const char *)data + 2;
    size_t len = size - 2;
    int32_t *ids = NULL;
    size_t n = 0;
    struct mlxc_err e = {0};
    int rc = mlxc_tok_encode(t, text, len, add_special, &ids, &n, &e);
    int valid = mlxc_utf8_valid(text, len);
    if (!valid) {
        FUZZ_CHECK(rc == MLXC_EINVAL && e.msg[0]);
        return 0;
    }
    FUZZ_CHECK(rc == 0);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(mlxc_tok_id_to_token(t, ids[i]) != NULL);
    char *out = NULL;
    size_t ol = 0;
    FUZZ_CHECK(mlxc_tok_decode(t, ids, n, data[1] & 2, &out, &ol, &e) == 0);
    FUZZ_CHECK(out && out[ol] == '\0');
    free(out);
    free(ids);
    return 0;
}

/* Decoding arbitrary id sequences with each real tokenizer, in full and through the streaming
 * detokenizer. Input: byte 0 picks the tokenizer, byte 1 the options (bit 0 skip_special, bit 1 raw ids
 * instead of ids folded into the vocabulary, bit 2 mlx_lm's first-space trim), then little-endian
 * 32-bit ids. Ids without a token must be dropped, never read out of bounds. */
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
    uint8_t flags = data[1];
    size_t n = (size - 2) / 4;
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    FUZZ_CHECK(ids != NULL);
    int64_t vocab = mlxc_tok_vocab_size(t);
    for (size_t i = 0; i < n; i++) {
        uint32_t raw;
        memcpy(&raw, data + 2 + 4 * i, 4);
        /* folded: mostly real ids, with a few just outside the vocabulary on either side */
        ids[i] = (flags & 2) ? (int32_t)raw : (int32_t)((int64_t)(raw % (uint32_t)(vocab + 4)) - 2);
    }
    char *out = NULL;
    size_t ol = 0;
    struct mlxc_err e = {0};
    FUZZ_CHECK(mlxc_tok_decode(t, ids, n, flags & 1, &out, &ol, &e) == 0);
    FUZZ_CHECK(out && out[ol] == '\0'); /* the text may hold NUL bytes (a <0x00> token) */
    FUZZ_CHECK(mlxc_utf8_valid(out, ol));
    free(out);
    fuzz_detok_check(t, ids, n, (flags >> 2) & 1, 0);
    free(ids);
    return 0;
}

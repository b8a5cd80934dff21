/* GPT-2's byte-to-unicode map (HF pre_tokenizers/byte_level.rs bytes_char): bytes '!'..'~', '¡'..'¬' and
 * '®'..'ÿ' map to the same code point; the other 68 bytes map to U+0100 + n in byte order. */
#include <pthread.h>

#include "core/utf8.h"
#include "tokenizer/tok_impl.h"

static uint16_t byte_cp[256];
static int16_t cp_byte[256 + 68];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static int printable(unsigned b) { return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae; }

static void build(void)
{
    unsigned n = 0;
    for (unsigned i = 0; i < 256 + 68; i++)
        cp_byte[i] = -1;
    for (unsigned b = 0; b < 256; b++) {
        byte_cp[b] = (uint16_t)(printable(b) ? b : 256 + n++);
        cp_byte[byte_cp[b]] = (int16_t)b;
    }
}

uint32_t tok_byte_to_cp(unsigned b)
{
    pthread_once(&once, build);
    return byte_cp[b & 255];
}

int tok_cp_to_byte(uint32_t cp)
{
    pthread_once(&once, build);
    return cp < 256 + 68 ? cp_byte[cp] : -1;
}

int tok_bytelevel_to_raw(const char *s, size_t n, struct mlxc_buf *out)
{
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int k = mlxc_utf8_decode(s + i, n - i, &cp);
        if (k <= 0)
            return -1;
        int b = tok_cp_to_byte(cp);
        if (b < 0)
            return -1;
        mlxc_buf_putc(out, (char)b);
        i += (size_t)k;
    }
    return 0;
}

/* LSB-first bit streams of 2..8-bit codes (mlx: backend/cpu/quantized.cpp quantize and extract_bits;
 * mlx-lm-facts.md §3.2). Code k occupies bits [k*bits, (k+1)*bits) of the stream, bit 0 of byte 0 first;
 * a code may straddle two bytes (3, 5 and 6 bits) but never three, since bits <= 8. */
#include "quant/qformat.h"

void mlxc_qpack(const uint8_t *codes, int64_t n, int bits, uint8_t *out)
{
    /* Accumulate codes into a 64-bit window and flush whole bytes. */
    uint64_t acc = 0;
    int have = 0;
    for (int64_t k = 0; k < n; k++) {
        acc |= (uint64_t)codes[k] << have;
        have += bits;
        while (have >= 8) {
            *out++ = (uint8_t)acc;
            acc >>= 8;
            have -= 8;
        }
    }
    /* n*bits is a multiple of 8 for every stream MLX writes; a partial tail byte would still be written. */
    if (have > 0)
        *out = (uint8_t)acc;
}

void mlxc_qunpack(const uint8_t *p, int64_t k0, int64_t n, int bits, uint8_t *codes)
{
    unsigned mask = (1u << bits) - 1u;
    for (int64_t k = k0; k < k0 + n; k++) {
        int64_t bit = k * bits;
        int64_t byte = bit >> 3;
        int shift = (int)(bit & 7);
        unsigned v = p[byte];
        if (shift + bits > 8) /* straddles into the next byte */
            v |= (unsigned)p[byte + 1] << 8;
        *codes++ = (uint8_t)((v >> shift) & mask);
    }
}

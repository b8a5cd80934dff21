/* What the AVX2 attention kernels share (kernels_att_avx2.c: float caches, kernels_attq_avx2.c: quantized
 * ones): register pinning, the prefetch cursor and the query quads. Only for files built with -mavx2 -mfma. */
#ifndef MLXC_ATT_AVX2_H
#define MLXC_ATT_AVX2_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

enum {
    MAX_HD = 1024,       /* head_dim cap of core/config.c */
    PREFETCH_ROWS = 8,   /* scores: how far ahead rows are prefetched */
    VALUE_BLOCK = 16384, /* values: bytes of the rows of a block (4 to MAX_BLOCK_ROWS), the next block prefetched */
    MAX_BLOCK_ROWS = 32,
};

#define INLINE static inline __attribute__((always_inline))

/* Makes the compiler hold v in a register here: gcc folds a vector load into every FMA that uses it,
 * which doubles the loads where a vector feeds two FMAs. */
#define in_register(v) __asm__("" : "+x"(v))

/* Prefetches into L1 the rows ahead, a few cache lines at a time between pieces of arithmetic: a core
 * holds few misses in flight (on Intel 16 L1 fill buffers), and a burst of a block's lines stalls it
 * until they arrive. The cursor walks `span` bytes of each row, rows rb bytes apart. */
struct prefetcher {
    const unsigned char *row;
    size_t rb, span, off;
    int64_t rows; /* rows left */
};

INLINE struct prefetcher prefetcher_at(const unsigned char *row, size_t rb, size_t span, int64_t rows)
{
    return (struct prefetcher){row, rb, span, 0, rows > 0 ? rows : 0};
}

/* Cache lines the cursor issues for one row. */
INLINE int64_t row_lines(size_t span) { return (int64_t)((span + 63) / 64); }

INLINE void prefetch_lines(struct prefetcher *pf, int64_t lines)
{
    for (; lines > 0 && pf->rows > 0; lines--) {
        _mm_prefetch((const char *)pf->row + pf->off, _MM_HINT_T0);
        pf->off += 64;
        if (pf->off >= pf->span) {
            pf->off = 0;
            pf->row += pf->rb;
            pf->rows--;
        }
    }
}

/* `lines` shared evenly by `pieces`: piece j takes each + (j < extra), which add up to exactly `lines`
 * (worked out once per call: a division per piece cost more than the piece's prefetches). */
struct shares {
    int64_t each, extra;
};

INLINE struct shares shares_of(int64_t lines, int64_t pieces) { return (struct shares){lines / pieces, lines % pieces}; }
INLINE int64_t share(struct shares s, int64_t j) { return s.each + (j < s.extra); }

/* Row i of a quad of m <= 4 queries: the first repeated past m. */
INLINE int64_t quad_row(int i, int m) { return i < m ? i : 0; }

/* Rows per block of the values kernels: VALUE_BLOCK bytes of rows of `span` bytes, 4 to MAX_BLOCK_ROWS. */
INLINE int64_t block_rows(size_t span)
{
    const int64_t fit = (int64_t)(VALUE_BLOCK / span);
    return fit < 4 ? 4 : fit > MAX_BLOCK_ROWS ? MAX_BLOCK_ROWS : fit;
}

#endif

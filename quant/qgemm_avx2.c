/* Affine 4- and 8-bit weights (AVX2), every number of tokens: the integer arithmetic of qmatmul_avx2.c in
 * tiles of R rows x T tokens, so that each unpacked chunk of weights serves T tokens and each loaded chunk
 * of activations R rows, with R*T accumulators in registers. The scales and biases of a block of rows are
 * converted to f32 once for all tokens.
 *
 * Per tile and 64-column chunk (4-bit), with the activations of qact_avx2.h:
 *   acc[r][t] += scale_r * cvt(vpmaddwd(lo_r . xe_t + hi_r . xo_t, m_t))     (8 lanes of 8 columns)
 *   y[t, r] = D_t * sum(acc[r][t]) + sum_g bias_{r,g} * gsum_{t,g}
 * where 4-bit tiles give one vpmaddwd to two rows (aff4_tile): the integer multipliers set the pace on
 * current x86 cores, and this is 5 of them per 2 x 64 multiply-adds instead of 6.
 * 8-bit codes q are taken as (q - 128) + 128 (vpmaddubsw needs one unsigned operand, and u8 x s8 pairs of
 * full-range codes would saturate): |q - 128| times xq with the sign of q - 128, and the 128 goes into the
 * bias term. Each (r, t) has its own accumulator (4-bit: its own lanes of one) and takes its chunks in
 * order whatever the tile, so a token's outputs are bitwise the same alone (decode) or with any others
 * (prefill, batched decode): this is also mlxc_qmatmul_rows_exact for these formats. */
#include "quant/qact_avx2.h"
#include "core/sys.h"

enum {
    TR = 2,               /* rows per tile */
    TT = 4,               /* tokens per tile */
    BLOCK_BYTES = 1 << 17, /* packed bytes of a block of rows: in L2 while every token tile passes */
    AHEAD_TILES = 2,      /* the weights of the tile this many tiles ahead are prefetched (decode streams
                           * them from memory; the hardware prefetcher alone falls behind two row streams) */
    SCALES_MAX = 4096,    /* f32 scales (and as many biases) of a block of rows kept on the stack */
};

_Static_assert((int)TT <= (int)QACT_TOK, "tiles take at most the tokens of an activation view");

/* One tile of 2 rows x T tokens of affine 4-bit codes (R = 1: the row twice, stored once). The two rows'
 * pair sums go through one vpmaddwd: vphaddw adds each row's lanes two by two into its 8 block sums
 * (|sum| <= 2 * 7620: no wrap), [r0 b0-3, r1 b0-3 | r0 b4-7, r1 b4-7], and the block multipliers are
 * shuffled to match, so the int32 lanes are [r0 r0 r1 r1 | r0 r0 r1 r1]: each lane one row's, never both. */
INLINE void aff4_tile(const uint8_t *w, int64_t row_bytes, const float *sf, int64_t groups, int64_t cols,
                      const int gs, const struct mlxc_qact_rows *X, const int R, const int T, float out[TR][TT])
{
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    /* qact's multipliers per chunk, [m0 m0 m1 m1 m2 m2 m3 m3 | m4 m4 .. m7 m7] -> [m0-m3 m0-m3 | m4-m7 m4-m7] */
    const __m256i mperm = _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 0, 1, 4, 5, 8, 9, 12, 13, 0, 1, 4, 5, 8, 9, 12,
                                           13, 0, 1, 4, 5, 8, 9, 12, 13);
    const uint8_t *w1 = R > 1 ? w + row_bytes : w;
    const float *sf1 = R > 1 ? sf + groups : sf;
    __m256 acc[TT];
    for (int t = 0; t < T; t++)
        acc[t] = _mm256_setzero_ps();
    for (int64_t c = 0; c < cols; c += 64) {
        const uint8_t *p0 = w + c / 2, *p1 = w1 + c / 2;
        _mm_prefetch((const char *)(p0 + AHEAD_TILES * TR * row_bytes), _MM_HINT_T0);
        _mm_prefetch((const char *)(p1 + AHEAD_TILES * TR * row_bytes), _MM_HINT_T0);
        const int whole = c + 64 <= cols;
        const __m256i b0 = whole ? _mm256_loadu_si256((const __m256i *)p0) : load_partial(p0, (cols - c) / 2);
        const __m256i b1 = whole ? _mm256_loadu_si256((const __m256i *)p1) : load_partial(p1, (cols - c) / 2);
        const __m256i lo0 = _mm256_and_si256(b0, m4), hi0 = _mm256_and_si256(_mm256_srli_epi16(b0, 4), m4);
        const __m256i lo1 = _mm256_and_si256(b1, m4), hi1 = _mm256_and_si256(_mm256_srli_epi16(b1, 4), m4);
        /* the scales in the same lanes, [r0 r0 r1 r1] per half (gs 32: each half its group) */
        const __m256 sv = _mm256_blend_ps(chunk_scales(sf, c / gs, gs), chunk_scales(sf1, c / gs, gs), 0xCC);
        for (int t = 0; t < T; t++) {
            const __m256i xe = _mm256_loadu_si256((const __m256i *)(X->q[t] + c));
            const __m256i xo = _mm256_loadu_si256((const __m256i *)(X->q[t] + c + 32));
            const __m256i mv = _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(X->m[t] + c / 4)), mperm);
            /* u8 codes (<= 15) x s8: pair sums <= 2*15*127, the two added <= 7620 */
            const __m256i q0 = _mm256_add_epi16(_mm256_maddubs_epi16(lo0, xe), _mm256_maddubs_epi16(hi0, xo));
            const __m256i q1 = _mm256_add_epi16(_mm256_maddubs_epi16(lo1, xe), _mm256_maddubs_epi16(hi1, xo));
            const __m256i s = _mm256_madd_epi16(_mm256_hadd_epi16(q0, q1), mv);
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), sv, acc[t]);
        }
    }
    for (int t = 0; t < T; t++) {
        __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc[t]), _mm256_extractf128_ps(acc[t], 1)); /* r0 r0 r1 r1 */
        h = _mm_hadd_ps(h, h);                                                                  /* r0 r1 r0 r1 */
        out[0][t] = _mm_cvtss_f32(h);
        out[1][t] = _mm_cvtss_f32(_mm_movehdup_ps(h));
    }
}

/* One tile of R rows x T tokens of affine 8-bit codes. */
INLINE void aff8_tile(const uint8_t *w, int64_t row_bytes, const float *sf, int64_t groups, int64_t cols,
                      const int gs, const struct mlxc_qact_rows *X, const int R, const int T, float out[TR][TT])
{
    __m256 acc[TR][TT];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++)
            acc[r][t] = _mm256_setzero_ps();
    for (int64_t c = 0; c < cols; c += 32) {
        __m256i ws[TR], aw[TR];
        __m256 sv[TR];
        for (int r = 0; r < R; r++) {
            const uint8_t *p = w + r * row_bytes + c;
            _mm_prefetch((const char *)(p + AHEAD_TILES * TR * row_bytes), _MM_HINT_T0);
            ws[r] = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)p), _mm256_set1_epi8((char)0x80));
            aw[r] = _mm256_sign_epi8(ws[r], ws[r]);
            sv[r] = _mm256_broadcast_ss(sf + r * groups + c / gs);
        }
        for (int t = 0; t < T; t++) {
            __m256i x = _mm256_loadu_si256((const __m256i *)(X->q[t] + c));
            __m256i mv = _mm256_loadu_si256((const __m256i *)(X->m[t] + c / 2));
            for (int r = 0; r < R; r++) {
                /* |q - 128| (<= 128, as u8) x xq with the sign of q - 128: pair sums <= 2*128*127 */
                __m256i p = _mm256_maddubs_epi16(aw[r], _mm256_sign_epi8(x, ws[r]));
                acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(p, mv)), sv[r], acc[r][t]);
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++)
            out[r][t] = hsum8(acc[r][t]);
}

/* Tile dispatch with R and T as constants. */
INLINE void tile(int bits, const uint8_t *w, int64_t row_bytes, const float *sf, int64_t groups, int64_t cols,
                 int gs, const struct mlxc_qact_rows *X, const int R, const int T, float out[TR][TT])
{
    if (bits == 4) {
        if (gs == 32)
            aff4_tile(w, row_bytes, sf, groups, cols, 32, X, R, T, out);
        else if (gs == 64)
            aff4_tile(w, row_bytes, sf, groups, cols, 64, X, R, T, out);
        else
            aff4_tile(w, row_bytes, sf, groups, cols, 128, X, R, T, out);
    } else {
        if (gs == 32)
            aff8_tile(w, row_bytes, sf, groups, cols, 32, X, R, T, out);
        else if (gs == 64)
            aff8_tile(w, row_bytes, sf, groups, cols, 64, X, R, T, out);
        else
            aff8_tile(w, row_bytes, sf, groups, cols, 128, X, R, T, out);
    }
}

static void tile_any(int bits, const uint8_t *w, int64_t row_bytes, const float *sf, int64_t groups, int64_t cols,
                     int gs, const struct mlxc_qact_rows *X, int R, int T, float out[TR][TT])
{
    if (R == TR && T == TT) {
        tile(bits, w, row_bytes, sf, groups, cols, gs, X, TR, TT, out);
        return;
    }
    for (int t = 0; t < T; t++) { /* the last tokens or the last row: one token at a time */
        struct mlxc_qact_rows one = {{X->q[t]}, {X->m[t]}, {X->gsum[t]}, {X->D[t]}};
        float o[TR][TT];
        if (R == TR)
            tile(bits, w, row_bytes, sf, groups, cols, gs, &one, TR, 1, o);
        else
            tile(bits, w, row_bytes, sf, groups, cols, gs, &one, 1, 1, o);
        for (int r = 0; r < R; r++)
            out[r][t] = o[r][0];
    }
}

int mlxc_qgemm_avx2_has(const struct mlxc_qmatrix *m)
{
    return m->q.mode == MLXC_Q_AFFINE && (m->q.bits == 4 || m->q.bits == 8);
}

int mlxc_qgemm_avx2(const struct mlxc_qmatrix *m, const struct mlxc_qact *X, float *y, int64_t ldy, int64_t row0,
                    int64_t row1)
{
    const int bits = m->q.bits, gs = m->q.group_size;
    const int64_t cols = m->cols, groups = cols / gs, row_bytes = cols * bits / 8;
    int64_t rb = BLOCK_BYTES / row_bytes;
    rb = rb < TR ? TR : rb / TR * TR;
    if (rb * groups > SCALES_MAX && groups * TR <= SCALES_MAX)
        rb = SCALES_MAX / groups / TR * TR;
    /* scales (one float of padding read by the last chunk of gs 32) and biases (+ 128 scale for 8 bits)
     * of a block of rows as f32: on the stack, unless the rows are enormous */
    float stack[2 * SCALES_MAX + 1] __attribute__((aligned(32)));
    float *sf = rb * groups <= SCALES_MAX ? stack : mlxc_alloc_aligned(sizeof(float) * (size_t)(2 * rb * groups + 1));
    if (!sf)
        return -1;
    float *bf = sf + rb * groups + 1;
    for (int64_t b0 = row0; b0 < row1; b0 += rb) {
        const int64_t nr = row1 - b0 < rb ? row1 - b0 : rb;
        mlxc_qscalars_to_f32(m->scales, b0 * groups, nr * groups, m->scale_dtype, sf);
        mlxc_qscalars_to_f32(m->biases, b0 * groups, nr * groups, m->scale_dtype, bf);
        sf[nr * groups] = 0.0f;
        if (bits == 8)
            for (int64_t i = 0; i < nr * groups; i++)
                bf[i] += 128.0f * sf[i];
        for (int64_t t0 = 0; t0 < X->n; t0 += TT) {
            const int T = X->n - t0 < TT ? (int)(X->n - t0) : TT;
            struct mlxc_qact_rows R;
            mlxc_qact_rows_init(&R, X, t0, T);
            for (int64_t r = 0; r < nr; r += TR) {
                const int nrt = nr - r < TR ? (int)(nr - r) : TR;
                float out[TR][TT];
                tile_any(bits, (const uint8_t *)m->packed + (b0 + r) * row_bytes, row_bytes, sf + r * groups,
                         groups, cols, gs, &R, nrt, T, out);
                for (int i = 0; i < nrt; i++)
                    for (int t = 0; t < T; t++)
                        y[(t0 + t) * ldy + b0 + r + i] =
                            R.D[t] * out[i][t] + dot_f32(bf + (r + i) * groups, R.gsum[t], groups);
            }
        }
    }
    if (sf != stack)
        mlxc_free_aligned(sf);
    return 0;
}

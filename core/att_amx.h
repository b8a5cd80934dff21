/* Decode attention on a bf16 KV cache where the CPU has AMX (core/attention.c's decode units; prefill
 * has its own tiles in core/matmul_amx.h). The contracts of the kernel table's att_scores and att_values
 * (core/kernels.h) for BF16 rows whose head size hd is a multiple of 32, any group, with the queries and
 * the softmax weights kept f32:
 *   scores: s[i * lds + p] = scale * sum_d q[i * hd + d] k_p[(i / group) * hd + d]   (k_p at k + p * ld)
 *   values: out[i * hd + d] = sum_p w[i * lds + p] v_p[(i / group) * hd + d]       (out overwritten)
 * Only call them (and mlxc_amx_decode_exp) where mlxc_amx_usable() said yes. Scores take
 * mlxc_amx_decode_scratch bytes (64-aligned). */
#ifndef MLXC_ATT_AMX_H
#define MLXC_ATT_AMX_H

#include <stddef.h>
#include <stdint.h>

#ifdef MLXC_HAVE_AMX
size_t mlxc_amx_decode_scratch(int nq, int group, int hd);
void mlxc_amx_decode_scores(const uint16_t *k, int64_t ld, int64_t n, const float *q, int nq, int group, int hd,
                            float scale, float *s, int64_t lds, void *scratch);
void mlxc_amx_decode_values(const uint16_t *v, int64_t ld, int64_t n, const float *w, int nq, int group,
                            int64_t lds, int hd, float *out);

/* A chunk's softmax partials between the two (decode rows are a few hundred keys, f32 sums suffice):
 * m = max_p s[p], s[p] = exp(s[p] - m) in place, returns sum_p s[p]. n >= 1. */
float mlxc_amx_decode_exp(float *s, int64_t n, float *m);
#else /* a compiler without the AMX flags: mlxc_amx_usable() is 0, so the callers never reach these */
static inline size_t mlxc_amx_decode_scratch(int nq, int group, int hd) { return (void)nq, (void)group, (void)hd, 0; }
static inline void mlxc_amx_decode_scores(const uint16_t *k, int64_t ld, int64_t n, const float *q, int nq, int group,
                                          int hd, float scale, float *s, int64_t lds, void *scratch)
{
    (void)k, (void)ld, (void)n, (void)q, (void)nq, (void)group, (void)hd, (void)scale, (void)s, (void)lds, (void)scratch;
}
static inline void mlxc_amx_decode_values(const uint16_t *v, int64_t ld, int64_t n, const float *w, int nq, int group,
                                          int64_t lds, int hd, float *out)
{
    (void)v, (void)ld, (void)n, (void)w, (void)nq, (void)group, (void)lds, (void)hd, (void)out;
}
static inline float mlxc_amx_decode_exp(float *s, int64_t n, float *m) { return (void)s, (void)n, *m = 0.0f; }
#endif

#endif

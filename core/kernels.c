#include "core/kernels.h"

#include "core/cpu.h"
#include "core/ops.h"

#include <stdlib.h>
#include <string.h>

const struct mlxc_kernels *mlxc_kernels_named(const char *isa)
{
    if (strcmp(isa, "ref") == 0)
        return &mlxc_kernels_ref;
#if defined(__x86_64__)
    if (strcmp(isa, "avx2") == 0 && mlxc_cpu_avx2_fma_f16c())
        return &mlxc_kernels_avx2;
#endif
    return NULL;
}

const struct mlxc_kernels *mlxc_kernels(void)
{
    static const struct mlxc_kernels *chosen;
    if (chosen)
        return chosen;
    const char *env = getenv("MLXC_ISA");
    const struct mlxc_kernels *k = env && *env ? mlxc_kernels_named(env) : NULL;
    if (!k)
        k = mlxc_kernels_named("avx2");
    if (!k)
        k = &mlxc_kernels_ref;
    chosen = k;
    return k;
}

/* The nq rows of n scores at s become softmax weights in place: the softcap, then each row's max into m and
 * its sum of weights into l. */
static void decode_weights(const struct mlxc_kernels *k, float *s, int64_t n, int nq, float softcap, float *m, float *l)
{
    for (int i = 0; i < nq; i++) {
        float *row = s + (int64_t)i * n;
        if (softcap != 0.0f)
            mlxc_softcap(row, n, softcap);
        m[i] = k->max(row, n);
        l[i] = k->exp_sum(row, row, n, m[i]);
    }
}

void mlxc_att_decode_two_pass(const struct mlxc_kernels *k, const void *kr, const void *vr, enum mlxc_dtype dt,
                              int64_t ld, int64_t n, const float *q, int nq, int group, int hd, float scale,
                              float softcap, float *scratch, float *m, float *l, float *out)
{
    k->att_scores(kr, dt, ld, n, q, nq, group, hd, scale, scratch, n);
    decode_weights(k, scratch, n, nq, softcap, m, l);
    k->att_values(vr, dt, ld, n, scratch, nq, group, n, hd, out);
}

void mlxc_att_decode_q_two_pass(const struct mlxc_kernels *k, const struct mlxc_qkv_rows *kr,
                                const struct mlxc_qkv_rows *vr, int64_t n, const float *q, int nq, int group, int hd,
                                float scale, float softcap, float *scratch, float *m, float *l, float *out)
{
    k->att_scores_q(kr, n, q, nq, group, hd, scale, scratch, n);
    decode_weights(k, scratch, n, nq, softcap, m, l);
    k->att_values_q(vr, n, scratch, nq, group, n, hd, out);
}

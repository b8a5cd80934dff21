#include "tests/quant_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "quant/quant.h"

void fixture_each_quant(const float *w, int64_t rows, int64_t cols, float *first_bias, struct mlxc_pool *pool,
                        void (*check)(const struct mlxc_linear *l, struct mlxc_pool *pool, const char *what))
{
    const struct mlxc_qparams qs[] = {{MLXC_Q_AFFINE, 4, 64}, {MLXC_Q_AFFINE, 8, 32}, {MLXC_Q_AFFINE, 3, 64},
                                      {MLXC_Q_AFFINE, 6, 128}, {MLXC_Q_MXFP4, 4, 32}, {MLXC_Q_NVFP4, 4, 16},
                                      {MLXC_Q_MXFP8, 8, 32}};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        void *packed = malloc((size_t)(rows * cols * qs[i].bits / 8));
        float *scales = malloc((size_t)(rows * cols / qs[i].group_size) * sizeof(float));
        float *biases = malloc((size_t)(rows * cols / qs[i].group_size) * sizeof(float));
        struct mlxc_err e = {0};
        if (mlxc_quantize(w, rows, cols, qs[i], MLXC_F32, packed, scales, biases, &e) != 0)
            fail_msg("quantize: %s", e.msg);
        struct mlxc_linear q = {.kind = MLXC_W_QUANT, .rows = rows, .cols = cols, .bias = i == 0 ? first_bias : NULL};
        q.q = (struct mlxc_qmatrix){.q = qs[i], .rows = rows, .cols = cols, .packed = packed, .scales = scales,
                                    .biases = qs[i].mode == MLXC_Q_AFFINE ? biases : NULL,
                                    .scale_dtype = qs[i].mode == MLXC_Q_AFFINE ? MLXC_F32 : MLXC_U8};
        char what[64];
        snprintf(what, sizeof what, "%s %d-bit", mlxc_qmode_name(qs[i].mode), qs[i].bits);
        check(&q, pool, what);
        free(packed);
        free(scales);
        free(biases);
    }
}

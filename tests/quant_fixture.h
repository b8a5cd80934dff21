/* Quantized linears for the tests that run every weight format through the same check. */
#ifndef MLXC_TEST_QUANT_FIXTURE_H
#define MLXC_TEST_QUANT_FIXTURE_H

#include <stdint.h>

#include "core/linear.h"
#include "core/pool.h"

/* w (rows, cols) quantized with mlxc_quantize (f32 scales) to each format the linear tests cover (affine
 * 4/8/3/6-bit, mxfp4, nvfp4, mxfp8), each handed to check as a linear with its format's name ("affine
 * 4-bit"); the first format's linear carries first_bias (may be NULL). Fails the test if quantizing
 * fails. */
void fixture_each_quant(const float *w, int64_t rows, int64_t cols, float *first_bias, struct mlxc_pool *pool,
                        void (*check)(const struct mlxc_linear *l, struct mlxc_pool *pool, const char *what));

#endif

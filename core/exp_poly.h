/* The constants of e^x for x <= 0 as the vector kernels compute it (core/avx2_util.h's exp_neg on 8
 * lanes, core/att_amx.c's exp_neg16 on 16), kept in one place so that both widths compute the same
 * function: x = k ln2 + r with |r| <= ln2/2 (ln2 in two parts, Cody-Waite), e^r = 1 + r + r^2 P(r) with
 * Cephes' expf polynomial P (about 1 ulp), 2^k through the exponent bits, and 0 below EXP_MIN (under the
 * smallest normal float). */
#ifndef MLXC_EXP_POLY_H
#define MLXC_EXP_POLY_H

static const float EXP_MIN = -87.33654f, EXP_LOG2E = 1.44269504f;
static const float EXP_LN2_HI = 0.693359375f, EXP_LN2_LO = -2.12194440e-4f;
/* P's coefficients, highest power first (Horner) */
static const float EXP_P[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                               4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};

#endif

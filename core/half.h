/* 16-bit floats: IEEE binary16 (F16) and bfloat16 (BF16), to and from f32.
 * f32 -> 16-bit rounds to nearest even (as MLX's astype does); NaN stays NaN. */
#ifndef MLXC_HALF_H
#define MLXC_HALF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline float mlxc_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint16_t mlxc_f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u)     /* NaN: keep it quiet, keep the sign */
        return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);         /* round half to even */
    return (uint16_t)(u >> 16);
}

float mlxc_f16_to_f32(uint16_t h);
uint16_t mlxc_f32_to_f16(float f);

/* Row conversions; the F16 ones use F16C instructions when the CPU has them. */
void mlxc_f16_to_f32_row(const uint16_t *src, float *dst, size_t n);
void mlxc_f32_to_f16_row(const float *src, uint16_t *dst, size_t n);
void mlxc_bf16_to_f32_row(const uint16_t *src, float *dst, size_t n);
void mlxc_f32_to_bf16_row(const float *src, uint16_t *dst, size_t n);

#endif

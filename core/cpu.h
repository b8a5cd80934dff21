/* CPU feature checks for run-time kernel dispatch. __builtin_cpu_supports("f16c") exists in gcc but
 * not in clang 14, so F16C is read from CPUID leaf 1 (ECX bit 29) here; AVX, AVX2 and FMA go through
 * the builtin, which also checks that the OS saves the YMM registers. */
#ifndef MLXC_CPU_H
#define MLXC_CPU_H

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static inline int mlxc_cpu_f16c(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    return (c & bit_F16C) != 0 && __builtin_cpu_supports("avx");
}

/* AVX2 + FMA + F16C: what the avx2 kernel tables need. */
static inline int mlxc_cpu_avx2_fma_f16c(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && mlxc_cpu_f16c();
}
#endif

#endif

/* Whether the AMX kernels (core/matmul_amx.c) may run here. Compiled without ISA flags: it runs on every
 * x86-64 CPU. Linux hands out the tile registers' 8 KB of state per process on request
 * (arch_prctl ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA; kernel 5.16 and later). */
#include "core/matmul_amx.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(MLXC_HAVE_AMX)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 };

static int cpu_has_amx_bf16(void)
{
    unsigned a, b, c, d;
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw"))
        return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 22)) || !(d & (1u << 24))) /* AMX-BF16, -TILE */
        return 0;
    return __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 5)); /* AVX512-BF16 */
}

static int usable;

static void decide(void)
{
    const char *isa = getenv("MLXC_ISA"); /* a named ISA ("ref", "avx2") keeps to its kernels */
    if (isa && *isa)
        return;
    usable = cpu_has_amx_bf16() && syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
}

int mlxc_amx_usable(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, decide);
    return usable;
}
#else
int mlxc_amx_usable(void) { return 0; }
#endif

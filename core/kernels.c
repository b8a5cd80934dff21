#include "core/kernels.h"

#include "core/cpu.h"

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

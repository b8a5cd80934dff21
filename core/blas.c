/* OpenBLAS set-up. Debian's OpenBLAS (a DYNAMIC_ARCH build) picks its kernels from the CPU's family and
 * model at load time. A CPU newer than the library (Emerald Rapids, family 6 model 207, in 0.3.21) is
 * not in its tables and gets the Prescott (SSE3) kernels: bf16 prefill of a Llama-3.2-1B shape ran at
 * 7-11 tokens/s instead of 42-54 with the AVX-512 ones on such a machine. So when the user has not chosen
 * a core (OPENBLAS_CORETYPE), the library reports a core without AVX2 kernels on a CPU that has AVX2 and
 * FMA, and it exports its detection entry points (gotoblas_dynamic_quit/_init, DYNAMIC_ARCH builds
 * only: looked up at run time), it detects again with OPENBLAS_CORETYPE set for the duration: SkylakeX
 * on AVX-512 (F, CD, BW, DQ, VL), else Haswell. Both exist in every x86-64 DYNAMIC_ARCH build. */
#include "core/blas.h"

#include <cblas.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <strings.h>

/* OpenBLAS's core types (any case) whose SGEMM kernels use AVX-512, and those that use AVX2. */
static const char *const avx512_cores[] = {"SkylakeX", "Cooperlake", "Sapphirerapids"};
static const char *const avx2_cores[] = {"Haswell", "Zen", "Excavator"};

static int core_in(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (name && strcasecmp(name, list[i]) == 0)
            return 1;
    return 0;
}

#define CORE_IN(name, list) core_in(name, list, sizeof list / sizeof list[0])

/* Core types whose SGEMM kernels use AVX2 or AVX-512. */
static int wide_core(const char *name) { return CORE_IN(name, avx512_cores) || CORE_IN(name, avx2_cores); }

static void fix_core(void)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (getenv("OPENBLAS_CORETYPE") || wide_core(openblas_get_corename()) || !__builtin_cpu_supports("avx2") ||
        !__builtin_cpu_supports("fma"))
        return;
    void (*quit)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit");
    void (*init)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init");
    if (!quit || !init)
        return;
    const int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
                       __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                       __builtin_cpu_supports("avx512vl");
    if (setenv("OPENBLAS_CORETYPE", avx512 ? "SkylakeX" : "Haswell", 1) != 0)
        return;
    quit();
    init();
    unsetenv("OPENBLAS_CORETYPE");
#endif
}

void mlxc_blas_setup(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, fix_core);
    openblas_set_num_threads(1);
}

const char *mlxc_blas_core(void) { return openblas_get_corename(); }

int mlxc_blas_wide_fma(void) { return CORE_IN(openblas_get_corename(), avx512_cores); }

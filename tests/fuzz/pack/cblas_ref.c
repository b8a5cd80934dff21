/* A plain C cblas_sgemm for the packed fuzz executable (make_pack.sh): the machine it runs on has no
 * OpenBLAS, and the fuzzed models are tiny. C = alpha * op(A) * op(B) + beta * C, both layouts. */
#include <cblas.h>

void cblas_sgemm(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE ta, const enum CBLAS_TRANSPOSE tb,
                 const blasint M, const blasint N, const blasint K, const float alpha, const float *A,
                 const blasint lda, const float *B, const blasint ldb, const float beta, float *C, const blasint ldc)
{
    if (order == CblasColMajor) { /* C^T = op(B)^T op(A)^T in row-major terms */
        cblas_sgemm(CblasRowMajor, tb, ta, N, M, K, alpha, B, ldb, A, lda, beta, C, ldc);
        return;
    }
    for (blasint i = 0; i < M; i++)
        for (blasint j = 0; j < N; j++) {
            float s = 0.0f;
            for (blasint k = 0; k < K; k++) {
                float a = ta == CblasNoTrans ? A[(long)i * lda + k] : A[(long)k * lda + i];
                float b = tb == CblasNoTrans ? B[(long)k * ldb + j] : B[(long)j * ldb + k];
                s += a * b;
            }
            C[(long)i * ldc + j] = alpha * s + (beta == 0.0f ? 0.0f : beta * C[(long)i * ldc + j]);
        }
}

void openblas_set_num_threads(int n)
{
    (void)n;
}

/* Quantization modes and parameters (mlx: ops.cpp quantization_params_from_mode, affine_quantize,
 * fp_quantize; mlx-lm: utils.py quantize_model defaults; mlx-lm-facts.md §3.1, §3.3, §3.5), and the
 * checked entry point mlxc_quantize. */
#include <math.h>

#include "quant/qformat.h"

static const char *const mode_names[] = {
    [MLXC_Q_AFFINE] = "affine",
    [MLXC_Q_MXFP4] = "mxfp4",
    [MLXC_Q_NVFP4] = "nvfp4",
    [MLXC_Q_MXFP8] = "mxfp8",
};
#define NMODES ((int)(sizeof mode_names / sizeof mode_names[0]))

const char *mlxc_qmode_name(enum mlxc_qmode m)
{
    return (unsigned)m < (unsigned)NMODES ? mode_names[m] : "?";
}

int mlxc_qmode_parse(const char *s, enum mlxc_qmode *m)
{
    for (int i = 0; i < NMODES; i++) {
        if (s && strcmp(s, mode_names[i]) == 0) {
            *m = (enum mlxc_qmode)i;
            return 0;
        }
    }
    return -1;
}

struct mlxc_qparams mlxc_qparams_default(enum mlxc_qmode m)
{
    switch (m) {
    case MLXC_Q_MXFP4: return (struct mlxc_qparams){MLXC_Q_MXFP4, 4, 32};
    case MLXC_Q_NVFP4: return (struct mlxc_qparams){MLXC_Q_NVFP4, 4, 16};
    case MLXC_Q_MXFP8: return (struct mlxc_qparams){MLXC_Q_MXFP8, 8, 32};
    case MLXC_Q_AFFINE:
    default: return (struct mlxc_qparams){MLXC_Q_AFFINE, 4, 64};
    }
}

int mlxc_qparams_check(struct mlxc_qparams q, struct mlxc_err *e)
{
    if ((unsigned)q.mode >= (unsigned)NMODES)
        return mlxc_errf(e, MLXC_EINVAL, "unknown quantization mode %d", (int)q.mode);
    if (q.mode == MLXC_Q_AFFINE) {
        /* MLX: "The requested group size G is not supported. The supported group sizes are 32, 64, and 128." */
        if (q.group_size != 32 && q.group_size != 64 && q.group_size != 128)
            return mlxc_errf(e, MLXC_EINVAL,
                             "group size %d is not supported: supported group sizes are 32, 64, and 128",
                             q.group_size);
        if (q.bits != 2 && q.bits != 3 && q.bits != 4 && q.bits != 5 && q.bits != 6 && q.bits != 8)
            return mlxc_errf(e, MLXC_EINVAL, "%d bits are not supported: supported bits are 2, 3, 4, 5, 6 and 8",
                             q.bits);
        return 0;
    }
    /* MLX: "[quantize] mxfp4 quantization requires group size 32 but got 64." */
    struct mlxc_qparams d = mlxc_qparams_default(q.mode);
    if (q.group_size != d.group_size)
        return mlxc_errf(e, MLXC_EINVAL, "%s quantization requires group size %d but got %d",
                         mlxc_qmode_name(q.mode), d.group_size, q.group_size);
    if (q.bits != d.bits)
        return mlxc_errf(e, MLXC_EINVAL, "%s quantization requires bits to be %d but got %d",
                         mlxc_qmode_name(q.mode), d.bits, q.bits);
    return 0;
}

int mlxc_qmatrix_check(const struct mlxc_qmatrix *m, struct mlxc_err *e)
{
    if (mlxc_qparams_check(m->q, e) < 0)
        return e ? e->code : MLXC_EINVAL;
    if (m->rows < 0 || m->cols < 0)
        return mlxc_errf(e, MLXC_EINVAL, "negative shape (%lld, %lld)", (long long)m->rows, (long long)m->cols);
    if (m->cols % m->q.group_size != 0)
        return mlxc_errf(e, MLXC_EINVAL, "%lld columns are not a multiple of the group size %d",
                         (long long)m->cols, m->q.group_size);
    if (m->q.mode == MLXC_Q_AFFINE) {
        if (m->scale_dtype != MLXC_F32 && m->scale_dtype != MLXC_F16 && m->scale_dtype != MLXC_BF16)
            return mlxc_errf(e, MLXC_EINVAL, "affine scales must be F32, F16 or BF16, not %s",
                             mlxc_dtype_name(m->scale_dtype));
        if (!m->biases)
            return mlxc_errf(e, MLXC_EINVAL, "affine quantization needs biases");
    } else {
        if (m->scale_dtype != MLXC_U8)
            return mlxc_errf(e, MLXC_EINVAL, "%s scales must be U8, not %s", mlxc_qmode_name(m->q.mode),
                             mlxc_dtype_name(m->scale_dtype));
        if (m->biases)
            return mlxc_errf(e, MLXC_EINVAL, "%s quantization has no biases", mlxc_qmode_name(m->q.mode));
    }
    if ((m->rows && m->cols) && (!m->packed || !m->scales))
        return mlxc_errf(e, MLXC_EINVAL, "quantized matrix without packed weights or scales");
    return 0;
}

int mlxc_quantize(const float *w, int64_t rows, int64_t cols, struct mlxc_qparams q, enum mlxc_dtype out_dtype,
                  void *packed, void *scales, void *biases, struct mlxc_err *e)
{
    if (mlxc_qparams_check(q, e) < 0)
        return e ? e->code : MLXC_EINVAL;
    if (rows < 0 || cols < 0)
        return mlxc_errf(e, MLXC_EINVAL, "cannot quantize a matrix of shape (%lld, %lld)", (long long)rows,
                         (long long)cols);
    if (cols % q.group_size != 0)
        /* MLX: "The last dimension of the matrix needs to be divisible by the quantization group size" */
        return mlxc_errf(e, MLXC_EINVAL,
                         "the last dimension of the matrix needs to be divisible by the quantization group size "
                         "%d, but the matrix has shape (%lld, %lld)",
                         q.group_size, (long long)rows, (long long)cols);
    if (out_dtype != MLXC_F32 && out_dtype != MLXC_F16 && out_dtype != MLXC_BF16)
        return mlxc_errf(e, MLXC_EINVAL, "only F32, F16 and BF16 weights can be quantized, not %s",
                         mlxc_dtype_name(out_dtype));
    if (rows == 0 || cols == 0)
        return 0;
    if (!w || !packed || !scales || (q.mode == MLXC_Q_AFFINE && !biases))
        return mlxc_errf(e, MLXC_EINVAL, "quantize needs the weights and the packed, scales and biases buffers");
    for (int64_t i = 0; i < rows * cols; i++) {
        if (!isfinite(w[i]))
            return mlxc_errf(e, MLXC_EINVAL, "cannot quantize the non-finite value %g at (%lld, %lld)",
                             (double)w[i], (long long)(i / cols), (long long)(i % cols));
    }
    if (q.mode == MLXC_Q_AFFINE)
        mlxc_affine_quantize(w, rows, cols, q.bits, q.group_size, out_dtype, packed, scales, biases);
    else
        mlxc_fp_quantize(w, rows, cols, q, out_dtype, packed, scales);
    return 0;
}

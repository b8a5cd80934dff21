/* Quantization modes and their parameters (mlx: ops.cpp quantize checks; mlx_lm utils.py defaults). */
#include <string.h>

#include "quant/quant.h"

static const char *const mode_names[] = {"affine", "mxfp4", "nvfp4", "mxfp8"};

const char *mlxc_qmode_name(enum mlxc_qmode m)
{
    return (unsigned)m < 4 ? mode_names[m] : "?";
}

int mlxc_qmode_parse(const char *s, enum mlxc_qmode *m)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, mode_names[i]) == 0) {
            *m = (enum mlxc_qmode)i;
            return 0;
        }
    }
    return -1;
}

struct mlxc_qparams mlxc_qparams_default(enum mlxc_qmode m)
{
    switch (m) {
    case MLXC_Q_MXFP4: return (struct mlxc_qparams){m, 4, 32};
    case MLXC_Q_NVFP4: return (struct mlxc_qparams){m, 4, 16};
    case MLXC_Q_MXFP8: return (struct mlxc_qparams){m, 8, 32};
    default: return (struct mlxc_qparams){MLXC_Q_AFFINE, 4, 64};
    }
}

int mlxc_qparams_check(struct mlxc_qparams q, struct mlxc_err *e)
{
    switch (q.mode) {
    case MLXC_Q_AFFINE:
        if (q.group_size != 32 && q.group_size != 64 && q.group_size != 128)
            return mlxc_errf(e, MLXC_EINVAL, "affine quantization: group size %d is not supported "
                             "(supported group sizes are 32, 64, and 128)", q.group_size);
        if (q.bits < 2 || q.bits > 8 || q.bits == 7)
            return mlxc_errf(e, MLXC_EINVAL, "affine quantization: %d bits are not supported "
                             "(supported bits are 2, 3, 4, 5, 6 and 8)", q.bits);
        return 0;
    case MLXC_Q_MXFP4:
    case MLXC_Q_NVFP4:
    case MLXC_Q_MXFP8: {
        struct mlxc_qparams d = mlxc_qparams_default(q.mode);
        if (q.group_size != d.group_size)
            return mlxc_errf(e, MLXC_EINVAL, "%s quantization requires group size %d (got %d)", mode_names[q.mode],
                             d.group_size, q.group_size);
        if (q.bits != d.bits)
            return mlxc_errf(e, MLXC_EINVAL, "%s quantization requires bits %d (got %d)", mode_names[q.mode], d.bits,
                             q.bits);
        return 0;
    }
    }
    return mlxc_errf(e, MLXC_EINVAL, "unknown quantization mode %d", (int)q.mode);
}

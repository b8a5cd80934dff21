#include "core/dtype.h"

#include <string.h>

static const struct {
    const char *name;
    size_t size;
} dtypes[MLXC_DTYPE_COUNT] = {
    [MLXC_F64] = {"F64", 8},  [MLXC_F32] = {"F32", 4},         [MLXC_F16] = {"F16", 2},
    [MLXC_BF16] = {"BF16", 2}, [MLXC_I64] = {"I64", 8},        [MLXC_I32] = {"I32", 4},
    [MLXC_I16] = {"I16", 2},  [MLXC_I8] = {"I8", 1},           [MLXC_U64] = {"U64", 8},
    [MLXC_U32] = {"U32", 4},  [MLXC_U16] = {"U16", 2},         [MLXC_U8] = {"U8", 1},
    [MLXC_BOOL] = {"BOOL", 1}, [MLXC_F8_E4M3] = {"F8_E4M3", 1}, [MLXC_F8_E8M0] = {"F8_E8M0", 1},
};

const char *mlxc_dtype_name(enum mlxc_dtype t)
{
    return (unsigned)t < MLXC_DTYPE_COUNT ? dtypes[t].name : "?";
}

size_t mlxc_dtype_size(enum mlxc_dtype t)
{
    return (unsigned)t < MLXC_DTYPE_COUNT ? dtypes[t].size : 0;
}

int mlxc_dtype_parse(const char *s, size_t n, enum mlxc_dtype *t)
{
    for (int i = 0; i < MLXC_DTYPE_COUNT; i++) {
        if (strlen(dtypes[i].name) == n && memcmp(dtypes[i].name, s, n) == 0) {
            *t = (enum mlxc_dtype)i;
            return 0;
        }
    }
    return -1;
}

int mlxc_dtype_is_float(enum mlxc_dtype t)
{
    return t == MLXC_F64 || t == MLXC_F32 || t == MLXC_F16 || t == MLXC_BF16;
}

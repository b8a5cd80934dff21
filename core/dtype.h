/* Element types of safetensors files (the names are the file format's). */
#ifndef MLXC_DTYPE_H
#define MLXC_DTYPE_H

#include <stddef.h>

enum mlxc_dtype {
    MLXC_F64, MLXC_F32, MLXC_F16, MLXC_BF16,
    MLXC_I64, MLXC_I32, MLXC_I16, MLXC_I8,
    MLXC_U64, MLXC_U32, MLXC_U16, MLXC_U8,
    MLXC_BOOL, MLXC_F8_E4M3, MLXC_F8_E8M0,
    MLXC_DTYPE_COUNT
};

/* "F32", "BF16", ...; "?" for an out-of-range value. */
const char *mlxc_dtype_name(enum mlxc_dtype t);
/* Bytes per element. */
size_t mlxc_dtype_size(enum mlxc_dtype t);
/* Parses a safetensors dtype string of length n; returns 0 and sets *t, or -1 if unknown. */
int mlxc_dtype_parse(const char *s, size_t n, enum mlxc_dtype *t);
/* 1 for F64/F32/F16/BF16. */
int mlxc_dtype_is_float(enum mlxc_dtype t);

#endif

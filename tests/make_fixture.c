/* mlxc-fixture NAME DTYPE DIR: writes the fixture model NAME (tests/data/models) as a model folder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/model_fixture.h"

#ifndef MLXC_TEST_DATA_DIR
#define MLXC_TEST_DATA_DIR "tests/data"
#endif

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: mlxc-fixture NAME F32|F16|BF16 DIR\n");
        return 2;
    }
    enum mlxc_dtype t;
    if (mlxc_dtype_parse(argv[2], strlen(argv[2]), &t) != 0 || !mlxc_dtype_is_float(t) || t == MLXC_F64) {
        fprintf(stderr, "mlxc-fixture: error: dtype must be F32, F16 or BF16\n");
        return 2;
    }
    /* the build's test data (BUILD/tests/data, where the compressed tokenizers are unpacked) */
    const char *root = getenv("MLXC_TEST_DATA");
    struct mlxc_err e = {0};
    if (fixture_build(root && *root ? root : MLXC_TEST_DATA_DIR, argv[1], t, argv[3], &e) != 0) {
        fprintf(stderr, "mlxc-fixture: error: %s\n", e.msg);
        return 1;
    }
    return 0;
}

/* mlxc-generate: one-shot generation (mlx_lm.generate) */
#include "cmd/cli.h"

int main(int argc, char **argv)
{
    struct mlxc_opts o;
    int rc = mlxc_cli_parse(&mlxc_cli_generate, argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : rc;
    mlxc_cli_error(&mlxc_cli_generate, "this command is not implemented yet in this build");
    return 1;
}

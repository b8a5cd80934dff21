/* mlxc-tokenize: text to token ids and back */
#include "cmd/cli.h"

int main(int argc, char **argv)
{
    struct mlxc_opts o;
    int rc = mlxc_cli_parse(&mlxc_cli_tokenize, argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : rc;
    mlxc_cli_error(&mlxc_cli_tokenize, "this command is not implemented yet in this build");
    return 1;
}

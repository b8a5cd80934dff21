/* mlxc-chat: terminal chat (mlx_lm.chat) */
#include "cmd/cli.h"

int main(int argc, char **argv)
{
    struct mlxc_opts o;
    int rc = mlxc_cli_parse(&mlxc_cli_chat, argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : rc;
    mlxc_cli_error(&mlxc_cli_chat, "this command is not implemented yet in this build");
    return 1;
}

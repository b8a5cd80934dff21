#include "cmd/sig.h"

#include <string.h>

volatile sig_atomic_t mlxc_interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    if (mlxc_interrupted)
        signal(SIGINT, SIG_DFL), raise(SIGINT);
    mlxc_interrupted = 1;
}

void mlxc_catch_sigint(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGXFSZ, SIG_IGN);
}

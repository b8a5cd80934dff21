/* SIGINT handling shared by the programs: the first Ctrl-C sets a flag the library polls (generation
 * stops cleanly); a second one ends the program. SIGXFSZ is ignored too, so a write past a file-size
 * limit (ulimit -f) fails with EFBIG and becomes one error line, the temporary file removed, instead
 * of killing the program with a core dump. */
#ifndef MLXC_CMD_SIG_H
#define MLXC_CMD_SIG_H

#include <signal.h>

extern volatile sig_atomic_t mlxc_interrupted;
void mlxc_catch_sigint(void);

#endif

#include "core/term.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int mlxc_term_color_parse(const char *when)
{
    if (!when || strcmp(when, "auto") == 0)
        return MLXC_COLOR_AUTO;
    if (strcmp(when, "always") == 0)
        return MLXC_COLOR_ALWAYS;
    if (strcmp(when, "never") == 0)
        return MLXC_COLOR_NEVER;
    return -1;
}

int mlxc_term_interactive(int fd)
{
    const char *term = getenv("TERM");
    if (term && strcmp(term, "dumb") == 0)
        return 0;
    return isatty(fd) == 1;
}

int mlxc_term_use_color(const char *when, int fd)
{
    switch (mlxc_term_color_parse(when)) {
    case MLXC_COLOR_ALWAYS:
        return 1;
    case MLXC_COLOR_NEVER:
        return 0;
    default: {
        const char *no_color = getenv("NO_COLOR");
        if (no_color && *no_color)
            return 0;
        return mlxc_term_interactive(fd);
    }
    }
}

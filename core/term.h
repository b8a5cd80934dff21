/* Terminal conventions shared by the programs and their views: whether to color output and whether to
 * draw in-place lines (progress bars rewritten with '\r').
 *
 * Color follows --color=auto|always|never and https://no-color.org: "always" and "never" are obeyed as
 * given; "auto" colors only a terminal whose TERM is not "dumb", and never when NO_COLOR is set to a
 * non-empty value. In-place lines go only to such a terminal too; pipes and logs get plain lines. */
#ifndef MLXC_TERM_H
#define MLXC_TERM_H

enum mlxc_color_when {
    MLXC_COLOR_AUTO,
    MLXC_COLOR_ALWAYS,
    MLXC_COLOR_NEVER,
};

/* "auto", "always", "never" (NULL is "auto") to the enum; -1 for anything else. */
int mlxc_term_color_parse(const char *when);

/* 1 if output written to file descriptor fd should carry color escapes, 0 if not; `when` as above
 * (an unknown word is read as "auto"). */
int mlxc_term_use_color(const char *when, int fd);

/* 1 if fd is a terminal that can take in-place lines ('\r', cursor movement): a tty whose TERM is not
 * "dumb". 0 for pipes, files and dumb terminals, which get one plain line per update. */
int mlxc_term_interactive(int fd);

#endif

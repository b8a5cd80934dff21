/* Stop strings on the streamed text: text is held back while it could still be the start of a stop
 * string, and a stop string (which may span several tokens) is never emitted. */
#ifndef MLXC_STOP_H
#define MLXC_STOP_H

#include <stddef.h>

#include "core/buf.h"

struct mlxc_stop {
    char *const *strings;   /* NULL-ended list (not owned) */
    struct mlxc_buf pending;
    int matched;            /* a stop string was found: nothing more is emitted */
};

void mlxc_stop_init(struct mlxc_stop *s, char *const *strings);
void mlxc_stop_free(struct mlxc_stop *s);

/* Adds text; appends to out what can be shown now. Returns 1 once a stop string has matched (the text
 * before it is emitted, the rest dropped). */
int mlxc_stop_feed(struct mlxc_stop *s, const char *text, size_t n, struct mlxc_buf *out);

/* At the end: emits whatever is still held back (unless a stop string matched). */
void mlxc_stop_flush(struct mlxc_stop *s, struct mlxc_buf *out);

#endif

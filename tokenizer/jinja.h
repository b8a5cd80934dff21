/* A Jinja2-compatible template engine for chat templates: the language subset real model templates
 * use, rendered byte-for-byte as jinja2 3.1 does inside transformers' ImmutableSandboxedEnvironment
 * (trim_blocks, lstrip_blocks, loopcontrols, the generation tag, tojson as json.dumps,
 * raise_exception and strftime_now).
 *
 * Safe by construction: no file, environment or network access; every render is bounded in steps,
 * call depth, memory and output size, and fails with an error instead of crashing. */
#ifndef MLXC_JINJA_H
#define MLXC_JINJA_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/err.h"

struct mlxc_jinja; /* a compiled template (immutable, shareable between renders) */

/* Compiles template source (UTF-8). Syntax errors read "template line 3, column 5: <message>". */
int mlxc_jinja_compile(const char *src, size_t n, struct mlxc_jinja **out, struct mlxc_err *e);
void mlxc_jinja_free(struct mlxc_jinja *t);

struct mlxc_jinja_limits {
    size_t max_output;     /* bytes of rendered text (also any intermediate string) */
    uint64_t max_steps;    /* statements + expressions evaluated */
    int max_depth;         /* nested macro calls, caller() calls and recursive loops */
    size_t max_memory;     /* bytes of values a render may allocate */
    const struct tm *now;  /* the time strftime_now formats; NULL = the local time at render start */
};

/* 16 MiB output, 20M steps, depth 100, 512 MiB memory, real time. */
void mlxc_jinja_limits_default(struct mlxc_jinja_limits *l);

/* Renders with the variables of ctx_json (a JSON object; NULL for none). *out is malloc'd and
 * NUL-terminated. Runtime errors read "template line 7, column 12: <message>", where the message is
 * jinja2's (e.g. the text passed to raise_exception). limits may be NULL for the defaults. */
int mlxc_jinja_render(const struct mlxc_jinja *t, const char *ctx_json, size_t ctx_len,
                      const struct mlxc_jinja_limits *limits, char **out, size_t *out_len,
                      struct mlxc_err *e);

#endif

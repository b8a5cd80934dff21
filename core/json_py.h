/* JSON text as Python's json.dump(obj, indent=4) writes it (mlx_lm writes config.json and the shard
 * index this way): 4-space indents, ", " and ": " separators, non-ASCII escaped as \uXXXX, floats in
 * their shortest round-trip form. cJSON keeps no int/float distinction: integral values print as ints. */
#ifndef MLXC_JSON_PY_H
#define MLXC_JSON_PY_H

#include <cjson/cJSON.h>

#include "core/buf.h"

/* Appends the JSON of v to b (no trailing newline). sort_top: top-level object keys sorted. */
void mlxc_json_py_dump(struct mlxc_buf *b, const cJSON *v, int sort_top);

#endif

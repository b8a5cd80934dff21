/* Test fixtures: tiny random models whose weights are defined by tests/gen/fixture_weights.py and
 * regenerated here bit for bit (the spot checks in tensors.json prove it), so the references computed
 * by transformers on those exact weights apply to the files built here. */
#ifndef MLXC_TEST_MODEL_FIXTURE_H
#define MLXC_TEST_MODEL_FIXTURE_H

#include "core/dtype.h"
#include "core/err.h"

/* Builds the model folder `dir` (created if needed) from tests/data/models/<name> under data_root (the
 * build's test data, BUILD/tests/data, where the compressed tokenizers are unpacked):
 * config.json, model.safetensors in `dtype` (F32, F16 or BF16) and, when tests/data/tok/<tokenizer>
 * exists, the tokenizer files (an error when only tokenizer.json.gz is there). */
int fixture_build(const char *data_root, const char *name, enum mlxc_dtype dtype, const char *dir,
                  struct mlxc_err *e);

/* The fixture built once per test process (in a temporary folder removed at exit) and shared by every
 * test that asks for the same name and dtype. Returns the folder, or NULL with an error. */
const char *fixture_path(const char *data_root, const char *name, enum mlxc_dtype dtype, struct mlxc_err *e);

/* 1 when $MLXC_TEST_QUICK is set (sanitizer builds): tests skip their slowest cases (the long prompts,
 * repeated variants) and say so. */
int fixture_quick(void);

#endif

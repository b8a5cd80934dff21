/* Resolving --model: a local folder, or a Hugging Face repo id ("org/name") found in a Hugging Face
 * cache already on disk. Nothing is ever downloaded. */
#ifndef MLXC_MODEL_DIR_H
#define MLXC_MODEL_DIR_H

#include "core/err.h"

/* Returns a new string (caller frees) with the folder holding the model's files, or NULL with an error
 * that lists every place it looked. Cache roots, in order: $HF_HUB_CACHE, $HF_HOME/hub,
 * $XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub; inside a root the repo "org/name" lives
 * in models--org--name/snapshots/<commit>, <commit> read from refs/main (or the only snapshot). */
char *mlxc_model_dir_resolve(const char *model, struct mlxc_err *e);

#endif

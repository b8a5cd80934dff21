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

/* The default model, used when no --model is given: the small model this project trains and ships
 * (models/mlxc-tiny, see its README.md). Two places are known at build time (mlxc_paths.h, made by
 * meson): the source tree's models/mlxc-tiny and the installed <prefix>/<datadir>/mlxc/models/mlxc-tiny.
 * A program whose executable lies inside the build tree looks in the source tree first; an installed one
 * looks in the data dir first. The first that holds a config.json wins. Returns a new string (caller
 * frees), or NULL with an error naming both places. */
char *mlxc_default_model_dir(struct mlxc_err *e);

#endif

/* mlx_lm's mixed quantization recipes (convert.py mixed_quant_predicate_builder, facts §3.6): a few
 * sensitive layers get more bits, modelled on llama.cpp's Q4_K_M. */
#ifndef MLXC_RECIPES_H
#define MLXC_RECIPES_H

/* Parses "mixed_2_6" etc. into low/high bits; -1 for an unknown name. */
int mlxc_recipe_parse(const char *name, int *low_bits, int *high_bits);

/* Bits for the module at `path` in a model of n_layers layers. idx_pos is the position of the layer
 * index among the dot-separated components (found from the first path containing "down_proj").
 *   use_more_bits = idx < L/8 or idx >= 7L/8 or (idx - L/8) % 3 == 2
 *   high bits: v_proj / v_a_proj / v_b_proj and down_proj when use_more_bits; lm_head always
 *   low bits: everything else */
int mlxc_recipe_bits(const char *path, int idx_pos, int n_layers, int low_bits, int high_bits);

/* Position of the first numeric component of a path ("model.layers.3.mlp.down_proj" -> 2), or -1. */
int mlxc_recipe_index_pos(const char *path);

#endif

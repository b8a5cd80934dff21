/* Rotary position embeddings as mlx_lm's rope_utils.initialize_rope builds them and mlx's fast.rope
 * applies them:
 *   theta_i = pos * inv_freq_i,  inv_freq_i = base^(-2i/dims)  (scaled per variant)
 *   non-traditional: rotate the pair (x[i], x[i + dims/2]);  traditional: (x[2i], x[2i+1])
 *   out = (a cos - b sin, a sin + b cos); features beyond `dims` pass through. */
#ifndef MLXC_ROPE_H
#define MLXC_ROPE_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"

/* Reads rope_theta and rope_scaling ("type" or "rope_type": default, linear, dynamic, llama3,
 * longrope/su: the long factor; the caller (config.c) adds original_max_position_embeddings and mscale;
 * yarn/deepseek_yarn with its mscale) from a config's args. */
int mlxc_rope_parse(const cJSON *args, float theta_default, struct mlxc_rope_cfg *r, struct mlxc_err *e);

/* inv_freq[0..dims/2): the per-pair angular frequency for a sequence that will reach `seq_len` tokens
 * (only the dynamic variant depends on it). max_pos = config max_position_embeddings. */
void mlxc_rope_inv_freq(const struct mlxc_rope_cfg *r, int dims, int64_t seq_len, int64_t max_pos, float *inv_freq);

/* Rotates x (n_heads, head_dim) in place for position pos, on the first `dims` features of each head. */
void mlxc_rope_apply(float *x, int n_heads, int head_dim, int dims, int64_t pos, const float *inv_freq,
                     int traditional);

#endif

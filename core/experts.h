/* Where the experts of an MoE layer lie in a model's files, whatever the layout (enum mlxc_moe_hf in
 * core/config.h), as strided views that read like mlx_lm's stacked tensors:
 *   mlx_lm (MLX folders)   <block>.<experts>.{gate,up,down}_proj.{weight,scales,biases} [E, out, in...],
 *                          .bias [E, out] (gpt_oss): one tensor each, expert e at offset e * out * in
 *   mixtral / qwen3_moe    <block>.experts.{e}.<name>.{weight,scales,biases}: one tensor per expert,
 *   (Hugging Face)         stacked over e (mlx_lm's sanitize, which also stacks .scales/.biases)
 *   gpt_oss float          experts.gate_up_proj [E, in, 2 out] used as x @ W: gate_proj = its even
 *   (Hugging Face)         columns transposed, up_proj the odd ones; down_proj [E, in, out] transposed;
 *                          gate_up_proj_bias [E, 2 out] split alike, down_proj_bias [E, out]
 *   gpt_oss MXFP4          experts.gate_up_proj_blocks [E, 2 out, in/32, 16] u8, viewed as u32
 *   (Hugging Face)         [E, 2 out, in/8]: even rows -> gate_proj.weight, odd -> up_proj.weight;
 *                          gate_up_proj_scales [E, 2 out, in/32] alike -> .scales; down_proj_blocks and
 *                          _scales as they are (mlx_lm's gpt_oss sanitize; two E2M1 codes a byte, the
 *                          even element in the low nibble, E8M0 scales: MLX's mxfp4 layout)
 * Element (e, r, c) of a view lies at base[e] + r * rs + c * cs bytes. The loader (core/moe.c) points at
 * contiguous experts and copies strided ones; mlxc-convert writes the views as mlx_lm's tensors. */
#ifndef MLXC_EXPERTS_H
#define MLXC_EXPERTS_H

#include "core/config.h"
#include "core/strmap.h"
#include "core/weights.h"

enum mlxc_xproj { MLXC_XP_GATE, MLXC_XP_UP, MLXC_XP_DOWN };
enum mlxc_xpart { MLXC_XT_WEIGHT, MLXC_XT_SCALES, MLXC_XT_BIASES, MLXC_XT_BIAS };

struct mlxc_xview {
    char name[256];                  /* mlx_lm's name, "model.layers.3.mlp.switch_mlp.gate_proj.weight" */
    enum mlxc_dtype dtype;           /* U32 for packed weights (also when read from u8 blocks) */
    int ndim;                        /* 3: [E, R, C]; 2 for .bias: [E, C] with R = 1 */
    int64_t E, R, C;
    const unsigned char **base;      /* E pointers */
    int64_t rs, cs;                  /* row and column strides in bytes */
    int stacked;                     /* a tensor of the files under `name`: mlx_lm's layout already */
    const struct mlxc_tensor **src;  /* the files' tensors it reads */
    int nsrc;
};

/* The view of part `part` of projection `proj` of layer `layer`'s experts. Returns 1 when found, 0 when
 * absent (no such tensors), a negative MLXC_E* for tensors of the wrong shape or dtype. */
int mlxc_xview_get(const struct mlxc_config *c, const struct mlxc_weights *w, int layer, enum mlxc_xproj proj,
                   enum mlxc_xpart part, struct mlxc_xview *v, struct mlxc_err *e);
void mlxc_xview_free(struct mlxc_xview *v);

/* Bytes of one element, and of one expert (R * C elements). */
size_t mlxc_xview_esize(const struct mlxc_xview *v);
size_t mlxc_xview_expert_bytes(const struct mlxc_xview *v);

/* 1 when each expert is R * C contiguous elements at base[e]. */
int mlxc_xview_contiguous(const struct mlxc_xview *v);

/* Expert e's [R, C] elements, row-major, into out (mlxc_xview_expert_bytes bytes). */
void mlxc_xview_gather(const struct mlxc_xview *v, int64_t e, void *out);

/* The stacked tensor's name for (layer, proj, part) into buf: "<block>.<experts>.<proj>_proj.<part>". */
const char *mlxc_xview_name(const struct mlxc_config *c, int layer, enum mlxc_xproj proj, enum mlxc_xpart part,
                            char *buf, size_t cap);

/* ---- mlxc-convert: the views as tensors ---- */

/* The stacked tensors a checkpoint's experts make (its layout is not mlx_lm's), as tensors without data
 * until loaded; the checkpoint's own expert tensors are hidden behind them. */
struct mlxc_vtensors {
    struct mlxc_tensor *t;      /* n tensors: name, dtype, shape, nbytes; data NULL until loaded */
    struct mlxc_xview *v;       /* their views */
    size_t n;
    struct mlxc_strmap names;   /* a virtual tensor's name -> its index; a hidden tensor's name -> -1 */
};

int mlxc_vtensors_make(struct mlxc_vtensors *vt, const struct mlxc_config *c, const struct mlxc_weights *w,
                       struct mlxc_err *e);
void mlxc_vtensors_free(struct mlxc_vtensors *vt);
/* The tensor named `name`: a virtual one, or the files' own unless hidden (NULL). */
const struct mlxc_tensor *mlxc_vtensors_find(const struct mlxc_vtensors *vt, const struct mlxc_weights *w,
                                             const char *name);
/* 1 when the files' tensor `name` is hidden behind a virtual one. */
int mlxc_vtensors_hidden(const struct mlxc_vtensors *vt, const char *name);
/* Gives a virtual tensor its data (a copy of all experts); no-op for the files' own tensors. */
int mlxc_vtensors_load(const struct mlxc_vtensors *vt, const struct mlxc_tensor *t, struct mlxc_err *e);
/* Done with t: a virtual tensor's copy is freed and its sources' pages dropped, a file tensor's pages
 * dropped (mlxc_tensor_release). */
void mlxc_vtensors_release(const struct mlxc_vtensors *vt, const struct mlxc_tensor *t);

#endif

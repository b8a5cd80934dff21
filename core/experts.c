#include "core/experts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const proj_names[] = {"gate_proj", "up_proj", "down_proj"};
static const char *const part_names[] = {"weight", "scales", "biases", "bias"};

const char *mlxc_xview_name(const struct mlxc_config *c, int layer, enum mlxc_xproj proj, enum mlxc_xpart part,
                            char *buf, size_t cap)
{
    snprintf(buf, cap, "model.layers.%d.%s.%s.%s.%s", layer, c->moe_block, c->moe_experts, proj_names[proj],
             part_names[part]);
    return buf;
}

size_t mlxc_xview_esize(const struct mlxc_xview *v)
{
    return mlxc_dtype_size(v->dtype);
}

size_t mlxc_xview_expert_bytes(const struct mlxc_xview *v)
{
    return (size_t)(v->R * v->C) * mlxc_xview_esize(v);
}

int mlxc_xview_contiguous(const struct mlxc_xview *v)
{
    int64_t es = (int64_t)mlxc_xview_esize(v);
    return v->cs == es && (v->R == 1 || v->rs == v->C * es);
}

void mlxc_xview_gather(const struct mlxc_xview *v, int64_t e, void *out)
{
    size_t es = mlxc_xview_esize(v);
    unsigned char *o = out;
    if (mlxc_xview_contiguous(v)) {
        memcpy(o, v->base[e], mlxc_xview_expert_bytes(v));
        return;
    }
    for (int64_t r = 0; r < v->R; r++)
        for (int64_t k = 0; k < v->C; k++, o += es)
            memcpy(o, v->base[e] + r * v->rs + k * v->cs, es);
}

void mlxc_xview_free(struct mlxc_xview *v)
{
    free(v->base);
    free(v->src);
    v->base = NULL;
    v->src = NULL;
}

static int alloc_view(struct mlxc_xview *v, int64_t E, int nsrc, struct mlxc_err *e)
{
    v->E = E;
    v->base = calloc((size_t)E, sizeof *v->base);
    v->src = calloc((size_t)nsrc, sizeof *v->src);
    v->nsrc = nsrc;
    if (!v->base || !v->src) {
        mlxc_xview_free(v);
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    }
    return 0;
}

static int bad_shape(const struct mlxc_tensor *t, const char *want, struct mlxc_err *e)
{
    char got[160];
    return mlxc_errf(e, MLXC_EFORMAT, "tensor '%s': expected %s, got %s %s", t->name, want,
                     mlxc_dtype_name(t->dtype), mlxc_shape_str(t->shape, t->ndim, got, sizeof got));
}

/* mlx_lm's layout: one tensor [E, R, C] (or [E, C] for .bias). */
static int stacked_view(const struct mlxc_config *c, const struct mlxc_tensor *t, enum mlxc_xpart part,
                        struct mlxc_xview *v, struct mlxc_err *e)
{
    int nd = part == MLXC_XT_BIAS ? 2 : 3;
    if (t->ndim != nd || t->shape[0] != c->n_experts)
        return bad_shape(t, part == MLXC_XT_BIAS ? "[experts, out]" : "[experts, out, in]", e);
    int rc = alloc_view(v, c->n_experts, 1, e);
    if (rc)
        return rc;
    v->dtype = t->dtype;
    v->ndim = nd;
    v->R = nd == 3 ? t->shape[1] : 1;
    v->C = t->shape[nd - 1];
    v->cs = (int64_t)mlxc_dtype_size(t->dtype);
    v->rs = v->C * v->cs;
    for (int64_t x = 0; x < v->E; x++)
        v->base[x] = (const unsigned char *)t->data + (size_t)(x * v->R) * (size_t)v->rs;
    v->src[0] = t;
    v->stacked = 1;
    return 0;
}

/* Hugging Face mixtral/qwen3_moe: experts.{e}.<name>.<part>, one tensor per expert. */
static int per_expert_view(const struct mlxc_config *c, const struct mlxc_weights *w, int layer, enum mlxc_xproj proj,
                           enum mlxc_xpart part, struct mlxc_xview *v, struct mlxc_err *e)
{
    char name[300];
    const struct mlxc_tensor *t0 = NULL;
    for (int64_t x = 0; x < c->n_experts; x++) {
        snprintf(name, sizeof name, "model.layers.%d.%s.experts.%lld.%s.%s", layer, c->moe_block, (long long)x,
                 c->moe_hf_names[proj], part_names[part]);
        const struct mlxc_tensor *t = mlxc_weights_get(w, name);
        if (!t && x == 0)
            return 0;
        if (!t)
            return mlxc_errf(e, MLXC_ENOTFOUND, "missing tensor '%s'", name);
        int nd = part == MLXC_XT_BIAS ? 1 : 2;
        if (t->ndim != nd || (t0 && (t->dtype != t0->dtype || memcmp(t->shape, t0->shape, sizeof t->shape) != 0)))
            return bad_shape(t, "the shape and dtype of expert 0's", e);
        if (!t0) {
            int rc = alloc_view(v, c->n_experts, (int)c->n_experts, e);
            if (rc)
                return rc;
            t0 = t;
            v->dtype = t->dtype;
            v->ndim = nd + 1;
            v->R = nd == 2 ? t->shape[0] : 1;
            v->C = t->shape[nd - 1];
            v->cs = (int64_t)mlxc_dtype_size(t->dtype);
            v->rs = v->C * v->cs;
        }
        v->base[x] = t->data;
        v->src[x] = t;
    }
    return 1;
}

/* Hugging Face gpt_oss: gate_up_proj / down_proj (float, transposed) or their MXFP4 _blocks/_scales. */
static int gpt_oss_view(const struct mlxc_config *c, const struct mlxc_weights *w, int layer, enum mlxc_xproj proj,
                        enum mlxc_xpart part, struct mlxc_xview *v, struct mlxc_err *e)
{
    const int gu = proj != MLXC_XP_DOWN, half = proj == MLXC_XP_UP;
    const char *suffix = part == MLXC_XT_BIAS ? "_bias" : part == MLXC_XT_SCALES ? "_scales" : "";
    char name[300];
    if (part == MLXC_XT_BIASES)
        return 0;
    snprintf(name, sizeof name, "model.layers.%d.%s.experts.%s%s", layer, c->moe_block,
             gu ? "gate_up_proj" : "down_proj", suffix);
    const struct mlxc_tensor *t = mlxc_weights_get(w, name);
    int blocks = 0;
    if (!t && part == MLXC_XT_WEIGHT) {
        snprintf(name, sizeof name, "model.layers.%d.%s.experts.%s_blocks", layer, c->moe_block,
                 gu ? "gate_up_proj" : "down_proj");
        t = mlxc_weights_get(w, name);
        blocks = 1;
    }
    if (!t)
        return 0;
    const int64_t E = c->n_experts, m = gu ? 2 : 1; /* gate_up interleaves two projections */
    const int want_nd = part == MLXC_XT_BIAS ? 2 : blocks ? 4 : 3;
    if (t->ndim != want_nd || t->shape[0] != E || (blocks && t->shape[3] != 16) ||
        (blocks || part == MLXC_XT_SCALES ? t->dtype != MLXC_U8 : !mlxc_dtype_is_float(t->dtype)) ||
        (gu && t->shape[part == MLXC_XT_WEIGHT && !blocks ? 2 : 1] % 2))
        return bad_shape(t, blocks ? "U8 [experts, out, in/32, 16]" : part == MLXC_XT_SCALES ? "U8 [experts, out, in/32]"
                         : part == MLXC_XT_BIAS ? "[experts, out]" : "[experts, in, out]", e);
    int rc = alloc_view(v, E, 1, e);
    if (rc)
        return rc;
    v->src[0] = t;
    v->ndim = part == MLXC_XT_BIAS ? 2 : 3;
    v->dtype = blocks ? MLXC_U32 : t->dtype;
    const int64_t es = (int64_t)mlxc_dtype_size(t->dtype);
    const unsigned char *d = t->data;
    int64_t estride; /* bytes per expert in the source */
    if (part == MLXC_XT_WEIGHT && !blocks) {
        /* [E, in, m*out] used as x @ W: row r of the projection is column m*r + half */
        v->R = t->shape[2] / m;
        v->C = t->shape[1];
        v->rs = m * es;
        v->cs = t->shape[2] * es;
        estride = t->shape[1] * t->shape[2] * es;
        d += half * es;
    } else {
        /* [E, m*out, cols...] (blocks: 16 bytes a group of 32 codes, read as 4 u32), or bias [E, m*out] */
        int64_t rowbytes = part == MLXC_XT_BIAS ? es : blocks ? t->shape[2] * 16 : t->shape[2];
        v->R = part == MLXC_XT_BIAS ? 1 : t->shape[1] / m;
        v->C = part == MLXC_XT_BIAS ? t->shape[1] / m : rowbytes / (blocks ? 4 : 1);
        v->cs = part == MLXC_XT_BIAS ? m * es : blocks ? 4 : 1;
        v->rs = m * rowbytes;
        estride = t->shape[1] * rowbytes;
        d += half * rowbytes;
    }
    for (int64_t x = 0; x < E; x++)
        v->base[x] = d + x * estride;
    return 1;
}

int mlxc_xview_get(const struct mlxc_config *c, const struct mlxc_weights *w, int layer, enum mlxc_xproj proj,
                   enum mlxc_xpart part, struct mlxc_xview *v, struct mlxc_err *e)
{
    memset(v, 0, sizeof *v);
    mlxc_xview_name(c, layer, proj, part, v->name, sizeof v->name);
    const struct mlxc_tensor *t = mlxc_weights_get(w, v->name);
    int rc;
    if (t)
        rc = stacked_view(c, t, part, v, e) ? e->code : 1;
    else if (c->moe_hf == MLXC_MOE_HF_GPT_OSS)
        rc = gpt_oss_view(c, w, layer, proj, part, v, e);
    else
        rc = per_expert_view(c, w, layer, proj, part, v, e);
    if (rc < 0)
        mlxc_xview_free(v);
    return rc;
}

/* ---- mlxc-convert ---- */

static int add_virtual(struct mlxc_vtensors *vt, struct mlxc_xview *v, struct mlxc_err *e)
{
    struct mlxc_tensor *t = realloc(vt->t, (vt->n + 1) * sizeof *t);
    if (t)
        vt->t = t;
    struct mlxc_xview *vv = t ? realloc(vt->v, (vt->n + 1) * sizeof *vv) : NULL;
    if (vv)
        vt->v = vv;
    char *name = vv ? strdup(v->name) : NULL;
    if (!name || mlxc_strmap_put(&vt->names, v->name, strlen(v->name), (int64_t)vt->n) < 0) {
        free(name);
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    }
    struct mlxc_tensor *n = &vt->t[vt->n];
    memset(n, 0, sizeof *n);
    n->name = name;
    n->dtype = v->dtype;
    n->ndim = v->ndim;
    n->shape[0] = v->E;
    n->shape[1] = v->ndim == 3 ? v->R : v->C;
    n->shape[2] = v->C;
    n->nbytes = mlxc_xview_expert_bytes(v) * (size_t)v->E;
    vt->v[vt->n++] = *v;
    for (int i = 0; i < v->nsrc; i++)
        if (mlxc_strmap_put(&vt->names, v->src[i]->name, strlen(v->src[i]->name), -1) < 0)
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    return 0;
}

int mlxc_vtensors_make(struct mlxc_vtensors *vt, const struct mlxc_config *c, const struct mlxc_weights *w,
                       struct mlxc_err *e)
{
    memset(vt, 0, sizeof *vt);
    mlxc_strmap_init(&vt->names);
    for (int l = 0; c->layer_moe && l < c->n_layers; l++) {
        if (!c->layer_moe[l])
            continue;
        for (int p = 0; p < 3; p++)
            for (int k = 0; k < 4; k++) {
                struct mlxc_xview v;
                int rc = mlxc_xview_get(c, w, l, (enum mlxc_xproj)p, (enum mlxc_xpart)k, &v, e);
                if (rc < 0)
                    return rc;
                if (rc && v.stacked)
                    mlxc_xview_free(&v);
                else if (rc && (rc = add_virtual(vt, &v, e)) != 0) {
                    mlxc_xview_free(&v);
                    return rc;
                }
            }
    }
    return 0;
}

void mlxc_vtensors_free(struct mlxc_vtensors *vt)
{
    for (size_t i = 0; i < vt->n; i++) {
        free((void *)vt->t[i].name);
        free((void *)vt->t[i].data);
        mlxc_xview_free(&vt->v[i]);
    }
    free(vt->t);
    free(vt->v);
    mlxc_strmap_free(&vt->names);
    memset(vt, 0, sizeof *vt);
}

static int64_t index_of(const struct mlxc_vtensors *vt, const char *name)
{
    int64_t k;
    return mlxc_strmap_get(&vt->names, name, strlen(name), &k) ? k : -2;
}

const struct mlxc_tensor *mlxc_vtensors_find(const struct mlxc_vtensors *vt, const struct mlxc_weights *w,
                                             const char *name)
{
    int64_t k = index_of(vt, name);
    return k >= 0 ? &vt->t[k] : k == -1 ? NULL : mlxc_weights_get(w, name);
}

int mlxc_vtensors_hidden(const struct mlxc_vtensors *vt, const char *name)
{
    return index_of(vt, name) == -1;
}

static int64_t virtual_index(const struct mlxc_vtensors *vt, const struct mlxc_tensor *t)
{
    return t && vt->n && t >= vt->t && t < vt->t + vt->n ? t - vt->t : -1;
}

int mlxc_vtensors_load(const struct mlxc_vtensors *vt, const struct mlxc_tensor *t, struct mlxc_err *e)
{
    int64_t k = virtual_index(vt, t);
    if (k < 0 || t->data)
        return 0;
    const struct mlxc_xview *v = &vt->v[k];
    size_t n = mlxc_xview_expert_bytes(v);
    unsigned char *buf = malloc(n * (size_t)v->E + 1);
    if (!buf)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory for '%s'", t->name);
    for (int64_t x = 0; x < v->E; x++)
        mlxc_xview_gather(v, x, buf + (size_t)x * n);
    vt->t[k].data = buf;
    return 0;
}

void mlxc_vtensors_release(const struct mlxc_vtensors *vt, const struct mlxc_tensor *t)
{
    int64_t k = virtual_index(vt, t);
    if (k < 0) {
        mlxc_tensor_release(t);
        return;
    }
    free((void *)vt->t[k].data);
    vt->t[k].data = NULL;
    for (int i = 0; i < vt->v[k].nsrc; i++)
        mlxc_tensor_release(vt->v[k].src[i]);
}

#include "core/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/half.h"

/* A norm's weight (and bias for LayerNorm) under `prefix` ("model.layers.3.input_layernorm"). Gemma's
 * (1 + w) is folded in here, rounded to the file's dtype as mlx computes `1.0 + weight` in it. */
static int load_norm(const struct mlxc_model *m, const char *prefix, int64_t n, float **w, float **b,
                     struct mlxc_err *e)
{
    char name[300];
    snprintf(name, sizeof name, "%s.weight", prefix);
    if (!(*w = mlxc_load_vector(m->weights, name, n, e)))
        return e->code;
    if (m->cfg.norm == MLXC_NORM_RMS_PLUS_ONE) {
        enum mlxc_dtype dt = mlxc_weights_get(m->weights, name)->dtype;
        for (int64_t i = 0; i < n; i++) {
            float v = 1.0f + (*w)[i];
            (*w)[i] = dt == MLXC_BF16 ? mlxc_bf16_to_f32(mlxc_f32_to_bf16(v))
                      : dt == MLXC_F16 ? mlxc_f16_to_f32(mlxc_f32_to_f16(v)) : v;
        }
    }
    if (m->cfg.norm == MLXC_NORM_LAYER) {
        snprintf(name, sizeof name, "%s.bias", prefix);
        if (!(*b = mlxc_load_vector(m->weights, name, n, e)))
            return e->code;
    }
    return 0;
}

static int load_layer(struct mlxc_model *m, int i, struct mlxc_err *e)
{
    const struct mlxc_config *c = &m->cfg;
    const struct mlxc_weights *w = m->weights;
    struct mlxc_layer *L = &m->layers[i];
    int64_t D = c->hidden_size, hd = c->head_dim, I = c->intermediate_size;
    int64_t qdim = c->n_heads * hd, kvdim = c->n_kv_heads * hd;
    char p[256];
    int rc = 0;
#define LINEAR(field, name, rows, cols, bias)                                              \
    if (!rc) {                                                                             \
        snprintf(p, sizeof p, "model.layers.%d.%s", i, name);                              \
        rc = mlxc_linear_load(&L->field, w, c, p, rows, cols, bias, e);                    \
    }
#define NORM(field, bias, name, n)                                                         \
    if (!rc) {                                                                             \
        snprintf(p, sizeof p, "model.layers.%d.%s", i, name);                              \
        rc = load_norm(m, p, n, &L->field, bias, e);                                       \
    }
    if (c->fused_qkv) {
        LINEAR(wq, "self_attn.qkv_proj", qdim + 2 * kvdim, D, c->q_bias)
    } else {
        LINEAR(wq, "self_attn.q_proj", qdim, D, c->q_bias)
        LINEAR(wk, "self_attn.k_proj", kvdim, D, c->k_bias)
        LINEAR(wv, "self_attn.v_proj", kvdim, D, c->v_bias)
    }
    LINEAR(wo, "self_attn.o_proj", D, qdim, c->o_bias)
    if (!rc && c->attn_sinks) {
        snprintf(p, sizeof p, "model.layers.%d.self_attn.sinks", i);
        if (!(L->sinks = mlxc_load_vector(w, p, c->n_heads, e)))
            rc = e->code;
    }
    if (c->layer_moe && c->layer_moe[i]) {
        if (!rc && !(L->moe = calloc(1, sizeof *L->moe)))
            rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        if (!rc)
            rc = mlxc_moe_load(L->moe, w, c, i, e);
    } else if (!c->mlp_gated) {
        LINEAR(up, "mlp.c_fc", I, D, c->mlp_bias)
        LINEAR(down, "mlp.c_proj", D, I, c->mlp_bias)
    } else if (c->fused_gate_up) {
        LINEAR(gate, "mlp.gate_up_proj", 2 * I, D, c->mlp_bias)
        LINEAR(down, "mlp.down_proj", D, I, c->mlp_bias)
    } else {
        LINEAR(gate, "mlp.gate_proj", I, D, c->mlp_bias)
        LINEAR(up, "mlp.up_proj", I, D, c->mlp_bias)
        LINEAR(down, "mlp.down_proj", D, I, c->mlp_bias)
    }
    if (c->pre_norms && c->post_norms) { /* gemma's four norms */
        NORM(attn_norm, &L->attn_norm_b, "input_layernorm", D)
        NORM(attn_post_norm, NULL, "post_attention_layernorm", D)
        NORM(mlp_norm, &L->mlp_norm_b, "pre_feedforward_layernorm", D)
        NORM(mlp_post_norm, NULL, "post_feedforward_layernorm", D)
    } else if (c->post_norms) { /* olmo2 */
        NORM(attn_post_norm, NULL, "post_attention_layernorm", D)
        NORM(mlp_post_norm, NULL, "post_feedforward_layernorm", D)
    } else {
        NORM(attn_norm, &L->attn_norm_b, "input_layernorm", D)
        NORM(mlp_norm, &L->mlp_norm_b, "post_attention_layernorm", D)
    }
    if (c->qk_norm) {
        int full = c->qk_norm == MLXC_QK_FULL_WIDTH;
        NORM(q_norm, NULL, "self_attn.q_norm", full ? qdim : hd)
        NORM(k_norm, NULL, "self_attn.k_norm", full ? kvdim : hd)
    }
#undef LINEAR
#undef NORM
    return rc;
}

/* Notes the first vector with a NaN or Inf (see nonfinite in model.h). */
static void check_finite(struct mlxc_model *m, const float *v, int64_t n, const char *fmt, int layer)
{
    if (!v || m->nonfinite[0])
        return;
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i])) {
            snprintf(m->nonfinite, sizeof m->nonfinite, fmt, layer);
            return;
        }
}

static void check_vectors(struct mlxc_model *m)
{
    const struct mlxc_config *c = &m->cfg;
    check_finite(m, m->final_norm, c->hidden_size, "model.norm.weight", 0);
    for (int i = 0; i < c->n_layers; i++) {
        const struct mlxc_layer *L = &m->layers[i];
        check_finite(m, L->attn_norm, c->hidden_size, "model.layers.%d.input_layernorm.weight", i);
        check_finite(m, L->mlp_norm, c->hidden_size, "model.layers.%d.post_attention_layernorm.weight", i);
        check_finite(m, L->q_norm, c->head_dim, "model.layers.%d.self_attn.q_norm.weight", i);
        check_finite(m, L->k_norm, c->head_dim, "model.layers.%d.self_attn.k_norm.weight", i);
        check_finite(m, L->sinks, c->n_heads, "model.layers.%d.self_attn.sinks", i);
        const struct mlxc_linear *lin[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        static const char *const names[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                            "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"};
        for (int k = 0; k < 7; k++) {
            char fmt[96];
            snprintf(fmt, sizeof fmt, "model.layers.%%d.%s.bias", names[k]);
            check_finite(m, lin[k]->bias, lin[k]->rows, fmt, i);
        }
    }
}

static void free_layer(struct mlxc_layer *L)
{
    struct mlxc_linear *lin[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
    for (size_t i = 0; i < sizeof lin / sizeof lin[0]; i++)
        mlxc_linear_free(lin[i]);
    float *v[] = {L->attn_norm, L->mlp_norm, L->attn_post_norm, L->mlp_post_norm, L->attn_norm_b, L->mlp_norm_b,
                  L->q_norm, L->k_norm, L->sinks};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        free(v[i]);
    if (L->moe)
        mlxc_moe_free(L->moe);
    free(L->moe);
}

int mlxc_model_open(const char *dir, struct mlxc_model **out, struct mlxc_err *e)
{
    *out = NULL;
    struct mlxc_model *m = calloc(1, sizeof *m);
    if (!m || !(m->dir = strdup(dir))) {
        free(m);
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    }
    int rc = mlxc_config_load(dir, &m->cfg, e);
    if (!rc)
        rc = mlxc_weights_open(dir, &m->weights, e);
    if (!rc)
        mlxc_weights_willneed(m->weights);
    if (!rc && m->cfg.tie_from_weights)
        m->cfg.tie_word_embeddings = !mlxc_weights_get(m->weights, "lm_head.weight");
    const struct mlxc_config *c = &m->cfg;
    if (!rc)
        rc = mlxc_linear_load(&m->embed, m->weights, c, "model.embed_tokens", c->vocab_size, c->hidden_size, 0, e);
    if (!rc) {
        if (c->tie_word_embeddings)
            m->lm_head = m->embed;
        else
            rc = mlxc_linear_load(&m->lm_head, m->weights, c, "lm_head", c->vocab_size, c->hidden_size, 0, e);
    }
    if (!rc)
        rc = load_norm(m, "model.norm", c->hidden_size, &m->final_norm, &m->final_norm_b, e);
    if (!rc && !(m->layers = calloc((size_t)c->n_layers, sizeof *m->layers)))
        rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    for (int i = 0; !rc && i < c->n_layers; i++)
        rc = load_layer(m, i, e);
    if (!rc)
        check_vectors(m);
    if (rc) {
        mlxc_err_ctx(e, "loading model '%s'", dir);
        mlxc_model_close(m);
        return rc;
    }
    *out = m;
    return 0;
}

void mlxc_model_close(struct mlxc_model *m)
{
    if (!m)
        return;
    if (m->layers)
        for (int i = 0; i < m->cfg.n_layers; i++)
            free_layer(&m->layers[i]);
    free(m->layers);
    free(m->final_norm);
    free(m->final_norm_b);
    mlxc_linear_free(&m->embed);
    if (!m->cfg.tie_word_embeddings)
        mlxc_linear_free(&m->lm_head);
    mlxc_weights_close(m->weights);
    mlxc_config_free(&m->cfg);
    free(m->dir);
    free(m);
}

/* 2 per multiply-add: a linear layer is rows x cols of them per token. */
static double linear_flops(const struct mlxc_linear *l) { return 2.0 * (double)l->rows * (double)l->cols; }

double mlxc_model_prompt_flops(const struct mlxc_model *m, int64_t p)
{
    const struct mlxc_config *c = &m->cfg;
    double per_token = 0;
    for (int i = 0; i < c->n_layers; i++) {
        const struct mlxc_layer *L = &m->layers[i];
        const struct mlxc_linear *lin[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        for (size_t k = 0; k < sizeof lin / sizeof lin[0]; k++)
            per_token += linear_flops(lin[k]);
        if (L->moe) { /* the router, and top_k experts of the average size */
            double experts = 0;
            for (int q = 0; q < 3; q++)
                for (int64_t x = 0; x < L->moe->n_experts; x++)
                    experts += linear_flops(&L->moe->proj[q][x]);
            per_token += linear_flops(&L->moe->router) + experts / (double)L->moe->n_experts * (double)c->top_k;
        }
    }
    /* causal attention: token t scores t + 1 keys and sums as many values, per head and dimension */
    const double keys = (double)p * (double)(p + 1) / 2.0;
    const double attention = 2.0 * 2.0 * keys * (double)c->n_heads * (double)c->head_dim * (double)c->n_layers;
    return per_token * (double)p + attention + linear_flops(&m->lm_head);
}

uint64_t mlxc_model_decode_bytes(const struct mlxc_model *m)
{
    uint64_t n = mlxc_linear_nbytes(&m->lm_head) + mlxc_linear_nbytes(&m->embed) / (uint64_t)m->embed.rows;
    for (int i = 0; i < m->cfg.n_layers; i++) {
        const struct mlxc_layer *L = &m->layers[i];
        const struct mlxc_linear *lin[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        for (size_t k = 0; k < sizeof lin / sizeof lin[0]; k++)
            n += mlxc_linear_nbytes(lin[k]);
        if (L->moe) /* only the top_k experts a token is routed to */
            n += mlxc_moe_decode_bytes(L->moe, m->cfg.top_k);
    }
    return n;
}

#include "core/config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/family.h"
#include "core/sys.h"

/* Caps checked before anything is sized from a config: far above any real model, far below what would
 * overflow or exhaust memory. */
#define CAP_HIDDEN (1 << 17)
#define CAP_LAYERS 1024
#define CAP_HEADS 1024
#define CAP_HEAD_DIM 1024
#define CAP_INTERMEDIATE (1 << 20)
#define CAP_VOCAB (1 << 23)
#define CAP_EXPERTS 1024

int mlxc_cfg_int(const cJSON *args, const char *key, int64_t def, int64_t *out, struct mlxc_err *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, key);
    if (!v || cJSON_IsNull(v)) {
        *out = def;
        return 0;
    }
    double d = v->valuedouble;
    if (!cJSON_IsNumber(v) || d != floor(d) || fabs(d) > 9007199254740992.0)
        return mlxc_errf(e, MLXC_EFORMAT, "'%s' is not an integer", key);
    *out = (int64_t)d;
    return 0;
}

int mlxc_cfg_int_req(const cJSON *args, const char *key, int64_t *out, struct mlxc_err *e)
{
    if (!cJSON_GetObjectItemCaseSensitive(args, key))
        return mlxc_errf(e, MLXC_EFORMAT, "missing '%s'", key);
    return mlxc_cfg_int(args, key, 0, out, e);
}

int mlxc_cfg_float(const cJSON *args, const char *key, double def, float *out, struct mlxc_err *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, key);
    if (!v || cJSON_IsNull(v)) {
        *out = (float)def;
        return 0;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return mlxc_errf(e, MLXC_EFORMAT, "'%s' is not a number", key);
    *out = (float)v->valuedouble;
    return 0;
}

int mlxc_cfg_bool(const cJSON *args, const char *key, int def, int *out, struct mlxc_err *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, key);
    if (!v || cJSON_IsNull(v)) {
        *out = def;
        return 0;
    }
    if (!cJSON_IsBool(v))
        return mlxc_errf(e, MLXC_EFORMAT, "'%s' is not true or false", key);
    *out = cJSON_IsTrue(v);
    return 0;
}

/* eos_token_id: an int or a list of ints. Returns the count read, or a negative error. */
static int read_eos(const cJSON *v, int32_t *ids, int cap, const char *where, struct mlxc_err *e)
{
    if (cJSON_IsNumber(v)) {
        ids[0] = (int32_t)v->valueint;
        return 1;
    }
    if (!cJSON_IsArray(v))
        return mlxc_errf(e, MLXC_EFORMAT, "%s: 'eos_token_id' is neither an integer nor a list", where);
    int n = 0;
    for (const cJSON *x = v->child; x; x = x->next) {
        if (!cJSON_IsNumber(x))
            return mlxc_errf(e, MLXC_EFORMAT, "%s: 'eos_token_id' holds a non-integer", where);
        if (n < cap)
            ids[n++] = (int32_t)x->valueint;
    }
    return n;
}

static int parse_qparams(const cJSON *obj, struct mlxc_qparams def, struct mlxc_qparams *q, struct mlxc_err *e)
{
    *q = def;
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(obj, "mode");
    if (cJSON_IsString(mode) && mlxc_qmode_parse(mode->valuestring, &q->mode) != 0)
        return mlxc_errf(e, MLXC_EUNSUP, "unknown quantization mode '%s'", mode->valuestring);
    if (cJSON_IsString(mode) && q->mode != def.mode)
        *q = mlxc_qparams_default(q->mode);
    int64_t gs, bits;
    int rc = mlxc_cfg_int(obj, "group_size", q->group_size, &gs, e);
    if (!rc)
        rc = mlxc_cfg_int(obj, "bits", q->bits, &bits, e);
    if (rc)
        return rc;
    q->group_size = (int)gs;
    q->bits = (int)bits;
    return mlxc_qparams_check(*q, e);
}

/* config["quantization"] (or the legacy "quantization_config" forms mlx_lm understands). */
static int parse_quant(const cJSON *root, struct mlxc_quant_cfg *qc, struct mlxc_err *e)
{
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(root, "quantization");
    struct mlxc_qparams def = mlxc_qparams_default(MLXC_Q_AFFINE);
    if (!cJSON_IsObject(q)) {
        const cJSON *legacy = cJSON_GetObjectItemCaseSensitive(root, "quantization_config");
        if (!cJSON_IsObject(legacy))
            return 0;
        const cJSON *method = cJSON_GetObjectItemCaseSensitive(legacy, "quant_method");
        if (cJSON_IsString(method) && strcmp(method->valuestring, "mxfp4") == 0) {
            qc->present = 1;
            qc->q = (struct mlxc_qparams){MLXC_Q_MXFP4, 4, 32};
            return 0;
        }
        if (cJSON_IsString(method))
            return mlxc_errf(e, MLXC_EUNSUP, "'quantization_config' method '%s' is not supported", method->valuestring);
        q = legacy; /* an mlx-style dict written under the legacy key */
    }
    int rc = parse_qparams(q, def, &qc->q, e);
    if (rc)
        return mlxc_err_ctx(e, "'quantization'");
    qc->present = 1;
    for (const cJSON *c = q->child; c; c = c->next) {
        if (!cJSON_IsObject(c) && !cJSON_IsFalse(c))
            continue;
        struct mlxc_quant_layer *nl = realloc(qc->layers, (qc->nlayers + 1) * sizeof *nl);
        if (!nl)
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        qc->layers = nl;
        struct mlxc_quant_layer *l = &qc->layers[qc->nlayers];
        memset(l, 0, sizeof *l);
        if (!(l->path = strdup(c->string)))
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        qc->nlayers++;
        if (cJSON_IsFalse(c))
            continue;
        l->quantized = 1;
        /* a per-layer dict is passed to to_quantized as it is: no "mode" means affine (mlx's default),
         * so gpt-oss's 8-bit router stays affine in an mxfp4 model */
        if ((rc = parse_qparams(c, def, &l->q, e)) != 0)
            return mlxc_err_ctx(e, "'quantization' entry '%s'", c->string);
    }
    return 0;
}

int mlxc_config_quant_for(const struct mlxc_config *c, const char *path, struct mlxc_qparams *q)
{
    for (size_t i = 0; i < c->quant.nlayers; i++) {
        if (strcmp(c->quant.layers[i].path, path) == 0) {
            *q = c->quant.layers[i].q;
            return c->quant.layers[i].quantized;
        }
    }
    *q = c->quant.q;
    return c->quant.present;
}

static int check_dims(const struct mlxc_config *c, struct mlxc_err *e)
{
    struct {
        const char *name;
        int64_t v, cap;
    } dims[] = {
        {"hidden_size", c->hidden_size, CAP_HIDDEN},
        {"num_hidden_layers", c->n_layers, CAP_LAYERS},
        {"intermediate_size", c->intermediate_size, CAP_INTERMEDIATE},
        {"num_attention_heads", c->n_heads, CAP_HEADS},
        {"num_key_value_heads", c->n_kv_heads, CAP_HEADS},
        {"head_dim", c->head_dim, CAP_HEAD_DIM},
        {"vocab_size", c->vocab_size, CAP_VOCAB},
    };
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
        if (dims[i].v < 1 || dims[i].v > dims[i].cap)
            return mlxc_errf(e, MLXC_EFORMAT, "'%s' is %lld, outside 1..%lld", dims[i].name, (long long)dims[i].v,
                             (long long)dims[i].cap);
    if (c->n_heads % c->n_kv_heads)
        return mlxc_errf(e, MLXC_EFORMAT, "'num_attention_heads' (%lld) is not a multiple of 'num_key_value_heads' (%lld)",
                         (long long)c->n_heads, (long long)c->n_kv_heads);
    if (c->head_dim % 2)
        return mlxc_errf(e, MLXC_EFORMAT, "head_dim %lld is odd", (long long)c->head_dim);
    if (c->layer_moe) {
        if (c->n_experts < 1 || c->n_experts > CAP_EXPERTS)
            return mlxc_errf(e, MLXC_EFORMAT, "%lld experts, outside 1..%d", (long long)c->n_experts, CAP_EXPERTS);
        if (c->top_k < 1 || c->top_k > c->n_experts)
            return mlxc_errf(e, MLXC_EFORMAT, "'num_experts_per_tok' is %lld, outside 1..%lld", (long long)c->top_k,
                             (long long)c->n_experts);
        if (c->moe_intermediate < 1 || c->moe_intermediate > CAP_INTERMEDIATE)
            return mlxc_errf(e, MLXC_EFORMAT, "expert width %lld, outside 1..%d", (long long)c->moe_intermediate,
                             CAP_INTERMEDIATE);
    }
    return 0;
}

/* The keys every family shares; family hooks fill in the rest. */
static int parse_common(struct mlxc_config *c, struct mlxc_err *e)
{
    const cJSON *a = c->args;
    int rc = 0;
    if (!rc) rc = mlxc_cfg_int_req(a, "hidden_size", &c->hidden_size, e);
    if (!rc) rc = mlxc_cfg_int_req(a, "num_hidden_layers", &c->n_layers, e);
    if (!rc) rc = mlxc_cfg_int_req(a, "intermediate_size", &c->intermediate_size, e);
    if (!rc) rc = mlxc_cfg_int_req(a, "num_attention_heads", &c->n_heads, e);
    if (!rc) rc = mlxc_cfg_int(a, "num_key_value_heads", c->n_heads, &c->n_kv_heads, e);
    if (!rc) rc = mlxc_cfg_int_req(a, "vocab_size", &c->vocab_size, e);
    if (!rc) rc = mlxc_cfg_int(a, "max_position_embeddings", 0, &c->max_position_embeddings, e);
    if (!rc) rc = mlxc_cfg_float(a, "rms_norm_eps", 1e-6, &c->norm_eps, e);
    /* the llama block; families change what differs */
    c->norm = MLXC_NORM_RMS;
    c->act = MLXC_ACT_SILU;
    c->mlp_gated = 1;
    c->pre_norms = 1;
    return rc;
}

int mlxc_config_layer_arrays(struct mlxc_config *c, struct mlxc_err *e)
{
    if (c->n_layers < 1 || c->n_layers > CAP_LAYERS)
        return mlxc_errf(e, MLXC_EFORMAT, "'num_hidden_layers' is %lld, outside 1..%d", (long long)c->n_layers,
                         CAP_LAYERS);
    if (!c->layer_sliding && !(c->layer_sliding = calloc((size_t)c->n_layers, 1)))
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    if (!c->layer_rope) {
        if (!(c->layer_rope = malloc((size_t)c->n_layers)))
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        memset(c->layer_rope, 1, (size_t)c->n_layers);
    }
    return 0;
}

/* Derived values and checks once the family hook ran. */
static int finish(struct mlxc_config *c, struct mlxc_err *e)
{
    if (!c->rope_dims)
        c->rope_dims = c->head_dim;
    if (c->rope_dims < 2 || c->rope_dims > c->head_dim || c->rope_dims % 2)
        return mlxc_errf(e, MLXC_EFORMAT, "rotary dimensions %lld do not fit head_dim %lld", (long long)c->rope_dims,
                         (long long)c->head_dim);
    if (c->attn_scale == 0.0f)
        c->attn_scale = (float)(1.0 / sqrt((double)c->head_dim));
    if (c->rope.type == MLXC_ROPE_SU) {
        /* mlx_lm SuScaledRoPE: mscale = sqrt(1 + ln f / ln orig), f = max_pos / orig, when f > 1 */
        if (!c->rope.original_max_pos) {
            int64_t orig;
            int rc = mlxc_cfg_int(c->args, "original_max_position_embeddings", 4096, &orig, e);
            if (rc)
                return rc;
            c->rope.original_max_pos = orig;
        }
        if (c->rope.original_max_pos < 2)
            return mlxc_errf(e, MLXC_EFORMAT, "'original_max_position_embeddings' must be at least 2");
        if (c->rope.mscale == 0.0f) {
            double f = (double)c->max_position_embeddings / (double)c->rope.original_max_pos;
            c->rope.mscale = f <= 1.0 ? 1.0f : (float)sqrt(1.0 + log(f) / log((double)c->rope.original_max_pos));
        }
        if (c->rope.n_factors != c->rope_dims / 2)
            return mlxc_errf(e, MLXC_EFORMAT, "'rope_scaling': 'long_factor' has %d entries, expected %lld",
                             c->rope.n_factors, (long long)c->rope_dims / 2);
    }
    if (c->layer_sliding && c->sliding_window < 1)
        for (int64_t i = 0; i < c->n_layers; i++)
            if (c->layer_sliding[i])
                return mlxc_errf(e, MLXC_EFORMAT, "'sliding_window' is %lld", (long long)c->sliding_window);
    return 0;
}

int mlxc_config_parse(const char *json, const char *generation_json, const char *label, struct mlxc_config *c,
                      struct mlxc_err *e)
{
    memset(c, 0, sizeof *c);
    c->root = cJSON_Parse(json);
    int rc = 0;
    if (!c->root || !cJSON_IsObject(c->root)) {
        rc = mlxc_errf(e, MLXC_EFORMAT, "'%s' is not a valid JSON object", label);
        goto fail;
    }
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(c->root, "text_config");
    c->args = cJSON_IsObject(text) ? text : c->root;
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(c->root, "model_type");
    if (!cJSON_IsString(mt))
        mt = cJSON_GetObjectItemCaseSensitive(c->args, "model_type");
    if (!cJSON_IsString(mt)) {
        rc = mlxc_errf(e, MLXC_EFORMAT, "'%s' has no 'model_type'", label);
        goto fail;
    }
    if (!(c->model_type = strdup(mt->valuestring))) {
        rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        goto fail;
    }
    c->family = mlxc_family_find(c->model_type);
    if (!c->family) {
        char list[512];
        rc = mlxc_errf(e, MLXC_EUNSUP, "model type '%s' is not supported (supported: %s)", c->model_type,
                       mlxc_family_list(list, sizeof list));
        goto fail;
    }
    if ((rc = parse_common(c, e)) != 0 || (rc = c->family->parse_config(c, e)) != 0 ||
        (rc = check_dims(c, e)) != 0 || (rc = finish(c, e)) != 0 || (rc = parse_quant(c->root, &c->quant, e)) != 0) {
        mlxc_err_ctx(e, "'%s'", label);
        goto fail;
    }
    const cJSON *eos = cJSON_GetObjectItemCaseSensitive(c->root, "eos_token_id");
    if (!eos)
        eos = cJSON_GetObjectItemCaseSensitive(c->args, "eos_token_id");
    if (eos && !cJSON_IsNull(eos) && (rc = read_eos(eos, c->eos_ids, 32, label, e)) < 0)
        goto fail;
    c->n_eos = eos && !cJSON_IsNull(eos) ? rc : 0;
    rc = 0;
    if (generation_json) {
        /* generation_config.json's eos_token_id overrides when present and truthy (mlx_lm load_config) */
        cJSON *g = cJSON_Parse(generation_json);
        const cJSON *geos = g ? cJSON_GetObjectItemCaseSensitive(g, "eos_token_id") : NULL;
        int truthy = geos && ((cJSON_IsNumber(geos)) || (cJSON_IsArray(geos) && cJSON_GetArraySize(geos) > 0));
        if (truthy) {
            int n = read_eos(geos, c->eos_ids, 32, "generation_config.json", e);
            if (n < 0) {
                cJSON_Delete(g);
                rc = n;
                goto fail;
            }
            c->n_eos = n;
        }
        cJSON_Delete(g);
    }
    return 0;
fail:
    mlxc_config_free(c);
    return rc;
}

int mlxc_config_load(const char *dir, struct mlxc_config *c, struct mlxc_err *e)
{
    char *path = mlxc_path_join(dir, "config.json");
    char *gpath = mlxc_path_join(dir, "generation_config.json");
    if (!path || !gpath) {
        free(path);
        free(gpath);
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    }
    char *json = mlxc_read_file(path, 16u << 20, NULL, e);
    char *gen = json && mlxc_path_exists(gpath) ? mlxc_read_file(gpath, 16u << 20, NULL, NULL) : NULL;
    int rc = json ? mlxc_config_parse(json, gen, path, c, e) : e->code;
    free(json);
    free(gen);
    free(path);
    free(gpath);
    return rc;
}

void mlxc_config_free(struct mlxc_config *c)
{
    cJSON_Delete(c->root);
    free(c->model_type);
    for (size_t i = 0; i < c->quant.nlayers; i++)
        free(c->quant.layers[i].path);
    free(c->quant.layers);
    free(c->layer_sliding);
    free(c->layer_rope);
    free(c->layer_moe);
    memset(c, 0, sizeof *c);
}

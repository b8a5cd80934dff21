#include "core/moe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/experts.h"
#include "core/forward.h"
#include "core/half.h"
#include "core/ops.h"

/* ---- loading ---- */

/* n values of a float dtype to f32. */
static void to_f32(const unsigned char *src, enum mlxc_dtype dt, int64_t n, float *out)
{
    for (int64_t i = 0; i < n; i++) {
        uint16_t h;
        if (dt == MLXC_F32) {
            memcpy(&out[i], src + 4 * i, 4);
            continue;
        }
        memcpy(&h, src + 2 * i, 2);
        out[i] = dt == MLXC_F16 ? mlxc_f16_to_f32(h) : mlxc_bf16_to_f32(h);
    }
}

/* Expert x's elements of v: in place when contiguous, else from one copy of all experts (kept in
 * moe->owned, made at x = 0). */
static const void *expert_data(struct mlxc_moe *moe, const struct mlxc_xview *v, int64_t x, void **copy)
{
    if (mlxc_xview_contiguous(v))
        return v->base[x];
    if (!*copy) {
        int slot = 0;
        while (slot < MLXC_MOE_OWNED && moe->owned[slot])
            slot++;
        size_t n = mlxc_xview_expert_bytes(v);
        unsigned char *buf = slot < MLXC_MOE_OWNED ? malloc(n * (size_t)v->E + 1) : NULL;
        if (!buf)
            return NULL;
        for (int64_t k = 0; k < v->E; k++)
            mlxc_xview_gather(v, k, buf + (size_t)k * n);
        moe->owned[slot] = buf;
        *copy = buf;
    }
    return (unsigned char *)*copy + (size_t)x * mlxc_xview_expert_bytes(v);
}

static int check_view(const struct mlxc_xview *v, int64_t R, int64_t C, struct mlxc_err *e)
{
    if (v->R == R && v->C == C)
        return 0;
    return mlxc_errf(e, MLXC_EFORMAT, "experts '%s': expected (%lld, %lld) per expert, got (%lld, %lld)", v->name,
                     (long long)R, (long long)C, (long long)v->R, (long long)v->C);
}

/* The E linears of one projection. */
static int load_proj(struct mlxc_moe *moe, const struct mlxc_weights *w, const struct mlxc_config *c, int layer,
                     enum mlxc_xproj p, struct mlxc_err *e)
{
    const int64_t D = c->hidden_size, I = c->moe_intermediate, E = c->n_experts;
    const int64_t rows = p == MLXC_XP_DOWN ? D : I, cols = p == MLXC_XP_DOWN ? I : D;
    struct mlxc_xview v[4];
    void *copies[4] = {0};
    int found[4] = {0}, rc = 0;
    memset(v, 0, sizeof v);
    for (int k = 0; k < 4 && rc >= 0; k++)
        rc = found[k] = mlxc_xview_get(c, w, layer, p, (enum mlxc_xpart)k, &v[k], e);
    if (rc < 0)
        goto out;
    rc = 0;
    if (!found[MLXC_XT_WEIGHT] || (c->moe_bias && !found[MLXC_XT_BIAS])) {
        rc = mlxc_errf(e, MLXC_ENOTFOUND, "missing tensor '%s' (or the experts it is made from)",
                       v[found[MLXC_XT_WEIGHT] ? MLXC_XT_BIAS : MLXC_XT_WEIGHT].name);
        goto out;
    }
    if (!(moe->proj[p] = calloc((size_t)E, sizeof *moe->proj[p]))) {
        rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        goto out;
    }
    char path[256];
    snprintf(path, sizeof path, "%.*s", (int)(strlen(v[0].name) - 7), v[0].name); /* without ".weight" */
    struct mlxc_qparams q = {0};
    const int quant = found[MLXC_XT_SCALES];
    if (quant) {
        if (!mlxc_config_quant_for(c, path, &q)) {
            if (!c->quant.present) {
                rc = mlxc_errf(e, MLXC_EFORMAT, "'%s' has quantized weights but config.json has no 'quantization'", path);
                goto out;
            }
            q = c->quant.q;
        }
        if (cols % q.group_size || (cols * q.bits) % 32 || v[0].dtype != MLXC_U32) {
            rc = mlxc_errf(e, MLXC_EFORMAT, "experts '%s': %lld inputs do not fit %s %d-bit groups of %d (weight %s)",
                           path, (long long)cols, mlxc_qmode_name(q.mode), q.bits, q.group_size,
                           mlxc_dtype_name(v[0].dtype));
            goto out;
        }
        if ((rc = check_view(&v[0], rows, cols * q.bits / 32, e)) || (rc = check_view(&v[1], rows, cols / q.group_size, e)))
            goto out;
        if (found[MLXC_XT_BIASES] && ((rc = check_view(&v[2], rows, cols / q.group_size, e)) ||
                                      (v[2].dtype != v[1].dtype && (rc = mlxc_errf(e, MLXC_EFORMAT,
                                       "experts '%s': scales and biases differ in dtype", path)))))
            goto out;
    } else if (!mlxc_dtype_is_float(v[0].dtype) || v[0].dtype == MLXC_F64) {
        rc = mlxc_errf(e, MLXC_EFORMAT, "experts '%s': dtype %s is not supported for weights", path,
                       mlxc_dtype_name(v[0].dtype));
        goto out;
    } else if ((rc = check_view(&v[0], rows, cols, e)) != 0) {
        goto out;
    }
    if (found[MLXC_XT_BIAS] && ((rc = check_view(&v[3], 1, rows, e)) || (!mlxc_dtype_is_float(v[3].dtype) &&
                                (rc = mlxc_errf(e, MLXC_EFORMAT, "experts '%s': bias is not float", path)))))
        goto out;
    for (int64_t x = 0; x < E && !rc; x++) {
        struct mlxc_linear *l = &moe->proj[p][x];
        const void *data[4] = {0};
        for (int k = 0; k < 4; k++)
            if (found[k] && !(data[k] = expert_data(moe, &v[k], x, &copies[k])))
                rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        if (rc)
            break;
        l->rows = rows;
        l->cols = cols;
        if (quant) {
            l->kind = MLXC_W_QUANT;
            l->q = (struct mlxc_qmatrix){.q = q, .rows = rows, .cols = cols, .packed = data[0], .scales = data[1],
                                         .biases = data[2], .scale_dtype = v[1].dtype};
            if (x == 0 && (rc = mlxc_qmatrix_check(&l->q, e)) != 0)
                mlxc_err_ctx(e, "experts '%s'", path);
        } else {
            l->kind = v[0].dtype == MLXC_F32 ? MLXC_W_F32 : v[0].dtype == MLXC_F16 ? MLXC_W_F16 : MLXC_W_BF16;
            l->w = data[0];
        }
        if (!rc && found[MLXC_XT_BIAS]) {
            if (!(l->bias = malloc((size_t)rows * sizeof *l->bias)))
                rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
            else
                to_f32(data[3], v[3].dtype, rows, l->bias);
        }
    }
out:
    /* the biases' copy is done with (each expert's is in f32 now); the others stay in moe->owned */
    for (int i = 0; i < MLXC_MOE_OWNED; i++)
        if (copies[3] && moe->owned[i] == copies[3])
            moe->owned[i] = NULL;
    free(copies[3]);
    for (int k = 0; k < 4; k++)
        mlxc_xview_free(&v[k]);
    return rc;
}

int mlxc_moe_load(struct mlxc_moe *moe, const struct mlxc_weights *w, const struct mlxc_config *c, int layer,
                  struct mlxc_err *e)
{
    memset(moe, 0, sizeof *moe);
    moe->n_experts = c->n_experts;
    char path[256];
    snprintf(path, sizeof path, "model.layers.%d.%s.%s", layer, c->moe_block, c->moe_router);
    int rc = mlxc_linear_load(&moe->router, w, c, path, c->n_experts, c->hidden_size, c->moe_bias, e);
    for (int p = 0; p < 3 && !rc; p++)
        rc = load_proj(moe, w, c, layer, (enum mlxc_xproj)p, e);
    return rc;
}

void mlxc_moe_free(struct mlxc_moe *moe)
{
    mlxc_linear_free(&moe->router);
    for (int p = 0; p < 3; p++) {
        for (int64_t x = 0; moe->proj[p] && x < moe->n_experts; x++)
            mlxc_linear_free(&moe->proj[p][x]);
        free(moe->proj[p]);
    }
    for (int i = 0; i < MLXC_MOE_OWNED; i++)
        free(moe->owned[i]);
    memset(moe, 0, sizeof *moe);
}

uint64_t mlxc_moe_decode_bytes(const struct mlxc_moe *moe, int64_t top_k)
{
    uint64_t all = 0;
    for (int p = 0; p < 3; p++)
        for (int64_t x = 0; x < moe->n_experts; x++)
            all += mlxc_linear_nbytes(&moe->proj[p][x]);
    return mlxc_linear_nbytes(&moe->router) + all / (uint64_t)moe->n_experts * (uint64_t)top_k;
}

/* ---- forward ---- */

static void lin(const struct mlxc_state *s, const struct mlxc_linear *l, const float *x, int64_t T, float *y)
{
    (s->rowwise ? mlxc_linear_forward_rowwise : mlxc_linear_forward)(l, x, T, y, s->pool);
}

/* The top k of the E router logits of one token: idx (k) and weights (k), best first. */
static void route(const struct mlxc_config *c, float *logits, int32_t *idx, float *wt)
{
    const int64_t E = c->n_experts, K = c->top_k;
    if (c->router == MLXC_ROUTER_SOFTMAX_TOPK)
        mlxc_softmax(logits, E); /* probabilities first: their order is the logits' */
    for (int64_t k = 0; k < K; k++) {
        int64_t best = -1;
        for (int64_t x = 0; x < E; x++) {
            int taken = 0;
            for (int64_t j = 0; j < k; j++)
                taken |= idx[j] == x;
            if (!taken && (best < 0 || logits[x] > logits[best]))
                best = x;
        }
        idx[k] = (int32_t)best;
        wt[k] = logits[best];
    }
    if (c->router == MLXC_ROUTER_TOPK_SOFTMAX) {
        mlxc_softmax(wt, K);
    } else if (c->norm_topk_prob) {
        float sum = 0;
        for (int64_t k = 0; k < K; k++)
            sum += wt[k];
        for (int64_t k = 0; k < K; k++)
            wt[k] /= sum;
    }
}

/* One chunk of T tokens: the router, then expert by expert over the rows routed to it. */
static void moe_chunk(const struct mlxc_config *c, const struct mlxc_moe *moe, struct mlxc_state *s, int64_t T,
                      const float *in, float *out)
{
    const int64_t E = c->n_experts, K = c->top_k, D = c->hidden_size, I = c->moe_intermediate;
    lin(s, &moe->router, in, T, s->moe_logits);
    for (int64_t t = 0; t < T; t++)
        route(c, s->moe_logits + t * E, s->moe_idx + t * K, s->moe_w + t * K);
    memset(out, 0, (size_t)(T * D) * sizeof *out);
    /* expert by expert over the rows routed to it: a token's sum runs in expert order whatever the chunk */
    for (int64_t x = 0; x < E; x++) {
        int64_t n = 0;
        for (int64_t t = 0; t < T; t++)
            for (int64_t k = 0; k < K; k++)
                if (s->moe_idx[t * K + k] == x) {
                    s->moe_rows[n] = (int32_t)t;
                    s->moe_rw[n] = s->moe_w[t * K + k];
                    memcpy(s->moe_x + n * D, in + t * D, (size_t)D * sizeof *in);
                    n++;
                }
        if (!n)
            continue; /* never read */
        lin(s, &moe->proj[MLXC_XP_GATE][x], s->moe_x, n, s->gate);
        lin(s, &moe->proj[MLXC_XP_UP][x], s->moe_x, n, s->up);
        mlxc_gated_act_pool(s->gate, s->up, n * I, c->act, s->pool);
        lin(s, &moe->proj[MLXC_XP_DOWN][x], s->gate, n, s->moe_y);
        for (int64_t i = 0; i < n; i++) {
            float *o = out + (int64_t)s->moe_rows[i] * D;
            const float *y = s->moe_y + i * D, wt = s->moe_rw[i];
            for (int64_t d = 0; d < D; d++)
                o[d] += wt * y[d];
        }
    }
}

/* Grouped prefill (s->n_seg > 0) takes the segments one by one, each as its own prefill would: the
 * products' paths and roundings depend on how many tokens reach an expert (core/linear.c), so the
 * tokens of other sequences must not join them. */
void mlxc_moe_forward(const struct mlxc_config *c, const struct mlxc_moe *moe, struct mlxc_state *s, int64_t T,
                      const float *in, float *out)
{
    if (s->n_seg == 0) {
        moe_chunk(c, moe, s, T, in, out);
        return;
    }
    const int64_t D = c->hidden_size;
    for (int64_t i = 0, r0 = 0; i < s->n_seg; r0 += s->seg_T[i], i++)
        moe_chunk(c, moe, s, s->seg_T[i], in + r0 * D, out + r0 * D);
}

#include "core/rope.h"

#include <math.h>
#include <string.h>

int mlxc_rope_parse(const cJSON *args, float theta_default, struct mlxc_rope_cfg *r, struct mlxc_err *e)
{
    memset(r, 0, sizeof *r);
    int rc = mlxc_cfg_float(args, "rope_theta", theta_default, &r->theta, e);
    if (rc)
        return rc;
    int trad;
    if ((rc = mlxc_cfg_bool(args, "rope_traditional", 0, &trad, e)) != 0)
        return rc;
    r->traditional = trad;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(args, "rope_scaling");
    if (!s || cJSON_IsNull(s))
        return 0;
    if (!cJSON_IsObject(s))
        return mlxc_errf(e, MLXC_EFORMAT, "'rope_scaling' is not an object");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(s, "type");
    if (!cJSON_IsString(type))
        type = cJSON_GetObjectItemCaseSensitive(s, "rope_type");
    const char *t = cJSON_IsString(type) ? type->valuestring : "default";
    if ((rc = mlxc_cfg_float(s, "factor", 1.0, &r->factor, e)) != 0)
        return mlxc_err_ctx(e, "'rope_scaling'");
    if (strcmp(t, "default") == 0) {
        r->type = MLXC_ROPE_DEFAULT;
    } else if (strcmp(t, "linear") == 0) {
        r->type = MLXC_ROPE_LINEAR;
    } else if (strcmp(t, "dynamic") == 0) {
        r->type = MLXC_ROPE_DYNAMIC;
    } else if (strcmp(t, "llama3") == 0) {
        r->type = MLXC_ROPE_LLAMA3;
        if ((rc = mlxc_cfg_float(s, "low_freq_factor", 1.0, &r->low_freq_factor, e)) != 0 ||
            (rc = mlxc_cfg_float(s, "high_freq_factor", 4.0, &r->high_freq_factor, e)) != 0 ||
            (rc = mlxc_cfg_int(s, "original_max_position_embeddings", 8192, &r->original_max_pos, e)) != 0)
            return mlxc_err_ctx(e, "'rope_scaling'");
        if (r->high_freq_factor == r->low_freq_factor)
            return mlxc_errf(e, MLXC_EFORMAT, "'rope_scaling': high_freq_factor equals low_freq_factor");
    } else if (strcmp(t, "longrope") == 0 || strcmp(t, "su") == 0) {
        /* SuScaledRoPE: the long factor always (mlx_lm never selects short_factor) */
        r->type = MLXC_ROPE_SU;
        const cJSON *lf = cJSON_GetObjectItemCaseSensitive(s, "long_factor");
        if (!cJSON_IsArray(lf) || cJSON_GetArraySize(lf) > (int)(sizeof r->su_factor / sizeof r->su_factor[0]))
            return mlxc_errf(e, MLXC_EFORMAT, "'rope_scaling': 'long_factor' is not a list of at most 512 numbers");
        for (const cJSON *x = lf->child; x; x = x->next) {
            if (!cJSON_IsNumber(x) || !(x->valuedouble > 0))
                return mlxc_errf(e, MLXC_EFORMAT, "'rope_scaling': 'long_factor' holds a non-positive value");
            r->su_factor[r->n_factors++] = (float)x->valuedouble;
        }
        if ((rc = mlxc_cfg_int(s, "original_max_position_embeddings", 0, &r->original_max_pos, e)) != 0 ||
            (rc = mlxc_cfg_float(s, "long_mscale", 0.0, &r->mscale, e)) != 0)
            return mlxc_err_ctx(e, "'rope_scaling'");
    } else {
        return mlxc_errf(e, MLXC_EUNSUP, "rope scaling type '%s' is not supported", t);
    }
    return 0;
}

void mlxc_rope_inv_freq(const struct mlxc_rope_cfg *r, int dims, int64_t seq_len, int64_t max_pos, float *inv_freq)
{
    double base = r->theta;
    if (r->type == MLXC_ROPE_DYNAMIC && max_pos > 0) {
        /* NTK: base' = base * ((factor * L / maxpos) - (factor - 1))^(d / (d - 2)), L = max(seq, maxpos) */
        double L = seq_len > max_pos ? (double)seq_len : (double)max_pos;
        base = base * pow(r->factor * L / (double)max_pos - (r->factor - 1.0), (double)dims / (dims - 2));
    }
    for (int i = 0; i < dims / 2; i++) {
        /* mlx computes base^(2i/d) in f32 as exp(-2i/d * log(base)) and multiplies pos by it */
        float freq = (float)pow(base, (double)(2 * i) / dims); /* "freqs" = wavelength / 2pi */
        if (r->type == MLXC_ROPE_LLAMA3) {
            float low_wavelen = (float)r->original_max_pos / r->low_freq_factor;
            float high_wavelen = (float)r->original_max_pos / r->high_freq_factor;
            float wavelen = 2.0f * (float)M_PI * freq;
            if (wavelen > low_wavelen) {
                freq = freq * r->factor;
            } else if (wavelen > high_wavelen) {
                float smooth = ((float)r->original_max_pos / wavelen - r->low_freq_factor) /
                               (r->high_freq_factor - r->low_freq_factor);
                freq = freq / ((1.0f - smooth) / r->factor + smooth);
            }
        }
        if (r->type == MLXC_ROPE_SU && i < r->n_factors)
            freq = r->su_factor[i] * freq; /* freqs = long_factor * base^(2i/d) */
        inv_freq[i] = 1.0f / freq;
        if (r->type == MLXC_ROPE_LINEAR)
            inv_freq[i] /= r->factor; /* scale = 1/factor applied to positions */
    }
}

void mlxc_rope_apply(float *x, int n_heads, int head_dim, int dims, int64_t pos, const float *inv_freq,
                     int traditional)
{
    int half = dims / 2;
    for (int i = 0; i < half; i++) {
        double theta = (double)pos * inv_freq[i];
        float c = (float)cos(theta), s = (float)sin(theta);
        for (int h = 0; h < n_heads; h++) {
            float *v = x + (int64_t)h * head_dim;
            int ia = traditional ? 2 * i : i, ib = traditional ? 2 * i + 1 : i + half;
            float a = v[ia], b = v[ib];
            v[ia] = a * c - b * s;
            v[ib] = a * s + b * c;
        }
    }
}

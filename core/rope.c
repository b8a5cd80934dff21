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
    } else if (strcmp(t, "yarn") == 0 || strcmp(t, "deepseek_yarn") == 0) {
        /* mlx_lm YarnRoPE; the correction range is always floored/ceiled (a "truncate" key is not read) */
        r->type = MLXC_ROPE_YARN;
        float mscale, mscale_all, attention_factor;
        if ((rc = mlxc_cfg_int(s, "original_max_position_embeddings", 4096, &r->original_max_pos, e)) != 0 ||
            (rc = mlxc_cfg_float(s, "beta_fast", 32.0, &r->beta_fast, e)) != 0 ||
            (rc = mlxc_cfg_float(s, "beta_slow", 1.0, &r->beta_slow, e)) != 0 ||
            (rc = mlxc_cfg_float(s, "mscale", 1.0, &mscale, e)) != 0 ||
            (rc = mlxc_cfg_float(s, "mscale_all_dim", 0.0, &mscale_all, e)) != 0 ||
            (rc = mlxc_cfg_float(s, "attention_factor", 0.0, &attention_factor, e)) != 0)
            return mlxc_err_ctx(e, "'rope_scaling'");
        if (r->original_max_pos < 1 || !(r->beta_fast > 0) || !(r->beta_slow > 0) || !(r->factor > 0))
            return mlxc_errf(e, MLXC_EFORMAT, "'rope_scaling': yarn needs positive factor, betas and "
                             "original_max_position_embeddings");
        /* mscale = get(factor, mscale) / get(factor, mscale_all_dim), get(s, m) = 0.1 m ln s + 1 (1 if s <= 1);
         * an explicit attention_factor replaces it */
        double f = r->factor, num = f <= 1 ? 1.0 : 0.1 * mscale * log(f) + 1.0,
               den = f <= 1 ? 1.0 : 0.1 * mscale_all * log(f) + 1.0;
        r->mscale = cJSON_GetObjectItemCaseSensitive(s, "attention_factor") ? attention_factor : (float)(num / den);
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
    /* yarn: pairs below `low` keep base^(2i/d) ("extrapolation"), above `high` are divided by the factor
     * ("interpolation"), with a linear ramp between; low/high = floor/ceil of the pair index whose
     * wavelength fits original_max / beta rotations: d ln(orig / (2 pi beta)) / (2 ln base) */
    double low = 0, high = 0;
    if (r->type == MLXC_ROPE_YARN) {
        double lb = 2.0 * log(base);
        low = floor(dims * log((double)r->original_max_pos / (r->beta_fast * 2.0 * M_PI)) / lb);
        high = ceil(dims * log((double)r->original_max_pos / (r->beta_slow * 2.0 * M_PI)) / lb);
        low = low > 0 ? low : 0;
        high = high < dims - 1 ? high : dims - 1;
        if (low == high)
            high += 0.001;
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
        if (r->type == MLXC_ROPE_YARN) {
            float ramp = (float)((i - low) / (high - low));
            ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
            float mask = 1.0f - ramp, inter = r->factor * freq;
            freq = inter * freq / (inter * mask + freq * (1.0f - mask));
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

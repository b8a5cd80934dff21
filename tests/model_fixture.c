/* Compiled with -ffp-contract=off: the generator's f32 arithmetic must round exactly as numpy's. */
#include "tests/model_fixture.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/half.h"
#include "core/safetensors.h"
#include "core/sys.h"
#include "quant/quant.h"

#define FIXTURE_SEED 0x6D6C7863ull
#define GOLDEN 0x9E3779B97F4A7C15ull

static uint64_t fnv1a64(const char *s)
{
    uint64_t h = 0xCBF29CE484222325ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001B3ull;
    }
    return h;
}

/* Element i of the tensor's stream: see tests/gen/fixture_weights.py. */
static void generate(const char *name, int64_t n, float base, float scale, float *out)
{
    uint64_t seed = fnv1a64(name) ^ FIXTURE_SEED;
    for (int64_t i = 0; i < n; i++) {
        uint64_t z = seed + (uint64_t)(i + 1) * GOLDEN;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        float u = (float)(z >> 40) * (1.0f / 16777216.0f);
        float v = u * 2.0f - 1.0f;
        v = v * scale;
        out[i] = v + base;
    }
}

static int check_spots(const cJSON *check, const float *v, int64_t n, const char *name, struct mlxc_err *e)
{
    const cJSON *at = cJSON_GetObjectItem(check, "at");
    for (const cJSON *p = at ? at->child : NULL; p; p = p->next) {
        int64_t i = (int64_t)cJSON_GetArrayItem(p, 0)->valuedouble;
        uint32_t want = (uint32_t)cJSON_GetArrayItem(p, 1)->valuedouble, got;
        if (i < 0 || i >= n)
            return mlxc_errf(e, MLXC_EFORMAT, "fixture tensor '%s': spot index %lld out of range", name, (long long)i);
        memcpy(&got, &v[i], 4);
        if (got != want)
            return mlxc_errf(e, MLXC_EFORMAT, "fixture tensor '%s': element %lld is %08x, numpy made %08x", name,
                             (long long)i, got, want);
    }
    double sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += v[i];
    double want_sum = cJSON_GetObjectItem(check, "sum")->valuedouble;
    if (fabs(sum - want_sum) > 1e-9 * (1 + fabs(want_sum)))
        return mlxc_errf(e, MLXC_EFORMAT, "fixture tensor '%s': sum %.17g, numpy made %.17g", name, sum, want_sum);
    return 0;
}

static int check_byte_spots(const cJSON *check, const unsigned char *v, int64_t n, const char *name, struct mlxc_err *e)
{
    const cJSON *at = cJSON_GetObjectItem(check, "at");
    for (const cJSON *p = at ? at->child : NULL; p; p = p->next) {
        int64_t i = (int64_t)cJSON_GetArrayItem(p, 0)->valuedouble;
        int want = (int)cJSON_GetArrayItem(p, 1)->valuedouble;
        if (i < 0 || i >= n || v[i] != want)
            return mlxc_errf(e, MLXC_EFORMAT, "fixture tensor '%s': byte %lld differs from numpy's %02x", name,
                             (long long)i, want);
    }
    double sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += v[i];
    if (sum != cJSON_GetObjectItem(check, "sum")->valuedouble)
        return mlxc_errf(e, MLXC_EFORMAT, "fixture tensor '%s': byte sum %.17g differs from numpy's", name, sum);
    return 0;
}

/* A Hugging Face MXFP4 expert tensor (gpt-oss checkpoints): the float experts `of` (E, in, out) are
 * generated, transposed to rows (E * out, in) and quantized with MLX's CPU algorithm; "blocks" are the
 * packed codes (E, out, in/32, 16), "scales" the E8M0 bytes (E, out, in/32). n bytes into out. */
static int make_mxfp4(const cJSON *spec, unsigned char *out, int64_t n, struct mlxc_err *e)
{
    const cJSON *shape = cJSON_GetObjectItem(spec, "shape");
    int64_t E = (int64_t)cJSON_GetArrayItem(shape, 0)->valuedouble, K = (int64_t)cJSON_GetArrayItem(shape, 1)->valuedouble,
            N = (int64_t)cJSON_GetArrayItem(shape, 2)->valuedouble;
    int blocks = strcmp(cJSON_GetObjectItem(spec, "part")->valuestring, "blocks") == 0;
    if (n != (blocks ? E * N * K / 2 : E * N * K / 32))
        return mlxc_errf(e, MLXC_EFORMAT, "fixture mxfp4 tensor: %lld bytes do not fit its source", (long long)n);
    float *v = malloc((size_t)(E * K * N) * sizeof *v), *rows = malloc((size_t)(E * K * N) * sizeof *rows);
    unsigned char *packed = malloc((size_t)(E * N * K / 2)), *scales = malloc((size_t)(E * N * K / 32));
    generate(cJSON_GetObjectItem(spec, "of")->valuestring, E * K * N,
             (float)cJSON_GetObjectItem(spec, "base")->valuedouble, (float)cJSON_GetObjectItem(spec, "scale")->valuedouble, v);
    for (int64_t x = 0; x < E; x++)
        for (int64_t k = 0; k < K; k++)
            for (int64_t j = 0; j < N; j++)
                rows[(x * N + j) * K + k] = v[(x * K + k) * N + j];
    struct mlxc_qparams q = mlxc_qparams_default(MLXC_Q_MXFP4);
    int rc = mlxc_quantize(rows, E * N, K, q, MLXC_F32, packed, scales, NULL, e);
    if (!rc)
        memcpy(out, blocks ? packed : scales, (size_t)n);
    free(v);
    free(rows);
    free(packed);
    free(scales);
    return rc;
}

static int copy_file(const char *from, const char *to, struct mlxc_err *e)
{
    size_t n;
    char *data = mlxc_read_file(from, 64u << 20, &n, e);
    if (!data)
        return e->code;
    FILE *f = fopen(to, "wb");
    int rc = 0;
    if (!f || fwrite(data, 1, n, f) != n)
        rc = mlxc_errf_sys(e, MLXC_EIO, "cannot write '%s'", to);
    if (f)
        fclose(f);
    free(data);
    return rc;
}

int fixture_build(const char *data_root, const char *name, enum mlxc_dtype dtype, const char *dir,
                  struct mlxc_err *e)
{
    char path[4096], to[4096];
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/models/%s/tensors.json", data_root, name);
    char *text = mlxc_read_file(path, 16u << 20, NULL, e);
    if (!text)
        return e->code;
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *list = cJSON_GetObjectItem(root, "tensors");
    int n = cJSON_GetArraySize(list);
    struct mlxc_st_entry *entries = calloc((size_t)n + 1, sizeof *entries);
    int rc = 0, i = 0;
    for (const cJSON *t = list ? list->child : NULL; t; t = t->next, i++) {
        entries[i].name = cJSON_GetObjectItem(t, "name")->valuestring;
        entries[i].dtype = cJSON_GetObjectItem(t, "mxfp4") ? MLXC_U8 : dtype;
        const cJSON *shape = cJSON_GetObjectItem(t, "shape");
        entries[i].ndim = cJSON_GetArraySize(shape);
        int d = 0;
        for (const cJSON *s = shape->child; s; s = s->next)
            entries[i].shape[d++] = (int64_t)s->valuedouble;
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    struct mlxc_st_meta meta[] = {{"format", "mlx"}};
    struct mlxc_st_writer *w = NULL;
    if ((rc = mlxc_stw_open(path, entries, (size_t)n, meta, 1, &w, e)) != 0)
        goto out;
    i = 0;
    for (const cJSON *t = list->child; t && !rc; t = t->next, i++) {
        int64_t count = 1;
        for (int d = 0; d < entries[i].ndim; d++)
            count *= entries[i].shape[d];
        const cJSON *mx = cJSON_GetObjectItem(t, "mxfp4");
        if (mx) {
            unsigned char *b = malloc((size_t)count);
            rc = make_mxfp4(mx, b, count, e);
            if (!rc)
                rc = check_byte_spots(cJSON_GetObjectItem(t, "check"), b, count, entries[i].name, e);
            if (!rc)
                rc = mlxc_stw_write(w, b, (size_t)count, e);
            free(b);
            continue;
        }
        float *v = malloc((size_t)count * sizeof *v);
        uint16_t *h = malloc((size_t)count * sizeof *h);
        generate(entries[i].name, count, (float)cJSON_GetObjectItem(t, "base")->valuedouble,
                 (float)cJSON_GetObjectItem(t, "scale")->valuedouble, v);
        rc = check_spots(cJSON_GetObjectItem(t, "check"), v, count, entries[i].name, e);
        if (!rc && dtype == MLXC_F32)
            rc = mlxc_stw_write(w, v, (size_t)count * 4, e);
        else if (!rc) {
            if (dtype == MLXC_F16)
                mlxc_f32_to_f16_row(v, h, (size_t)count);
            else
                mlxc_f32_to_bf16_row(v, h, (size_t)count);
            rc = mlxc_stw_write(w, h, (size_t)count * 2, e);
        }
        free(v);
        free(h);
    }
    if (rc)
        mlxc_stw_abort(w);
    else
        rc = mlxc_stw_close(w, e);
    if (rc)
        goto out;
    snprintf(path, sizeof path, "%s/models/%s/config.json", data_root, name);
    snprintf(to, sizeof to, "%s/config.json", dir);
    if ((rc = copy_file(path, to, e)) != 0)
        goto out;
    const cJSON *tok = cJSON_GetObjectItem(root, "tokenizer");
    static const char *const tok_files[] = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"};
    for (size_t k = 0; tok && k < sizeof tok_files / sizeof tok_files[0] && !rc; k++) {
        snprintf(path, sizeof path, "%s/tok/%s/%s", data_root, tok->valuestring, tok_files[k]);
        snprintf(to, sizeof to, "%s/%s", dir, tok_files[k]);
        if (mlxc_path_exists(path))
            rc = copy_file(path, to, e);
        else if (snprintf(to, sizeof to, "%s.gz", path) > 0 && mlxc_path_exists(to))
            rc = mlxc_errf(e, MLXC_ENOTFOUND, "'%s' is only in tests/data compressed: use the build's test data "
                           "(MLXC_TEST_DATA=BUILD/tests/data, made by tests/unpack_data.sh)", path);
    }
out:
    free(entries);
    cJSON_Delete(root);
    return rc;
}

/* ---- a per-process cache of built fixtures ---- */

static char cache_root[512];
static struct {
    char name[64];
    enum mlxc_dtype dtype;
    char dir[600];
} built[64];
static int n_built;

static void remove_cache_root(void)
{
    if (!cache_root[0])
        return;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cache_root);
    if (system(cmd) != 0)
        fprintf(stderr, "# could not remove %s\n", cache_root);
}

const char *fixture_path(const char *data_root, const char *name, enum mlxc_dtype dtype, struct mlxc_err *e)
{
    for (int i = 0; i < n_built; i++)
        if (strcmp(built[i].name, name) == 0 && built[i].dtype == dtype)
            return built[i].dir;
    if (n_built == 64) {
        mlxc_errf(e, MLXC_ENOMEM, "too many fixtures");
        return NULL;
    }
    if (!cache_root[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(cache_root, sizeof cache_root, "%s/mlxc-fixtures-XXXXXX", t ? t : "/tmp");
        if (!mkdtemp(cache_root)) {
            cache_root[0] = '\0';
            mlxc_errf_sys(e, MLXC_EIO, "cannot create a folder for fixtures");
            return NULL;
        }
        atexit(remove_cache_root);
    }
    snprintf(built[n_built].name, sizeof built[n_built].name, "%s", name);
    built[n_built].dtype = dtype;
    snprintf(built[n_built].dir, sizeof built[n_built].dir, "%s/%s-%s", cache_root, name, mlxc_dtype_name(dtype));
    if (fixture_build(data_root, name, dtype, built[n_built].dir, e) != 0)
        return NULL;
    return built[n_built++].dir;
}

int fixture_quick(void)
{
    const char *q = getenv("MLXC_TEST_QUICK");
    return q && *q && strcmp(q, "0") != 0;
}

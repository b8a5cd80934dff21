/* Loading an arbitrary prompt-cache file for a tiny fixture model (tests/data/models/qwen3, f32, head_dim 32), and
 * using a cache that loads: two more tokens through the model (what generate does after
 * --prompt-cache-file), a trim, and a save. A file either fails with one clear error or gives a cache
 * the model can run on.
 *
 * MLXC_FUZZ_WRITE_SEEDS=DIR writes real cache files (plain, rotating, wrapped rotating, quantized,
 * quantized rotating) to DIR and exits: that is how tests/fuzz/corpus/prompt_cache was made. */
#include "fuzz_util.h"

#include <sys/stat.h>
#include <unistd.h>

#include "cache/prompt_cache.h"
#include "core/forward.h"
#include "core/model.h"
#include "tests/model_fixture.h"

static char dir[256];
static char file[300];
static struct mlxc_model *model;
static struct mlxc_state state;

static void cleanup(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove '%s'\n", dir);
}

static void die(const char *what, const struct mlxc_err *e)
{
    fprintf(stderr, "%s: %s\n", what, e->msg);
    exit(1);
}

/* Runs n tokens through the model with cache o, then saves it to path. */
static void write_seed(const char *path, const struct mlxc_cache_opts *o, int n)
{
    struct mlxc_kv_cache c = {0};
    struct mlxc_err e = {0};
    if (mlxc_cache_make(model, o, &c, &e) != 0)
        die("cache", &e);
    for (int i = 0; i < n; i++) {
        int32_t tok = (i * 37 + 5) % 100;
        if (mlxc_forward(model, &state, &c, &tok, 1, 0, &e) != 0)
            die("forward", &e);
    }
    struct mlxc_st_meta meta[] = {{"model", "qwen3-fixture"}, {"tokenizer_config", "{\"trust_remote_code\": false}"}};
    if (mlxc_prompt_cache_save(path, &c, model, meta, 2, &e) != 0)
        die("save", &e);
    mlxc_kv_free(&c);
}

static void write_seeds(const char *out)
{
    char p[4096];
    mkdir(out, 0755);
    struct mlxc_cache_opts plain = {0}, rot = {.max_kv_size = 6}, q = {.kv_bits = 4, .kv_group_size = 32},
                           qrot = {.max_kv_size = 8, .kv_bits = 8, .kv_group_size = 32};
    snprintf(p, sizeof p, "%s/plain", out), write_seed(p, &plain, 5);
    snprintf(p, sizeof p, "%s/plain_empty", out), write_seed(p, &plain, 0);
    snprintf(p, sizeof p, "%s/rotating", out), write_seed(p, &rot, 4);
    snprintf(p, sizeof p, "%s/rotating_wrapped", out), write_seed(p, &rot, 11);
    snprintf(p, sizeof p, "%s/quantized", out), write_seed(p, &q, 3);
    snprintf(p, sizeof p, "%s/quantized_rotating", out), write_seed(p, &qrot, 10);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    snprintf(dir, sizeof dir, "%s/mlxc-fuzz-pc-XXXXXX", base);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
    atexit(cleanup);
    char mdir[300];
    snprintf(mdir, sizeof mdir, "%s/model", dir);
    snprintf(file, sizeof file, "%s/cache.safetensors", dir);
    struct mlxc_err e = {0};
    char root[4096];
    snprintf(root, sizeof root, "%s", fuzz_data(""));
    if (fixture_build(root, "qwen3", MLXC_F32, mdir, &e) != 0)
        die("fixture", &e);
    if (mlxc_model_open(mdir, &model, &e) != 0)
        die("model", &e);
    if (mlxc_state_init(&state, model, 4, 1, &e) != 0)
        die("state", &e);
    const char *seeds = getenv("MLXC_FUZZ_WRITE_SEEDS");
    if (seeds && *seeds) {
        write_seeds(seeds);
        exit(0);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fopen(file, "wb");
    FUZZ_CHECK(f && fwrite(data, 1, size, f) == size && fclose(f) == 0);
    struct mlxc_err e = {0};
    struct mlxc_st_meta *user = NULL;
    size_t n_user = 0;
    if (mlxc_prompt_cache_read_meta(file, &user, &n_user, &e) == 0) {
        mlxc_meta_find(user, n_user, "model");
        free(user);
        user = NULL;
    }
    struct mlxc_kv_cache c = {0};
    int rc = mlxc_prompt_cache_load(file, model, &c, &user, &n_user, &e);
    if (rc) {
        FUZZ_CHECK(rc < 0 && e.msg[0] && !strchr(e.msg, '\n'));
        return 0;
    }
    FUZZ_CHECK(c.n_layers == model->cfg.n_layers);
    mlxc_meta_find(user, n_user, "model");
    free(user);
    /* what generate does next: the prompt's remaining tokens, then one token at a time */
    int32_t toks[2] = {1, 2};
    rc = mlxc_forward(model, &state, &c, toks, 2, 0, &e);
    if (rc == 0)
        rc = mlxc_forward(model, &state, &c, toks, 1, 0, &e);
    FUZZ_CHECK(rc == 0 || (rc < 0 && e.msg[0]));
    if (rc == 0 && mlxc_kv_trimmable(&c))
        mlxc_kv_trim(&c, 1);
    char out[400];
    snprintf(out, sizeof out, "%s/saved.safetensors", dir);
    if (rc == 0)
        FUZZ_CHECK(mlxc_prompt_cache_save(out, &c, model, NULL, 0, &e) == 0);
    mlxc_kv_free(&c);
    return 0;
}

/* Decode speed at two context lengths, measured in the same window of time.
 *
 *   context_decode MODEL_DIR [--short N] [--long N] [--rounds R] [--tokens G] [--threads T] [--kv-bits B]
 *                  [--no-mlock]
 *
 * Prefills two KV caches with random prompts of --short (128) and --long (4096) tokens, then decodes in
 * R rounds (40): each round G tokens (2) after the short prompt, then G after the long one, one token per
 * forward pass with logits, as generation does. Alternating in small rounds puts both figures in the
 * same minutes of a shared machine, whose speed drifts by tens of percent between separate runs, so their
 * ratio (issue #10 asks long >= 85% of short) means something; the smaller the rounds the better (on the
 * lent Xeons in sessions 9-11, 40-60 rounds of 2 tokens repeated within about 1%, 8 rounds of 8 within
 * about 5%; in session 12 they did not, see bench/results/llama1b_session12.txt). Prints tokens/s of each
 * and the ratio, and the ratio of every round (their spread shows how noisy the window was). --kv-bits B quantizes both
 * caches from the first token (mlx_lm --kv-bits B --kv-group-size 64 --quantized-kv-start 0).
 * The model's files are locked in memory first (mlxc_weights_lock; a warning where the limit forbids it,
 * --no-mlock to skip): the VMs of sessions 11-17 run a DAMON "pageout" scheme that reclaims page cache
 * by physical region, the mapped model's pages included while in use, and re-reading them from disk
 * slowed some runs tenfold (bench/results/llama1b_session17.txt). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/kv.h"
#include "core/forward.h"
#include "core/model.h"
#include "core/model_dir.h"
#include "core/random.h"
#include "core/sys.h"
#include "core/weights.h"

enum { CHUNK = 512 };

/* Prefills cache with n random tokens, CHUNK at a time. */
static int prefill(const struct mlxc_model *m, struct mlxc_state *s, struct mlxc_kv_cache *c, int64_t n,
                   struct mlxc_rng *rng, struct mlxc_err *e)
{
    int32_t *ids = malloc(sizeof *ids * (size_t)n);
    if (!ids)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++)
        ids[i] = (int32_t)(mlxc_rng_uniform(rng) * (float)m->cfg.vocab_size) % (int32_t)m->cfg.vocab_size;
    int rc = 0;
    for (int64_t i = 0; !rc && i < n; i += CHUNK)
        rc = mlxc_forward(m, s, c, ids + i, n - i < CHUNK ? n - i : CHUNK, i + CHUNK >= n, e);
    free(ids);
    return rc;
}

/* g decode steps on cache c; returns the seconds they took (negative on error). */
static double decode(const struct mlxc_model *m, struct mlxc_state *s, struct mlxc_kv_cache *c, int g,
                     struct mlxc_err *e)
{
    int32_t tok = 1;
    double t0 = mlxc_now();
    for (int i = 0; i < g; i++, tok = (tok * 7919 + 13) % (int32_t)m->cfg.vocab_size)
        if (mlxc_forward(m, s, c, &tok, 1, 1, e))
            return -1;
    return mlxc_now() - t0;
}

int main(int argc, char **argv)
{
    int64_t lens[2] = {128, 4096};
    int rounds = 40, g = 2, threads = 0, lock = 1;
    struct mlxc_cache_opts opts = {.kv_group_size = 64};
    const char *model = argc > 1 ? argv[1] : NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--short") && i + 1 < argc)
            lens[0] = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--long") && i + 1 < argc)
            lens[1] = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tokens") && i + 1 < argc)
            g = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--kv-bits") && i + 1 < argc)
            opts.kv_bits = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-mlock"))
            lock = 0;
        else
            model = NULL;
    }
    if (!model || lens[0] < 1 || lens[1] < 1 || rounds < 1 || g < 1) {
        fprintf(stderr, "usage: context_decode MODEL_DIR [--short N] [--long N] [--rounds R] [--tokens G] "
                        "[--threads T] [--kv-bits B] [--no-mlock]\n");
        return 2;
    }
    struct mlxc_err e = {0};
    struct mlxc_model *m = NULL;
    struct mlxc_state s = {0};
    struct mlxc_kv_cache caches[2];
    int made = 0, rc = 0;
    char *dir = mlxc_model_dir_resolve(model, &e);
    if (!dir || mlxc_model_open(dir, &m, &e) || mlxc_state_init(&s, m, CHUNK, threads, &e))
        goto out;
    if (lock && mlxc_weights_lock(m->weights, &e)) {
        fprintf(stderr, "context_decode: warning: %s; timings may include re-reads from disk\n", e.msg);
        e = (struct mlxc_err){0};
    }
    struct mlxc_rng rng;
    mlxc_rng_seed(&rng, 0);
    for (int i = 0; i < 2; i++) {
        if (mlxc_cache_make(m, &opts, &caches[i], &e))
            goto out;
        made++;
        if (prefill(m, &s, &caches[i], lens[i], &rng, &e))
            goto out;
    }
    char kv[32] = "";
    if (opts.kv_bits)
        snprintf(kv, sizeof kv, ", %d-bit KV cache", opts.kv_bits);
    double total[2] = {0, 0};
    printf("round ratios (long / short tok/s):");
    for (int r = 0; r < rounds; r++) {
        double t[2];
        for (int i = 0; i < 2; i++)
            if ((t[i] = decode(m, &s, &caches[i], g, &e)) < 0)
                goto out;
        total[0] += t[0];
        total[1] += t[1];
        printf(" %.2f", t[0] / t[1]);
    }
    printf("\ncontext %lld: %.2f tok/s, context %lld: %.2f tok/s, long / short = %.1f%% (%d rounds of %d tokens, "
           "%d threads%s)\n",
           (long long)lens[0], rounds * g / total[0], (long long)lens[1], rounds * g / total[1],
           100.0 * total[0] / total[1], rounds, g, mlxc_pool_size(s.pool),
           kv);
out:
    if (e.code) {
        fprintf(stderr, "context_decode: %s\n", e.msg);
        rc = 1;
    }
    while (made > 0)
        mlxc_kv_free(&caches[--made]);
    if (s.pool)
        mlxc_state_free(&s);
    mlxc_model_close(m);
    free(dir);
    return rc;
}

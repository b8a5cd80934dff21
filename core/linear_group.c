/* Grouped products for prefill of several requests at once: see core/linear_group.h.
 *
 * Short segments s_1..s_k (each < MLXC_GROUP_SHORT tokens) share the weight reads: every thread takes a
 * range of output rows, cuts it into tiles of about TILE_BYTES of weights, and for each tile runs
 *   y_i[:, tile] = x_i W[tile]^T   for i = 1..k
 * with mlxc_linear_forward on a view of the tile (single-threaded), so the kernels, their token blocking
 * and their rounding are those of a product of segment i alone; only the rows differ. The tile's
 * weights come from memory once and from cache for the other segments. The (T_i, tile) result goes
 * through a small per-thread buffer into y_i's rows. Long segments run as their own product. */
#include "core/linear_group.h"

#include <string.h>

#include "core/dtype.h"

#define TILE_BYTES (1 << 18) /* weights of a tile: stays in L2 while the segments pass over it */
#define TILE_MAX 256         /* rows of a tile at most (bounds the per-thread buffer) */

struct mlxc_linear mlxc_linear_rows_view(const struct mlxc_linear *l, int64_t r0, int64_t n)
{
    struct mlxc_linear v = *l;
    v.rows = n;
    v.bias = l->bias ? l->bias + r0 : NULL;
    switch (l->kind) {
    case MLXC_W_F32: v.w = (const char *)l->w + r0 * l->cols * 4; break;
    case MLXC_W_F16:
    case MLXC_W_BF16: v.w = (const char *)l->w + r0 * l->cols * 2; break;
    case MLXC_W_QUANT: {
        /* packed rows of cols*bits/8 bytes; scales and biases (rows, cols/group_size) */
        const int64_t groups = l->cols / l->q.q.group_size;
        const size_t ss = mlxc_dtype_size(l->q.scale_dtype);
        v.q.rows = n;
        v.q.packed = (const char *)l->q.packed + r0 * (l->cols * l->q.q.bits / 8);
        v.q.scales = (const char *)l->q.scales + (size_t)(r0 * groups) * ss;
        v.q.biases = l->q.biases ? (const char *)l->q.biases + (size_t)(r0 * groups) * ss : NULL;
        break;
    }
    }
    return v;
}

static int64_t row_bytes(const struct mlxc_linear *l)
{
    switch (l->kind) {
    case MLXC_W_F32: return l->cols * 4;
    case MLXC_W_F16:
    case MLXC_W_BF16: return l->cols * 2;
    case MLXC_W_QUANT: return l->cols * l->q.q.bits / 8 + 2 * (l->cols / l->q.q.group_size);
    }
    return l->cols * 4;
}

struct group_job {
    const struct mlxc_linear *l;
    const float *x;
    float *y;
    const int64_t *seg_T, *seg_off; /* the short segments: tokens and first row in x / y */
    int nseg;
    int64_t tile;
    float *tmp;                     /* per thread MLXC_GROUP_SHORT * tile */
};

static void group_task(void *ctx, int tid, int nth)
{
    const struct group_job *j = ctx;
    const struct mlxc_linear *l = j->l;
    int64_t r0, r1;
    mlxc_split_range(l->rows, tid, nth, MLXC_SGEMM_TILE, &r0, &r1);
    float *tmp = j->tmp + (size_t)tid * (size_t)(MLXC_GROUP_SHORT * TILE_MAX);
    for (int64_t a = r0; a < r1; a += j->tile) {
        int64_t nr = r1 - a < j->tile ? r1 - a : j->tile;
        struct mlxc_linear v = mlxc_linear_rows_view(l, a, nr);
        for (int i = 0; i < j->nseg; i++) {
            const int64_t T = j->seg_T[i], off = j->seg_off[i];
            mlxc_linear_forward(&v, j->x + off * l->cols, T, tmp, NULL);
            for (int64_t t = 0; t < T; t++)
                memcpy(j->y + (off + t) * l->rows + a, tmp + t * nr, (size_t)nr * sizeof *tmp);
        }
    }
}

int64_t mlxc_linear_group_scratch(const struct mlxc_pool *pool)
{
    return (int64_t)mlxc_pool_size(pool) * MLXC_GROUP_SHORT * TILE_MAX;
}

/* The short segments (at most 64 of them) through the tiles. */
static void run_short(const struct mlxc_linear *l, const float *x, float *y, const int64_t *T, const int64_t *off,
                      int n, float *scratch, struct mlxc_pool *pool)
{
    const int nth = mlxc_pool_size(pool);
    /* tiles of about TILE_BYTES, a multiple of MLXC_SGEMM_TILE rows (the float products' stretches: each
     * row's result as in a product of the whole matrix), and small enough that every thread gets some */
    int64_t tile = TILE_BYTES / row_bytes(l);
    int64_t share = (l->rows + nth - 1) / nth;
    if (tile > share)
        tile = share;
    if (tile > TILE_MAX)
        tile = TILE_MAX;
    tile = tile < MLXC_SGEMM_TILE ? MLXC_SGEMM_TILE : tile / MLXC_SGEMM_TILE * MLXC_SGEMM_TILE;
    struct group_job j = {l, x, y, T, off, n, tile, scratch};
    mlxc_pool_run(pool, group_task, &j);
}

void mlxc_linear_forward_group(const struct mlxc_linear *l, const float *x, const int64_t *seg_T, int nseg,
                               float *y, float *scratch, struct mlxc_pool *pool)
{
    if (nseg == 1 || !scratch) {
        for (int64_t i = 0, off = 0; i < nseg; off += seg_T[i], i++)
            mlxc_linear_forward(l, x + off * l->cols, seg_T[i], y + off * l->rows, pool);
        return;
    }
    int64_t short_T[64], short_off[64];
    int nshort = 0;
    for (int64_t i = 0, off = 0; i < nseg; off += seg_T[i], i++) {
        if (seg_T[i] >= MLXC_GROUP_SHORT) {
            mlxc_linear_forward(l, x + off * l->cols, seg_T[i], y + off * l->rows, pool);
            continue;
        }
        short_T[nshort] = seg_T[i];
        short_off[nshort++] = off;
        if (nshort == 64) {
            run_short(l, x, y, short_T, short_off, nshort, scratch, pool);
            nshort = 0;
        }
    }
    if (nshort > 1)
        run_short(l, x, y, short_T, short_off, nshort, scratch, pool);
    else if (nshort == 1)
        mlxc_linear_forward(l, x + short_off[0] * l->cols, short_T[0], y + short_off[0] * l->rows, pool);
}

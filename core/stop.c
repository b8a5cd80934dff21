#include "core/stop.h"

#include <string.h>

void mlxc_stop_init(struct mlxc_stop *s, char *const *strings)
{
    memset(s, 0, sizeof *s);
    s->strings = strings;
}

void mlxc_stop_free(struct mlxc_stop *s) { mlxc_buf_free(&s->pending); }

/* Length of the longest suffix of p[0..n) that is a proper prefix of some stop string. */
static size_t held_suffix(const struct mlxc_stop *s, const char *p, size_t n)
{
    size_t best = 0;
    for (char *const *st = s->strings; st && *st; st++) {
        size_t len = strlen(*st);
        for (size_t k = len > 0 ? len - 1 : 0; k > best; k--)
            if (k <= n && memcmp(p + n - k, *st, k) == 0) {
                best = k;
                break;
            }
    }
    return best;
}

static void drop_front(struct mlxc_buf *b, size_t n)
{
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

int mlxc_stop_feed(struct mlxc_stop *s, const char *text, size_t n, struct mlxc_buf *out)
{
    if (s->matched)
        return 1;
    if (!s->strings || !s->strings[0]) {
        mlxc_buf_append(out, text, n);
        return 0;
    }
    mlxc_buf_append(&s->pending, text, n);
    if (s->pending.oom)
        return 0;
    const char *p = s->pending.data;
    size_t len = s->pending.len, first = len;
    for (char *const *st = s->strings; *st; st++) {
        const char *hit = **st ? memmem(p, len, *st, strlen(*st)) : NULL;
        if (hit && (size_t)(hit - p) < first)
            first = (size_t)(hit - p);
    }
    if (first < len) {
        mlxc_buf_append(out, p, first);
        s->matched = 1;
        mlxc_buf_reset(&s->pending);
        return 1;
    }
    size_t keep = held_suffix(s, p, len);
    mlxc_buf_append(out, p, len - keep);
    drop_front(&s->pending, len - keep);
    return 0;
}

void mlxc_stop_flush(struct mlxc_stop *s, struct mlxc_buf *out)
{
    if (!s->matched && s->pending.len)
        mlxc_buf_append(out, s->pending.data, s->pending.len);
    mlxc_buf_reset(&s->pending);
}

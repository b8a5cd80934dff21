/* Decoding (HF Tokenizer::decode and tokenizers/src/decoders): ids -> token strings (added tokens first;
 * ids without a token and, with skip_special, special tokens are dropped), then the decoder steps over the
 * list of strings, then the strings joined (with spaces when there is no decoder). */
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "tokenizer/tok_impl.h"

/* Length of the valid UTF-8 sequence starting at s[0] (1..4), 0 when s[0..n) is an incomplete prefix of
 * one, or -k when the first k bytes are a maximal invalid subpart. */
static int utf8_step(const unsigned char *s, size_t n)
{
    unsigned b = s[0];
    if (b < 0x80)
        return 1;
    int w;
    unsigned lo = 0x80, hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf)
        w = 2;
    else if (b >= 0xe0 && b <= 0xef) {
        w = 3;
        if (b == 0xe0)
            lo = 0xa0;
        else if (b == 0xed)
            hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
        w = 4;
        if (b == 0xf0)
            lo = 0x90;
        else if (b == 0xf4)
            hi = 0x8f;
    } else
        return -1;
    for (int k = 1; k < w; k++) {
        if ((size_t)k >= n)
            return 0;
        unsigned c = s[k];
        if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xbf))
            return -k;
    }
    return w;
}

size_t tok_utf8_lossy(const char *str, size_t n, int final, struct mlxc_buf *out)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run = 0; /* s[run..i) is valid and not yet copied */
    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        int k = utf8_step(s + i, n - i);
        if (k > 0) {
            i += (size_t)k;
            continue;
        }
        mlxc_buf_append(out, s + run, i - run);
        if (k == 0) { /* an incomplete sequence at the end */
            if (!final)
                return n - i;
            mlxc_buf_puts(out, "\xef\xbf\xbd");
            return 0;
        }
        mlxc_buf_puts(out, "\xef\xbf\xbd");
        i += (size_t)-k;
        run = i;
    }
    mlxc_buf_append(out, s + run, i - run);
    return 0;
}

/* A list of strings kept in one buffer. */
struct strs {
    struct mlxc_buf text;
    size_t *off, *len;
    size_t n, cap;
};

static int strs_push(struct strs *l, const char *s, size_t n)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        size_t *o = realloc(l->off, cap * sizeof *o);
        if (o)
            l->off = o;
        size_t *g = realloc(l->len, cap * sizeof *g);
        if (g)
            l->len = g;
        if (!o || !g)
            return -1;
        l->cap = cap;
    }
    l->off[l->n] = l->text.len;
    l->len[l->n] = n;
    l->n++;
    mlxc_buf_append(&l->text, s, n);
    return l->text.oom ? -1 : 0;
}

/* Starts a new string in l and returns its index; text is then appended to l->text. */
static size_t strs_begin(struct strs *l)
{
    if (strs_push(l, "", 0))
        return SIZE_MAX;
    return l->n - 1;
}
static void strs_end(struct strs *l, size_t i) { l->len[i] = l->text.len - l->off[i]; }

static void strs_free(struct strs *l)
{
    mlxc_buf_free(&l->text);
    free(l->off);
    free(l->len);
    memset(l, 0, sizeof *l);
}

#define S(l, i) ((l)->text.data + (l)->off[i])

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* "<0xHH>" -> HH (u8::from_str_radix also takes "+H"); -1 otherwise. */
int tok_byte_token(const char *s, size_t n)
{
    if (n != 6 || memcmp(s, "<0x", 3) || s[5] != '>')
        return -1;
    if (s[3] == '+')
        return hexval(s[4]);
    int h = hexval(s[3]), l = hexval(s[4]);
    return h < 0 || l < 0 ? -1 : h * 16 + l;
}

static int flush_bytes(struct strs *out, struct mlxc_buf *bytes)
{
    if (!bytes->len)
        return 0;
    int rc = 0;
    if (mlxc_utf8_valid(bytes->data, bytes->len))
        rc = strs_push(out, bytes->data, bytes->len);
    else
        for (size_t i = 0; i < bytes->len && !rc; i++)
            rc = strs_push(out, "\xef\xbf\xbd", 3);
    mlxc_buf_reset(bytes);
    return rc;
}

/* tok_decode_tokens' working memory: the token strings before and after a decoder step, a step's
 * scratch bytes, and the regex match data (made at the first use). */
struct tok_dec_ws {
    struct strs a, b;
    struct mlxc_buf tmp;
    struct tok_match m;
    int has_match;
};

struct tok_dec_ws *tok_dec_ws_new(void) { return calloc(1, sizeof(struct tok_dec_ws)); }

void tok_dec_ws_free(struct tok_dec_ws *w)
{
    if (!w)
        return;
    strs_free(&w->a);
    strs_free(&w->b);
    mlxc_buf_free(&w->tmp);
    if (w->has_match)
        tok_match_free(&w->m);
    free(w);
}

static int run_step(const struct tok_dec *d, struct tok_match *m, struct strs *in, struct strs *out,
                    struct mlxc_buf *scratch, struct mlxc_err *e)
{
    struct mlxc_buf tmp = *scratch; /* handed back below, grown */
    mlxc_buf_reset(&tmp);
    int rc = 0;
    switch (d->type) {
    case DEC_BYTELEVEL: { /* all tokens become bytes, joined and decoded lossily */
        for (size_t i = 0; i < in->n; i++) {
            size_t mark = tmp.len;
            if (tok_bytelevel_to_raw(S(in, i), in->len[i], &tmp)) {
                tmp.len = mark;
                mlxc_buf_append(&tmp, S(in, i), in->len[i]);
            }
        }
        size_t k = strs_begin(out);
        if (k == SIZE_MAX) {
            rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
            break;
        }
        tok_utf8_lossy(tmp.data ? tmp.data : "", tmp.len, 1, &out->text);
        strs_end(out, k);
        break;
    }
    case DEC_FUSE: {
        size_t k = strs_begin(out);
        if (k == SIZE_MAX) {
            rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
            break;
        }
        for (size_t i = 0; i < in->n; i++)
            mlxc_buf_append(&out->text, S(in, i), in->len[i]);
        strs_end(out, k);
        break;
    }
    case DEC_BYTEFALLBACK:
        for (size_t i = 0; i < in->n && !rc; i++) {
            int b = tok_byte_token(S(in, i), in->len[i]);
            if (b >= 0) {
                mlxc_buf_putc(&tmp, (char)b);
                continue;
            }
            rc = flush_bytes(out, &tmp);
            if (!rc)
                rc = strs_push(out, S(in, i), in->len[i]);
        }
        if (!rc)
            rc = flush_bytes(out, &tmp);
        break;
    case DEC_METASPACE: /* the replacement becomes ' ', and disappears from the first token */
        for (size_t i = 0; i < in->n; i++) {
            size_t k = strs_begin(out);
            if (k == SIZE_MAX) {
                rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
                break;
            }
            const char *s = S(in, i);
            for (size_t j = 0; j < in->len[i];) {
                if (in->len[i] - j >= d->repl_len && !memcmp(s + j, d->repl, d->repl_len)) {
                    if (i != 0 || d->prepend_never)
                        mlxc_buf_putc(&out->text, ' ');
                    j += d->repl_len;
                } else {
                    mlxc_buf_putc(&out->text, s[j++]);
                }
            }
            strs_end(out, k);
        }
        break;
    case DEC_STRIP: /* up to `start` leading and `stop` trailing copies of the content character */
        for (size_t i = 0; i < in->n; i++) {
            const char *s = S(in, i);
            size_t a = 0, b = in->len[i], c = d->content_len;
            for (int k = 0; k < d->start && c && b - a >= c && !memcmp(s + a, d->content, c); k++)
                a += c;
            for (int k = 0; k < d->stop && c && b - a >= c && !memcmp(s + b - c, d->content, c); k++)
                b -= c;
            if (strs_push(out, s + a, b - a)) {
                rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
                break;
            }
        }
        break;
    case DEC_REPLACE:
        for (size_t i = 0; i < in->n && !rc; i++) {
            struct tok_norm n = {.type = NORM_REPLACE, .pat = d->pat, .content = d->content,
                                 .content_len = d->content_len};
            mlxc_buf_reset(&tmp);
            rc = tok_replace(&n, m, S(in, i), in->len[i], &tmp, e);
            if (!rc && strs_push(out, tmp.data ? tmp.data : "", tmp.len))
                rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        }
        break;
    }
    *scratch = tmp;
    if (tmp.oom)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    if (rc)
        return rc;
    if (out->text.oom)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    return 0;
}

int tok_decode_tokens(const struct mlxc_tokenizer *t, const int32_t *ids, size_t n, int skip_special,
                      struct mlxc_buf *out, struct tok_dec_ws *ws, struct mlxc_err *e)
{
    struct tok_dec_ws *w = ws ? ws : tok_dec_ws_new();
    if (!w)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    struct strs *a = &w->a, *b = &w->b;
    a->n = 0;
    mlxc_buf_reset(&a->text);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= t->nids || !t->id_tok[id] || (skip_special && t->id_special[id]))
            continue;
        if (strs_push(a, t->id_tok[id], t->id_len[id]))
            rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    }
    if (!rc && t->ndec && !w->has_match) {
        rc = tok_match_init(&w->m, e);
        w->has_match = !rc;
    }
    for (size_t s = 0; s < t->ndec && !rc; s++) {
        b->n = 0;
        mlxc_buf_reset(&b->text);
        rc = run_step(&t->dec[s], &w->m, a, b, &w->tmp, e);
        struct strs *tmp = a;
        a = b;
        b = tmp;
    }
    for (size_t i = 0; i < a->n && !rc; i++) {
        if (i > 0 && !t->has_decoder)
            mlxc_buf_putc(out, ' ');
        mlxc_buf_append(out, S(a, i), a->len[i]);
    }
    if (!ws)
        tok_dec_ws_free(w);
    else if (rc || out->oom) { /* out of memory: start the next call afresh */
        strs_free(&w->a);
        strs_free(&w->b);
        mlxc_buf_free(&w->tmp);
    }
    if (!rc && out->oom)
        rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    return rc;
}

int mlxc_tok_decode(const struct mlxc_tokenizer *t, const int32_t *ids, size_t n, int skip_special,
                    char **out, size_t *out_len, struct mlxc_err *e)
{
    struct mlxc_buf b = MLXC_BUF_INIT;
    *out = NULL;
    int rc = tok_decode_tokens(t, ids, n, skip_special, &b, NULL, e);
    if (rc) {
        mlxc_buf_free(&b);
        return rc;
    }
    size_t len = b.len;
    *out = mlxc_buf_take(&b);
    if (!*out)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    if (out_len)
        *out_len = len;
    return 0;
}

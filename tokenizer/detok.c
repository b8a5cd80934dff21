/* Streaming detokenizers (mlx_lm tokenizer_utils.py; mlx-lm-facts.md §5), kept exact: the pieces of a
 * stream concatenate to mlxc_tok_decode(ids, skip_special=0), and no piece ends inside a UTF-8 sequence.
 *
 *  BPE (ByteLevel decoder): each token adds its raw bytes; the complete UTF-8 prefix is emitted, an
 *    incomplete tail waits (an invalid sequence becomes U+FFFD at once, as from_utf8_lossy does).
 *  SPM (Replace "▁", ByteFallback, Fuse[, Strip]): a token's text is emitted at once with "▁" as a space;
 *    a run of <0xHH> tokens waits until it ends, since HF decodes a run as a whole (valid UTF-8, or one
 *    U+FFFD per byte); with Strip, the first space of the whole text is dropped.
 *  Naive (any other decoder): the tokens of the current line are decoded again after each token; while
 *    the decode ends with U+FFFD nothing is emitted (as mlx_lm), and the line is committed at "\n". */
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "tokenizer/tok_impl.h"

struct mlxc_detok {
    const struct mlxc_tokenizer *t;
    enum mlxc_detok_kind kind;
    int trim;        /* drop one leading space of the very first text */
    int emitted;     /* some text has been emitted */
    struct mlxc_buf pending; /* BPE: undecoded bytes; SPM: the current <0xHH> run */
    struct mlxc_buf text;    /* the last piece handed out (reused: no allocation per token once grown) */
    struct mlxc_buf full;    /* Naive: the line's decode */
    struct tok_dec_ws *ws;   /* Naive: the decode's working memory (none allocated per token once grown) */
    int32_t *line;   /* Naive: tokens of the current line */
    size_t nline, cap;
    size_t line_emitted; /* Naive: bytes of the line's decode already emitted */
};

int mlxc_detok_init(const struct mlxc_tokenizer *t, struct mlxc_detok **out, struct mlxc_err *e)
{
    struct mlxc_detok *d = calloc(1, sizeof *d);
    if (!d)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    d->t = t;
    d->kind = t->detok_kind;
    d->trim = d->kind == MLXC_DETOK_SPM && t->detok_trim;
    if (d->kind == MLXC_DETOK_NAIVE && !(d->ws = tok_dec_ws_new())) {
        free(d);
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    }
    *out = d;
    return 0;
}

void mlxc_detok_reset(struct mlxc_detok *d)
{
    d->emitted = 0;
    mlxc_buf_reset(&d->pending);
    d->nline = 0;
    d->line_emitted = 0;
    if (d->kind == MLXC_DETOK_BPE)
        d->trim = 0;
    else
        d->trim = d->kind == MLXC_DETOK_SPM && d->t->detok_trim;
}

void mlxc_detok_free(struct mlxc_detok *d)
{
    if (!d)
        return;
    mlxc_buf_free(&d->pending);
    mlxc_buf_free(&d->text);
    mlxc_buf_free(&d->full);
    tok_dec_ws_free(d->ws);
    free(d->line);
    free(d);
}

enum mlxc_detok_kind mlxc_detok_kind(const struct mlxc_detok *d) { return d->kind; }

void mlxc_detok_set_trim_first_space(struct mlxc_detok *d, int on)
{
    if (d->kind != MLXC_DETOK_NAIVE)
        d->trim = on || (d->kind == MLXC_DETOK_SPM && d->t->detok_trim);
}

/* Hands d->text out as the piece (from its first byte on, or its second under the first-space rule). */
static int emit(struct mlxc_detok *d, const char **piece, size_t *piece_len, struct mlxc_err *e)
{
    struct mlxc_buf *text = &d->text;
    if (text->oom) {
        mlxc_buf_free(text); /* a later call starts over */
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    }
    size_t skip = 0;
    if (!d->emitted && text->len > 0) {
        if (d->trim && text->data[0] == ' ')
            skip = 1;
        d->emitted = 1;
    }
    if (text->len > skip) {
        *piece = text->data + skip; /* NUL-terminated: the buffer always is */
        *piece_len = text->len - skip;
    }
    return 0;
}

/* The end of an SPM byte run: valid UTF-8 as it is, otherwise one U+FFFD per byte. */
static void spm_flush(struct mlxc_detok *d, struct mlxc_buf *text)
{
    if (!d->pending.len)
        return;
    if (mlxc_utf8_valid(d->pending.data, d->pending.len))
        mlxc_buf_append(text, d->pending.data, d->pending.len);
    else
        for (size_t i = 0; i < d->pending.len; i++)
            mlxc_buf_puts(text, "\xef\xbf\xbd");
    mlxc_buf_reset(&d->pending);
}

/* Naive: decodes the line and emits what is new (all of it when final). */
static int naive_step(struct mlxc_detok *d, int final, const char **piece, size_t *piece_len, struct mlxc_err *e)
{
    struct mlxc_buf *full = &d->full;
    mlxc_buf_reset(full);
    int rc = tok_decode_tokens(d->t, d->line, d->nline, 0, full, d->ws, e);
    if (rc || full->oom) {
        mlxc_buf_free(full);
        return rc ? rc : mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    }
    /* mlx_lm's last_segment: nothing new while the text ends with U+FFFD. Emitting the part before it
     * would be wrong when the bytes still to come turn that part into something else (a ByteFallback
     * run "<0xE2><0x96>" decodes to two U+FFFD, "<0xE2><0x96><0x81>" to one character). */
    size_t end = full->len;
    if (!final && end >= 3 && !memcmp(full->data + end - 3, "\xef\xbf\xbd", 3))
        end = d->line_emitted;
    if (end > d->line_emitted) {
        mlxc_buf_append(&d->text, full->data + d->line_emitted, end - d->line_emitted);
        d->line_emitted = end;
    }
    if (final || (full->len > 0 && full->data[full->len - 1] == '\n' && end == full->len)) {
        d->nline = 0;
        d->line_emitted = 0;
    }
    return emit(d, piece, piece_len, e);
}

int mlxc_detok_add(struct mlxc_detok *d, int32_t id, const char **piece, size_t *piece_len, struct mlxc_err *e)
{
    const struct mlxc_tokenizer *t = d->t;
    struct mlxc_buf *text = &d->text;
    *piece = NULL;
    *piece_len = 0;
    mlxc_buf_reset(text);
    int known = id >= 0 && id < t->nids && t->id_tok[id];
    switch (d->kind) {
    case MLXC_DETOK_BPE: {
        if (!known)
            return 0;
        mlxc_buf_append(&d->pending, t->id_bytes[id], t->id_bytes_len[id]);
        if (d->pending.oom)
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        size_t held = tok_utf8_lossy(d->pending.data, d->pending.len, 0, text);
        if (held)
            memmove(d->pending.data, d->pending.data + d->pending.len - held, held);
        d->pending.len = held;
        return emit(d, piece, piece_len, e);
    }
    case MLXC_DETOK_SPM: {
        if (!known)
            return 0;
        const char *s = t->id_tok[id];
        size_t n = t->id_len[id];
        /* the byte tokens the full decode's ByteFallback reads ("<0x+H>" included), so the pieces add up */
        int b = tok_byte_token(s, n);
        if (b >= 0) {
            mlxc_buf_putc(&d->pending, (char)b);
            return d->pending.oom ? mlxc_errf(e, MLXC_ENOMEM, "out of memory") : 0;
        }
        spm_flush(d, text);
        for (size_t i = 0; i < n;) {
            if (n - i >= 3 && !memcmp(s + i, "\xe2\x96\x81", 3)) {
                mlxc_buf_putc(text, ' ');
                i += 3;
            } else {
                mlxc_buf_putc(text, s[i++]);
            }
        }
        return emit(d, piece, piece_len, e);
    }
    case MLXC_DETOK_NAIVE:
        if (d->nline == d->cap) {
            size_t cap = d->cap ? d->cap * 2 : 64;
            int32_t *v = realloc(d->line, cap * sizeof *v);
            if (!v)
                return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
            d->line = v;
            d->cap = cap;
        }
        d->line[d->nline++] = id;
        return naive_step(d, 0, piece, piece_len, e);
    }
    return 0;
}

int mlxc_detok_finalize(struct mlxc_detok *d, const char **piece, size_t *piece_len, struct mlxc_err *e)
{
    struct mlxc_buf *text = &d->text;
    *piece = NULL;
    *piece_len = 0;
    mlxc_buf_reset(text);
    switch (d->kind) {
    case MLXC_DETOK_BPE:
        tok_utf8_lossy(d->pending.data ? d->pending.data : "", d->pending.len, 1, text);
        mlxc_buf_reset(&d->pending);
        return emit(d, piece, piece_len, e);
    case MLXC_DETOK_SPM:
        spm_flush(d, text);
        return emit(d, piece, piece_len, e);
    case MLXC_DETOK_NAIVE:
        return naive_step(d, 1, piece, piece_len, e);
    }
    return 0;
}

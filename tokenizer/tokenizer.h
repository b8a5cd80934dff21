/* Hugging Face tokenizer.json tokenizers: encode, decode, and a streaming detokenizer.
 *
 * mlxc_tok_open reads <dir>/tokenizer.json (normalizer, pre-tokenizer, BPE model, post-processor,
 * decoder, added tokens), <dir>/tokenizer_config.json (bos/eos tokens, add_bos_token/add_eos_token,
 * chat_template) and <dir>/special_tokens_map.json when present. Encoding runs the pipeline the way
 * Hugging Face `tokenizers` (0.22) does, and the ids are tested to be identical to it on real tokenizers
 * (tests/tokenizer). The tokenizer is read-only once opened: every function here may be called from
 * several threads at once on the same tokenizer (a detokenizer belongs to one thread).
 *
 * Ownership: strings returned by the accessors belong to the tokenizer and live until mlxc_tok_close;
 * arrays and strings returned through out-parameters are malloc'd and owned by the caller. */
#ifndef MLXC_TOKENIZER_H
#define MLXC_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct mlxc_tokenizer;

/* Opens the tokenizer in folder dir (which must hold tokenizer.json). */
int mlxc_tok_open(const char *dir, struct mlxc_tokenizer **out, struct mlxc_err *e);
void mlxc_tok_close(struct mlxc_tokenizer *t);

/* Encodes text[0..len) (UTF-8; invalid UTF-8 is refused with MLXC_EINVAL). add_special: run the
 * post-processor's special tokens (BOS/EOS) as HF's add_special_tokens=True does. *ids is malloc'd
 * (possibly NULL when *n is 0). */
int mlxc_tok_encode(const struct mlxc_tokenizer *t, const char *text, size_t len, int add_special,
                    int32_t **ids, size_t *n, struct mlxc_err *e);

/* Full decode as HF tokenizer.decode(ids, skip_special_tokens=...): ids without a token are dropped.
 * *out is malloc'd and NUL-terminated; *out_len (may be NULL) receives its length. */
int mlxc_tok_decode(const struct mlxc_tokenizer *t, const int32_t *ids, size_t n, int skip_special,
                    char **out, size_t *out_len, struct mlxc_err *e);

int32_t mlxc_tok_vocab_size(const struct mlxc_tokenizer *t);                 /* len(vocab) incl. added tokens */
int32_t mlxc_tok_token_to_id(const struct mlxc_tokenizer *t, const char *token); /* -1 if absent */
const char *mlxc_tok_id_to_token(const struct mlxc_tokenizer *t, int32_t id);  /* NULL if none */
int32_t mlxc_tok_bos_id(const struct mlxc_tokenizer *t); /* -1 if none */
int32_t mlxc_tok_eos_id(const struct mlxc_tokenizer *t); /* from tokenizer_config eos_token; -1 if none */
const char *mlxc_tok_bos_token(const struct mlxc_tokenizer *t); /* strings or NULL */
const char *mlxc_tok_eos_token(const struct mlxc_tokenizer *t);
/* add_bos_token / add_eos_token of tokenizer_config.json: 1, 0, or -1 when the key is absent. */
int mlxc_tok_add_bos(const struct mlxc_tokenizer *t);
int mlxc_tok_add_eos(const struct mlxc_tokenizer *t);
/* The raw JSON text of tokenizer_config's chat_template value (a JSON string or a list of
 * {"name", "template"}), or of chat_template.jinja's content as a JSON string when the config has none;
 * NULL when there is no template. */
const char *mlxc_tok_chat_template_source(const struct mlxc_tokenizer *t);
/* The template text itself: the string, or the "default" entry of a list (else its first); NULL if none. */
const char *mlxc_tok_chat_template(const struct mlxc_tokenizer *t);
int mlxc_tok_is_special(const struct mlxc_tokenizer *t, int32_t id);
int mlxc_tok_has_thinking(const struct mlxc_tokenizer *t); /* vocab has <think> and </think> */

/* ---- streaming detokenizer ----
 * Chosen from tokenizer.json's decoder as mlx_lm does (mlx-lm-facts.md §5): the SentencePiece sequence
 * (Replace "▁", ByteFallback, Fuse[, Strip]) streams as SPM, ByteLevel as BPE, anything else as Naive.
 * Pieces never split a UTF-8 sequence, and the concatenation of every piece (finalize included) equals
 * mlxc_tok_decode(ids, skip_special=0) of the tokens added. */
struct mlxc_detok;

enum mlxc_detok_kind { MLXC_DETOK_NAIVE, MLXC_DETOK_SPM, MLXC_DETOK_BPE };

int mlxc_detok_init(const struct mlxc_tokenizer *t, struct mlxc_detok **out, struct mlxc_err *e);
void mlxc_detok_reset(struct mlxc_detok *d);
/* Adds one token; *piece receives the newly printable text, or NULL when nothing is new. The text is d's
 * own (NUL-terminated) and lasts until the next call on d: the BPE and SPM streams allocate nothing per
 * token once their buffers have grown (the Naive one decodes its line again, which allocates). */
int mlxc_detok_add(struct mlxc_detok *d, int32_t id, const char **piece, size_t *piece_len, struct mlxc_err *e);
/* Flushes what is held back (an incomplete UTF-8 tail becomes U+FFFD, as the full decode does); the
 * piece as from mlxc_detok_add. */
int mlxc_detok_finalize(struct mlxc_detok *d, const char **piece, size_t *piece_len, struct mlxc_err *e);
void mlxc_detok_free(struct mlxc_detok *d);
enum mlxc_detok_kind mlxc_detok_kind(const struct mlxc_detok *d);
/* mlx_lm's own quirk for the BPE and SPM streams: a leading space of the very first text is dropped
 * (mlx_lm's BPEStreamingDetokenizer always does this; HF's ByteLevel decode does not, so with it on the
 * concatenation may differ from mlxc_tok_decode by that one space). Off by default. */
void mlxc_detok_set_trim_first_space(struct mlxc_detok *d, int on);

#endif

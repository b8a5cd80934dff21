/* Internals of the tokenizer: the loaded pipeline (normalizer, pre-tokenizer, BPE model, post-processor,
 * decoder, added vocabulary) and the per-call scratch state. Only the tokenizer's own .c files include this.
 *
 * Sequences (of normalizers, pre-tokenizers, decoders) are flattened into arrays of steps at load.
 * Byte-level tokenizers: when the pre-tokenizer ends with ByteLevel, the BPE model works on raw bytes
 * instead of GPT-2's byte-to-unicode characters; its vocabulary is translated back to raw bytes at load
 * (see bytelevel.c), which gives the same ids without mapping every input byte. */
#ifndef MLXC_TOK_IMPL_H
#define MLXC_TOK_IMPL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/strmap.h"
#include "tokenizer/tokenizer.h"

/* ---- patterns: a literal string or a PCRE2 regex (Split, Replace) ---- */

struct tok_pat {
    char *lit; /* literal pattern (NULL for a regex) */
    size_t lit_len;
    pcre2_code *re;
};

/* Compiles an HF regex (Oniguruma syntax as HF uses it) with PCRE2_UTF | PCRE2_UCP (and JIT). `\s`/`\S`
 * are rewritten to Oniguruma's Unicode White_Space set, which PCRE2's \s lacks U+0085 of. */
int tok_pat_regex(struct tok_pat *p, const char *pat, struct mlxc_err *e);
int tok_pat_literal(struct tok_pat *p, const char *s, size_t n, struct mlxc_err *e);
void tok_pat_free(struct tok_pat *p);

/* Per-call regex state (match data and JIT stack), so a tokenizer can be shared by threads. */
struct tok_match {
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *js;
};
int tok_match_init(struct tok_match *m, struct mlxc_err *e);
void tok_match_free(struct tok_match *m);
/* Finds the first match of p in s[0..n) at or after `from`: 1 and [*ms, *me), 0 if none, <0 on error.
 * An empty regex match is reported as is; callers step past it. */
int tok_pat_find(const struct tok_pat *p, struct tok_match *m, const char *s, size_t n, size_t from,
                 size_t *ms, size_t *me, struct mlxc_err *e);

/* ---- Unicode character classes (utf8proc), as Rust's char methods define them ---- */

int tok_is_whitespace(uint32_t cp);  /* char::is_whitespace: White_Space */
int tok_is_numeric(uint32_t cp);     /* char::is_numeric: Nd, Nl, No */
int tok_is_punctuation(uint32_t cp); /* ASCII punctuation or P* */
int tok_is_word(uint32_t cp);        /* regex \w: letters, marks, Nd, Nl, Pc, joiners */
/* Decodes the code point at s[i] of valid UTF-8; returns its length. */
int tok_cp(const char *s, size_t n, size_t i, uint32_t *cp);
/* Start of the code point that ends at s[i] (i > 0). */
size_t tok_prev_cp(const char *s, size_t i);

/* ---- normalizers ---- */

enum tok_norm_type { NORM_NFC, NORM_NFD, NORM_NFKC, NORM_NFKD, NORM_LOWER, NORM_STRIP, NORM_REPLACE, NORM_PREPEND };

struct tok_norm {
    enum tok_norm_type type;
    int left, right;    /* Strip */
    struct tok_pat pat; /* Replace */
    char *content;      /* Replace content, Prepend text */
    size_t content_len;
};

/* Applies the normalizer steps to s[0..n) and appends the result to out. zero (may be NULL): on entry the
 * number of leading bytes of s that align to offset 0 of the original text, on return the same for the
 * output (HF tracks full alignments; this is the one fact of them that the pipeline needs). */
int tok_normalize(const struct tok_norm *steps, size_t nsteps, struct tok_match *m, const char *s, size_t n,
                  struct mlxc_buf *out, size_t *zero, struct mlxc_err *e);
/* One Replace step (st->pat by st->content) on s[0..n), appended to out: what the Replace decoder does to
 * each token string, with no buffer of its own. */
int tok_replace(const struct tok_norm *st, struct tok_match *m, const char *s, size_t n, struct mlxc_buf *out,
                struct mlxc_err *e);

/* ---- pre-tokenizers ---- */

enum tok_pre_type { PRE_SPLIT, PRE_BYTELEVEL, PRE_METASPACE, PRE_DIGITS, PRE_PUNCT, PRE_WHITESPACE, PRE_WSSPLIT,
                    PRE_BERT };
enum tok_behavior { BEH_REMOVED, BEH_ISOLATED, BEH_PREVIOUS, BEH_NEXT, BEH_CONTIGUOUS };
enum tok_prepend { PREPEND_ALWAYS, PREPEND_FIRST, PREPEND_NEVER };

struct tok_pre {
    enum tok_pre_type type;
    enum tok_behavior behavior;
    struct tok_pat pat; /* Split; ByteLevel's GPT-2 regex; Whitespace's regex */
    int invert;
    int add_prefix_space, use_regex; /* ByteLevel */
    char repl[8];                    /* Metaspace replacement character (UTF-8) */
    size_t repl_len;
    enum tok_prepend prepend;
    int split;           /* Metaspace */
    int individual;      /* Digits */
};

/* A piece of text being pre-tokenized: bytes [off, off+len) of a work arena. */
struct tok_piece {
    size_t off, len;
    size_t zero; /* leading bytes that align to offset 0 of the original input, as HF's alignments do
                    (Metaspace's prepend_scheme "first" prepends only when this is not 0) */
};

struct tok_pieces {
    struct tok_piece *v;
    size_t n, cap;
};

/* ---- BPE model ---- */

struct tok_merge_slot {
    uint64_t key; /* (left id << 32) | right id; UINT64_MAX = empty */
    int32_t rank, id;
};

struct tok_bpe {
    struct mlxc_strmap vocab; /* model domain (raw bytes for byte-level) -> id */
    struct tok_merge_slot *merges;
    size_t merge_cap; /* power of two */
    int32_t byte_id[256]; /* byte-level: id of each single-byte token, -1 if absent */
    int32_t fallback_id[256]; /* byte_fallback: id of "<0xHH>", -1 if absent */
    int byte_level, byte_fallback, ignore_merges, fuse_unk;
    int32_t unk_id; /* -1 if none */
    char *prefix, *suffix; /* continuing_subword_prefix, end_of_word_suffix (model domain) */
    size_t prefix_len, suffix_len;
};

/* Scratch for merging words and the per-call word cache. */
struct tok_bpe_work {
    int32_t *sym_id, *sym_prev, *sym_next; /* symbols of the word: id (-1 = merged away), links */
    size_t sym_cap;
    struct tok_heap_item *heap;
    size_t heap_cap;
    /* word cache: open addressing over (key bytes -> ids) */
    struct tok_cache_slot *slots;
    size_t cache_cap, cache_count;
    struct mlxc_buf keys;
    int32_t *ids;
    size_t nids, ids_cap;
};

void tok_bpe_free(struct tok_bpe *b);
int tok_bpe_merge_put(struct tok_bpe *b, int32_t left, int32_t right, int32_t rank, int32_t id);
/* Tokenizes one word (model domain) and appends its ids to *out. */
int tok_bpe_word(const struct tok_bpe *b, struct tok_bpe_work *w, const char *s, size_t n, int32_t **out,
                 size_t *nout, size_t *cap, struct mlxc_err *e);
void tok_bpe_work_free(struct tok_bpe_work *w);

/* ---- byte-level map (GPT-2 bytes_to_unicode) ---- */

/* Code point that byte b maps to. */
uint32_t tok_byte_to_cp(unsigned b);
/* Byte that code point cp maps back to, or -1. */
int tok_cp_to_byte(uint32_t cp);
/* Translates a byte-level token string to raw bytes into out; returns 0, or -1 when a character is not in
 * the map (out is then left partly written). */
int tok_bytelevel_to_raw(const char *s, size_t n, struct mlxc_buf *out);

/* ---- added tokens ---- */

struct tok_added {
    char *content;
    size_t len;
    int32_t id;
    int special, single_word, lstrip, rstrip, normalized;
};

/* A byte trie over added-token contents for leftmost-longest matching. */
struct tok_trie_node {
    int32_t child; /* first child index, -1 */
    int32_t sibling;
    int32_t token; /* index into the added array, -1 */
    unsigned char byte;
};
struct tok_trie {
    struct tok_trie_node *nodes;
    size_t n, cap;
    unsigned char first[256]; /* 1 when some pattern starts with that byte */
};

/* One part of a split: [start, end) and the added token's index, or -1 for ordinary text. */
struct tok_split {
    size_t start, end;
    int32_t added;
};

int tok_trie_add(struct tok_trie *t, const char *s, size_t n, int32_t token);
void tok_trie_free(struct tok_trie *t);
/* HF AddedVocabulary::find_matches: splits s[0..n) around the added tokens found by trie. */
int tok_added_split(const struct mlxc_tokenizer *t, const struct tok_trie *trie, const char *s, size_t n,
                    struct tok_split **out, size_t *nout, size_t *cap);

/* ---- decoders ---- */

enum tok_dec_type { DEC_BYTELEVEL, DEC_METASPACE, DEC_BYTEFALLBACK, DEC_FUSE, DEC_STRIP, DEC_REPLACE };

struct tok_dec {
    enum tok_dec_type type;
    struct tok_pat pat;
    char *content; /* Replace content; Strip content char */
    size_t content_len;
    int start, stop; /* Strip */
    char repl[8];    /* Metaspace */
    size_t repl_len;
    int prepend_never;
};

/* Appends the lossy UTF-8 decoding of s[0..n) to out (Rust's String::from_utf8_lossy: each maximal
 * invalid subsequence becomes one U+FFFD). final=0: an incomplete sequence at the very end is left
 * undecoded and its length returned (for streaming); final=1 turns it into U+FFFD and returns 0. */
size_t tok_utf8_lossy(const char *s, size_t n, int final, struct mlxc_buf *out);

/* ---- the tokenizer ---- */

struct mlxc_tokenizer {
    char *dir;
    /* vocabulary: id -> token string (added tokens take precedence), token string -> id */
    char **id_tok;
    uint32_t *id_len;
    unsigned char *id_special; /* 1 for added tokens marked special */
    int32_t nids;              /* size of id_tok (max id + 1) */
    int32_t vocab_size;        /* distinct token strings (model vocab + added) */
    struct mlxc_strmap tok_map; /* token string -> id (added first, then model) */

    struct tok_norm *norm;
    size_t nnorm;
    struct tok_pre *pre;
    size_t npre;
    struct tok_bpe bpe;

    struct tok_added *added;
    size_t nadded;
    struct tok_trie trie_raw;  /* added tokens with normalized=false, matched on the input */
    struct tok_trie trie_norm; /* normalized=true, matched on normalized text */

    int32_t *post_pre, *post_post; /* post-processor ids around the sequence (add_special) */
    size_t npost_pre, npost_post;

    struct tok_dec *dec;
    size_t ndec;
    int has_decoder;
    enum mlxc_detok_kind detok_kind;
    int detok_trim; /* SPM with Strip */
    /* byte-level decoder: raw bytes of every id (the ByteLevel decode of that one token) */
    char **id_bytes;
    uint32_t *id_bytes_len;

    /* tokenizer_config.json */
    char *bos_token, *eos_token;
    int add_bos, add_eos;
    char *chat_template_json, *chat_template;
};

/* load.c helpers used by the component parsers */
struct cJSON;
int tok_load_normalizer(struct mlxc_tokenizer *t, const struct cJSON *j, struct mlxc_err *e);
int tok_load_pretokenizer(struct mlxc_tokenizer *t, const struct cJSON *j, struct mlxc_err *e);
int tok_load_model(struct mlxc_tokenizer *t, const struct cJSON *j, struct mlxc_err *e);
int tok_load_postprocessor(struct mlxc_tokenizer *t, const struct cJSON *j, struct mlxc_err *e);
int tok_load_decoder(struct mlxc_tokenizer *t, const struct cJSON *j, struct mlxc_err *e);
int tok_load_config(struct mlxc_tokenizer *t, struct mlxc_err *e);

/* pretok.c: runs the pre-tokenizer steps over the arena piece [off, off+len) and appends the words. */
int tok_pretokenize(const struct mlxc_tokenizer *t, struct tok_match *m, struct mlxc_buf *arena,
                    struct tok_piece in, struct tok_pieces *out, struct mlxc_err *e);
int tok_pieces_push(struct tok_pieces *p, size_t off, size_t len, size_t zero);
void tok_pieces_free(struct tok_pieces *p);

/* The largest token id a tokenizer.json may use (vocabulary and added tokens): the id tables are sized
 * by the largest id, so one huge id would ask for gigabytes; no model has a vocabulary this large (a
 * config.json's vocab_size is capped the same, core/config.c). */
#define TOK_MAX_ID ((1 << 23) - 1)

/* decode.c: the byte of a ByteFallback token "<0xHH>" (u8::from_str_radix, so "+H" too), or -1. */
int tok_byte_token(const char *s, size_t n);
/* decode.c: HF decode of token strings through the decoder steps, appended to out. ws: working memory kept
 * between calls (tok_dec_ws_new; a call then allocates nothing once it has grown), or NULL for a
 * temporary one. */
struct tok_dec_ws;
struct tok_dec_ws *tok_dec_ws_new(void);
void tok_dec_ws_free(struct tok_dec_ws *w);
int tok_decode_tokens(const struct mlxc_tokenizer *t, const int32_t *ids, size_t n, int skip_special,
                      struct mlxc_buf *out, struct tok_dec_ws *ws, struct mlxc_err *e);

#endif

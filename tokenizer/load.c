/* Opening a tokenizer folder: tokenizer.json (model, vocabulary, merges, added tokens, and the other
 * components through components.c), tokenizer_config.json and special_tokens_map.json; the accessors. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sys.h"
#include "core/utf8.h"
#include "tokenizer/tok_impl.h"

#define MAX_JSON_BYTES ((size_t)1 << 30)

static cJSON *read_json(const char *dir, const char *name, int optional, struct mlxc_err *e)
{
    char *path = mlxc_path_join(dir, name);
    if (!path) {
        mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        return NULL;
    }
    if (optional && !mlxc_path_exists(path)) {
        free(path);
        mlxc_err_clear(e);
        return NULL;
    }
    size_t len;
    char *text = mlxc_read_file(path, MAX_JSON_BYTES, &len, e);
    if (!text) {
        free(path);
        return NULL;
    }
    const char *end = NULL;
    size_t valid = mlxc_utf8_valid_prefix(text, len);
    cJSON *j = valid == len ? cJSON_ParseWithLengthOpts(text, len, &end, 0) : NULL;
    if (valid != len) /* JSON is UTF-8 (RFC 8259 §8.1); HF's serde_json refuses anything else */
        mlxc_errf(e, MLXC_EFORMAT, "'%s' is not valid UTF-8 (byte %zu)", path, valid);
    else if (!j)
        mlxc_errf(e, MLXC_EFORMAT, "'%s': bad JSON near byte %zu", path, end ? (size_t)(end - text) : (size_t)0);
    else if (!cJSON_IsObject(j)) {
        mlxc_errf(e, MLXC_EFORMAT, "'%s': not a JSON object", path);
        cJSON_Delete(j);
        j = NULL;
    }
    free(text);
    free(path);
    return j;
}

/* ---- the BPE model ---- */

static int lookup(const struct mlxc_strmap *m, const char *s, size_t n, int32_t *id)
{
    int64_t v;
    if (!mlxc_strmap_get(m, s, n, &v))
        return 0;
    *id = (int32_t)v;
    return 1;
}

/* Translates an affix (continuing_subword_prefix, end_of_word_suffix) into the model domain. */
static int load_affix(const struct mlxc_tokenizer *t, const cJSON *model, const char *key, char **out,
                      size_t *out_len, struct mlxc_err *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(model, key);
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return 0;
    struct mlxc_buf b = MLXC_BUF_INIT;
    if (t->bpe.byte_level) {
        if (tok_bytelevel_to_raw(v->valuestring, strlen(v->valuestring), &b)) {
            mlxc_buf_free(&b);
            return mlxc_errf(e, MLXC_EUNSUP, "model %s '%s' is not byte-level text in 'tokenizer.json'", key,
                             v->valuestring);
        }
    } else {
        mlxc_buf_puts(&b, v->valuestring);
    }
    *out_len = b.len;
    *out = mlxc_buf_take(&b);
    return *out ? 0 : mlxc_errf(e, MLXC_ENOMEM, "out of memory");
}

static int load_merges(struct mlxc_tokenizer *t, const cJSON *merges, size_t prefix_len, struct mlxc_err *e)
{
    struct mlxc_buf joined = MLXC_BUF_INIT;
    int32_t rank = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, merges)
    {
        const char *a, *b;
        size_t na, nb;
        if (cJSON_IsString(m)) {
            const char *sp = strchr(m->valuestring, ' ');
            if (!sp) {
                mlxc_buf_free(&joined);
                return mlxc_errf(e, MLXC_EFORMAT, "merge %d '%s' is not two tokens in 'tokenizer.json'", rank,
                                 m->valuestring);
            }
            a = m->valuestring;
            na = (size_t)(sp - a);
            b = sp + 1;
            nb = strlen(b);
        } else if (cJSON_GetArraySize(m) == 2 && cJSON_IsString(cJSON_GetArrayItem(m, 0)) &&
                   cJSON_IsString(cJSON_GetArrayItem(m, 1))) {
            a = cJSON_GetArrayItem(m, 0)->valuestring;
            b = cJSON_GetArrayItem(m, 1)->valuestring;
            na = strlen(a);
            nb = strlen(b);
        } else {
            mlxc_buf_free(&joined);
            return mlxc_errf(e, MLXC_EFORMAT, "merge %d is neither \"a b\" nor [a, b] in 'tokenizer.json'", rank);
        }
        int32_t ia, ib, id;
        /* with a continuing_subword_prefix, "a ##b" merges into "ab" (HF BpeBuilder::build) */
        if (prefix_len && nb < prefix_len) {
            mlxc_buf_free(&joined);
            return mlxc_errf(e, MLXC_EFORMAT, "merge %d '%s' is shorter than the subword prefix in 'tokenizer.json'",
                             rank, b);
        }
        mlxc_buf_reset(&joined);
        mlxc_buf_append(&joined, a, na);
        mlxc_buf_append(&joined, b + prefix_len, nb - prefix_len);
        if (joined.oom) {
            mlxc_buf_free(&joined);
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        }
        if (!lookup(&t->tok_map, a, na, &ia) || !lookup(&t->tok_map, b, nb, &ib) ||
            !lookup(&t->tok_map, joined.data, joined.len, &id)) {
            int rc = mlxc_errf(e, MLXC_EFORMAT, "merge %d '%.*s' '%.*s' uses a token missing from the vocab in "
                                              "'tokenizer.json'", rank, (int)na, a, (int)nb, b);
            mlxc_buf_free(&joined);
            return rc;
        }
        if (tok_bpe_merge_put(&t->bpe, ia, ib, rank, id)) {
            mlxc_buf_free(&joined);
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        }
        rank++;
    }
    mlxc_buf_free(&joined);
    return 0;
}

int tok_load_model(struct mlxc_tokenizer *t, const cJSON *model, struct mlxc_err *e)
{
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(model, "type"));
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    if (!cJSON_IsObject(model))
        return mlxc_errf(e, MLXC_EFORMAT, "no model in 'tokenizer.json'");
    if (type && strcmp(type, "BPE"))
        return mlxc_errf(e, MLXC_EUNSUP, "unsupported model type '%s' in 'tokenizer.json' (only BPE)", type);
    if (!cJSON_IsObject(vocab) || !cJSON_IsArray(merges))
        return mlxc_errf(e, MLXC_EFORMAT, "BPE model without vocab and merges in 'tokenizer.json'");
    struct tok_bpe *b = &t->bpe;
    b->byte_level = t->npre > 0 && t->pre[t->npre - 1].type == PRE_BYTELEVEL;
    b->byte_fallback = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "byte_fallback"));
    b->ignore_merges = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "ignore_merges"));
    b->fuse_unk = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "fuse_unk"));
    b->unk_id = -1;
    mlxc_strmap_init(&b->vocab);

    /* model vocabulary: token string -> id, and the model-domain map */
    struct mlxc_buf raw = MLXC_BUF_INIT;
    const cJSON *it;
    cJSON_ArrayForEach(it, vocab)
    {
        if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > TOK_MAX_ID) {
            mlxc_buf_free(&raw);
            return mlxc_errf(e, MLXC_EFORMAT, "vocab entry '%s' has no valid id (0 to %d) in 'tokenizer.json'",
                             it->string, TOK_MAX_ID);
        }
        int32_t id = (int32_t)it->valuedouble;
        size_t n = strlen(it->string);
        if (mlxc_strmap_put(&t->tok_map, it->string, n, id) < 0) {
            mlxc_buf_free(&raw);
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        }
        if (id >= t->nids)
            t->nids = id + 1;
        const char *key = it->string;
        if (b->byte_level) {
            mlxc_buf_reset(&raw);
            if (tok_bytelevel_to_raw(it->string, n, &raw))
                continue; /* cannot come out of the byte-level pre-tokenizer */
            key = raw.data ? raw.data : "";
            n = raw.len;
        }
        if (mlxc_strmap_put(&b->vocab, key, n, id) < 0) {
            mlxc_buf_free(&raw);
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        }
    }
    mlxc_buf_free(&raw);
    for (int i = 0; i < 256; i++) {
        char name[8], u[4];
        snprintf(name, sizeof name, "<0x%02X>", i);
        if (!lookup(&t->tok_map, name, strlen(name), &b->fallback_id[i]))
            b->fallback_id[i] = -1;
        int k = mlxc_utf8_encode(tok_byte_to_cp((unsigned)i), u);
        if (!b->byte_level || !lookup(&t->tok_map, u, (size_t)k, &b->byte_id[i]))
            b->byte_id[i] = -1;
    }
    const char *unk = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(model, "unk_token"));
    if (unk && !lookup(&t->tok_map, unk, strlen(unk), &b->unk_id))
        b->unk_id = -1;
    int rc = load_affix(t, model, "continuing_subword_prefix", &b->prefix, &b->prefix_len, e);
    if (!rc)
        rc = load_affix(t, model, "end_of_word_suffix", &b->suffix, &b->suffix_len, e);
    const char *prefix = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(model, "continuing_subword_prefix"));
    if (!rc)
        rc = load_merges(t, merges, prefix ? strlen(prefix) : 0, e);
    return rc;
}

/* ---- added tokens ---- */

static int load_added(struct mlxc_tokenizer *t, const cJSON *arr, struct mlxc_err *e)
{
    int n = cJSON_GetArraySize(arr);
    if (n == 0)
        return 0;
    t->added = calloc((size_t)n, sizeof *t->added);
    if (!t->added)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        const char *content = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "content"));
        if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble > TOK_MAX_ID || !content)
            return mlxc_errf(e, MLXC_EFORMAT, "added token %zu has no id (0 to %d) or content in 'tokenizer.json'",
                             t->nadded, TOK_MAX_ID);
        struct tok_added *a = &t->added[t->nadded++];
        a->len = strlen(content);
        a->content = strdup(content);
        if (!a->content)
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        a->id = (int32_t)id->valuedouble;
        a->special = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "special"));
        a->single_word = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "single_word"));
        a->lstrip = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "lstrip"));
        a->rstrip = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "rstrip"));
        const cJSON *norm = cJSON_GetObjectItemCaseSensitive(it, "normalized");
        a->normalized = cJSON_IsBool(norm) ? cJSON_IsTrue(norm) : !a->special;
        if (a->id >= t->nids)
            t->nids = a->id + 1;
    }
    return 0;
}

/* The tries (normalized tokens are matched by their normalized text) and the id tables. */
static int index_added(struct mlxc_tokenizer *t, struct mlxc_err *e)
{
    struct tok_match m;
    int rc = tok_match_init(&m, e);
    if (rc)
        return rc;
    struct mlxc_buf nb = MLXC_BUF_INIT;
    /* HF builds the tries from the special tokens first, then the others */
    for (int pass = 0; pass < 2 && rc == 0; pass++)
        for (size_t i = 0; i < t->nadded && rc == 0; i++) {
            struct tok_added *a = &t->added[i];
            if (a->special != (pass == 0))
                continue;
            if (!a->normalized) {
                if (tok_trie_add(&t->trie_raw, a->content, a->len, (int32_t)i))
                    rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
                continue;
            }
            mlxc_buf_reset(&nb);
            rc = tok_normalize(t->norm, t->nnorm, &m, a->content, a->len, &nb, NULL, e);
            if (rc == 0 && tok_trie_add(&t->trie_norm, nb.data ? nb.data : "", nb.len, (int32_t)i))
                rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        }
    mlxc_buf_free(&nb);
    tok_match_free(&m);
    if (rc)
        return rc;

    t->id_tok = calloc((size_t)t->nids + 1, sizeof *t->id_tok);
    t->id_len = calloc((size_t)t->nids + 1, sizeof *t->id_len);
    t->id_special = calloc((size_t)t->nids + 1, 1);
    if (!t->id_tok || !t->id_len || !t->id_special)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    for (size_t i = 0; i < t->tok_map.cap; i++) {
        const struct mlxc_strmap_slot *s = &t->tok_map.slots[i];
        if (s->key && !t->id_tok[s->value]) {
            t->id_tok[s->value] = (char *)s->key; /* owned by the map */
            t->id_len[s->value] = (uint32_t)s->len;
        }
    }
    for (size_t i = 0; i < t->nadded; i++) {
        struct tok_added *a = &t->added[i];
        t->id_tok[a->id] = a->content; /* added tokens take precedence, as in HF's id_to_token */
        t->id_len[a->id] = (uint32_t)a->len;
        t->id_special[a->id] = (unsigned char)a->special;
        if (mlxc_strmap_put(&t->tok_map, a->content, a->len, a->id) < 0)
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    }
    t->vocab_size = (int32_t)t->tok_map.count;
    return 0;
}

/* Raw bytes of every token for the byte-level decoder and streamer: a token whose characters are all in
 * the byte map becomes those bytes, any other its UTF-8 text (HF ByteLevel::decode_chain). */
static int index_bytes(struct mlxc_tokenizer *t, struct mlxc_err *e)
{
    t->id_bytes = calloc((size_t)t->nids + 1, sizeof *t->id_bytes);
    t->id_bytes_len = calloc((size_t)t->nids + 1, sizeof *t->id_bytes_len);
    if (!t->id_bytes || !t->id_bytes_len)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    struct mlxc_buf b = MLXC_BUF_INIT;
    for (int32_t id = 0; id < t->nids; id++) {
        if (!t->id_tok[id])
            continue;
        mlxc_buf_reset(&b);
        if (tok_bytelevel_to_raw(t->id_tok[id], t->id_len[id], &b)) {
            mlxc_buf_reset(&b);
            mlxc_buf_append(&b, t->id_tok[id], t->id_len[id]);
        }
        t->id_bytes_len[id] = (uint32_t)b.len;
        t->id_bytes[id] = malloc(b.len + 1);
        if (!t->id_bytes[id] || b.oom) {
            mlxc_buf_free(&b);
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        }
        memcpy(t->id_bytes[id], b.data ? b.data : "", b.len);
    }
    mlxc_buf_free(&b);
    return 0;
}

/* ---- tokenizer_config.json and special_tokens_map.json ---- */

/* A token given as a string or as an AddedToken object {"content": ...}. */
static const char *token_text(const cJSON *v)
{
    if (cJSON_IsString(v))
        return v->valuestring;
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "content"));
}

static int set_token(char **dst, const cJSON *v, struct mlxc_err *e)
{
    const char *s = token_text(v);
    if (!s)
        return 0;
    free(*dst);
    *dst = strdup(s);
    return *dst ? 0 : mlxc_errf(e, MLXC_ENOMEM, "out of memory");
}

static int load_template(struct mlxc_tokenizer *t, const cJSON *ct, struct mlxc_err *e)
{
    if (cJSON_IsString(ct)) {
        t->chat_template = strdup(ct->valuestring);
    } else if (cJSON_IsArray(ct)) {
        const cJSON *it, *pick = cJSON_GetArrayItem(ct, 0);
        cJSON_ArrayForEach(it, ct)
        {
            const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "name"));
            if (name && !strcmp(name, "default"))
                pick = it;
        }
        const char *tpl = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pick, "template"));
        t->chat_template = tpl ? strdup(tpl) : NULL;
    } else {
        return 0;
    }
    t->chat_template_json = cJSON_PrintUnformatted(ct);
    return t->chat_template_json ? 0 : mlxc_errf(e, MLXC_ENOMEM, "out of memory");
}

int tok_load_config(struct mlxc_tokenizer *t, struct mlxc_err *e)
{
    t->add_bos = t->add_eos = -1;
    cJSON *cfg = read_json(t->dir, "tokenizer_config.json", 1, e);
    if (!cfg && e->code)
        return e->code;
    int rc = 0;
    if (cfg) {
        const cJSON *v;
        rc = set_token(&t->bos_token, cJSON_GetObjectItemCaseSensitive(cfg, "bos_token"), e);
        if (!rc)
            rc = set_token(&t->eos_token, cJSON_GetObjectItemCaseSensitive(cfg, "eos_token"), e);
        if ((v = cJSON_GetObjectItemCaseSensitive(cfg, "add_bos_token")) && cJSON_IsBool(v))
            t->add_bos = cJSON_IsTrue(v);
        if ((v = cJSON_GetObjectItemCaseSensitive(cfg, "add_eos_token")) && cJSON_IsBool(v))
            t->add_eos = cJSON_IsTrue(v);
        if (!rc)
            rc = load_template(t, cJSON_GetObjectItemCaseSensitive(cfg, "chat_template"), e);
        cJSON_Delete(cfg);
        if (rc)
            return rc;
    }
    if (!t->chat_template_json) { /* newer checkpoints keep the template in its own file */
        char *path = mlxc_path_join(t->dir, "chat_template.jinja");
        if (path && mlxc_path_exists(path)) {
            size_t len;
            char *text = mlxc_read_file(path, MAX_JSON_BYTES, &len, e);
            if (!text) {
                free(path);
                return e->code;
            }
            struct mlxc_buf b = MLXC_BUF_INIT;
            mlxc_buf_json_str(&b, text, len);
            t->chat_template = text;
            t->chat_template_json = mlxc_buf_take(&b);
        }
        free(path);
    }
    /* transformers lets special_tokens_map.json override the config's tokens */
    cJSON *map = read_json(t->dir, "special_tokens_map.json", 1, e);
    if (!map && e->code)
        return e->code;
    if (map) {
        rc = set_token(&t->bos_token, cJSON_GetObjectItemCaseSensitive(map, "bos_token"), e);
        if (!rc)
            rc = set_token(&t->eos_token, cJSON_GetObjectItemCaseSensitive(map, "eos_token"), e);
        cJSON_Delete(map);
    }
    return rc;
}

/* ---- open and close ---- */

int mlxc_tok_open(const char *dir, struct mlxc_tokenizer **out, struct mlxc_err *e)
{
    *out = NULL;
    struct mlxc_tokenizer *t = calloc(1, sizeof *t);
    if (!t || !(t->dir = strdup(dir))) {
        free(t);
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    }
    mlxc_strmap_init(&t->tok_map);
    mlxc_err_clear(e);
    cJSON *j = read_json(dir, "tokenizer.json", 0, e);
    int rc = j ? 0 : e->code;
    if (!rc)
        rc = tok_load_normalizer(t, cJSON_GetObjectItemCaseSensitive(j, "normalizer"), e);
    if (!rc)
        rc = tok_load_pretokenizer(t, cJSON_GetObjectItemCaseSensitive(j, "pre_tokenizer"), e);
    if (!rc)
        rc = tok_load_model(t, cJSON_GetObjectItemCaseSensitive(j, "model"), e);
    if (!rc)
        rc = load_added(t, cJSON_GetObjectItemCaseSensitive(j, "added_tokens"), e);
    if (!rc)
        rc = index_added(t, e);
    if (!rc)
        rc = tok_load_postprocessor(t, cJSON_GetObjectItemCaseSensitive(j, "post_processor"), e);
    if (!rc)
        rc = tok_load_decoder(t, cJSON_GetObjectItemCaseSensitive(j, "decoder"), e);
    if (!rc && t->has_decoder)
        rc = index_bytes(t, e);
    cJSON_Delete(j);
    if (!rc)
        rc = tok_load_config(t, e);
    if (rc) {
        mlxc_err_ctx(e, "loading tokenizer from '%s'", dir);
        mlxc_tok_close(t);
        return rc;
    }
    *out = t;
    return 0;
}

void mlxc_tok_close(struct mlxc_tokenizer *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nnorm; i++) {
        tok_pat_free(&t->norm[i].pat);
        free(t->norm[i].content);
    }
    free(t->norm);
    for (size_t i = 0; i < t->npre; i++)
        tok_pat_free(&t->pre[i].pat);
    free(t->pre);
    for (size_t i = 0; i < t->ndec; i++) {
        tok_pat_free(&t->dec[i].pat);
        free(t->dec[i].content);
    }
    free(t->dec);
    tok_bpe_free(&t->bpe);
    for (size_t i = 0; i < t->nadded; i++)
        free(t->added[i].content);
    free(t->added);
    tok_trie_free(&t->trie_raw);
    tok_trie_free(&t->trie_norm);
    if (t->id_bytes)
        for (int32_t i = 0; i < t->nids; i++)
            free(t->id_bytes[i]);
    free(t->id_bytes);
    free(t->id_bytes_len);
    free(t->id_tok);
    free(t->id_len);
    free(t->id_special);
    mlxc_strmap_free(&t->tok_map);
    free(t->post_pre);
    free(t->post_post);
    free(t->bos_token);
    free(t->eos_token);
    free(t->chat_template);
    free(t->chat_template_json);
    free(t->dir);
    free(t);
}

/* ---- accessors ---- */

int32_t mlxc_tok_vocab_size(const struct mlxc_tokenizer *t) { return t->vocab_size; }

int32_t mlxc_tok_token_to_id(const struct mlxc_tokenizer *t, const char *token)
{
    int32_t id;
    return token && lookup(&t->tok_map, token, strlen(token), &id) ? id : -1;
}

const char *mlxc_tok_id_to_token(const struct mlxc_tokenizer *t, int32_t id)
{
    return id >= 0 && id < t->nids ? t->id_tok[id] : NULL;
}

int32_t mlxc_tok_bos_id(const struct mlxc_tokenizer *t) { return mlxc_tok_token_to_id(t, t->bos_token); }
int32_t mlxc_tok_eos_id(const struct mlxc_tokenizer *t) { return mlxc_tok_token_to_id(t, t->eos_token); }
const char *mlxc_tok_bos_token(const struct mlxc_tokenizer *t) { return t->bos_token; }
const char *mlxc_tok_eos_token(const struct mlxc_tokenizer *t) { return t->eos_token; }
int mlxc_tok_add_bos(const struct mlxc_tokenizer *t) { return t->add_bos; }
int mlxc_tok_add_eos(const struct mlxc_tokenizer *t) { return t->add_eos; }
const char *mlxc_tok_chat_template_source(const struct mlxc_tokenizer *t) { return t->chat_template_json; }
const char *mlxc_tok_chat_template(const struct mlxc_tokenizer *t) { return t->chat_template; }

int mlxc_tok_is_special(const struct mlxc_tokenizer *t, int32_t id)
{
    return id >= 0 && id < t->nids && t->id_special[id];
}

int mlxc_tok_has_thinking(const struct mlxc_tokenizer *t)
{
    return mlxc_tok_token_to_id(t, "<think>") >= 0 && mlxc_tok_token_to_id(t, "</think>") >= 0;
}

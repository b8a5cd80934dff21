/* Parsing tokenizer.json's components into step arrays: normalizer, pre_tokenizer, post_processor and
 * decoder (the model is in load.c). An unknown type fails with a message naming the component and the
 * file; a Sequence is flattened. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "tokenizer/tok_impl.h"

#define TOKJSON "tokenizer.json"

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int jbool(const cJSON *o, const char *key, int def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

static int jint(const cJSON *o, const char *key, int def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valueint : def;
}

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* {"String": "..."} or {"Regex": "..."} */
static int load_pattern(const cJSON *o, const char *what, struct tok_pat *p, struct mlxc_err *e)
{
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(o, "pattern");
    const char *s;
    if ((s = jstr(pat, "String")))
        return tok_pat_literal(p, s, strlen(s), e);
    if ((s = jstr(pat, "Regex"))) {
        int rc = tok_pat_regex(p, s, e);
        return rc ? mlxc_err_ctx(e, "%s in '%s'", what, TOKJSON) : 0;
    }
    return mlxc_errf(e, MLXC_EFORMAT, "%s without a String or Regex pattern in '%s'", what, TOKJSON);
}

static const char *type_of(const cJSON *o) { return jstr(o, "type"); }

/* ---- normalizers ---- */

static int add_norm(struct mlxc_tokenizer *t, const cJSON *j, struct mlxc_err *e)
{
    const char *type = type_of(j);
    if (!type)
        return mlxc_errf(e, MLXC_EFORMAT, "normalizer without a type in '%s'", TOKJSON);
    if (!strcmp(type, "Sequence")) {
        const cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "normalizers"))
        {
            int rc = add_norm(t, it, e);
            if (rc)
                return rc;
        }
        return 0;
    }
    struct tok_norm n = {0};
    if (!strcmp(type, "NFC"))
        n.type = NORM_NFC;
    else if (!strcmp(type, "NFD"))
        n.type = NORM_NFD;
    else if (!strcmp(type, "NFKC"))
        n.type = NORM_NFKC;
    else if (!strcmp(type, "NFKD"))
        n.type = NORM_NFKD;
    else if (!strcmp(type, "Lowercase"))
        n.type = NORM_LOWER;
    else if (!strcmp(type, "Strip")) {
        n.type = NORM_STRIP;
        n.left = jbool(j, "strip_left", 1);
        n.right = jbool(j, "strip_right", 1);
    } else if (!strcmp(type, "Replace") || !strcmp(type, "Prepend")) {
        int is_rep = type[0] == 'R';
        const char *c = jstr(j, is_rep ? "content" : "prepend");
        if (!c)
            return mlxc_errf(e, MLXC_EFORMAT, "normalizer '%s' without its text in '%s'", type, TOKJSON);
        n.type = is_rep ? NORM_REPLACE : NORM_PREPEND;
        n.content_len = strlen(c);
        n.content = dupn(c, n.content_len);
        if (!n.content)
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        if (is_rep) {
            int rc = load_pattern(j, "normalizer 'Replace'", &n.pat, e);
            if (rc) {
                free(n.content);
                return rc;
            }
        }
    } else {
        return mlxc_errf(e, MLXC_EUNSUP, "unknown normalizer type '%s' in '%s'", type, TOKJSON);
    }
    struct tok_norm *v = realloc(t->norm, (t->nnorm + 1) * sizeof *v);
    if (!v) {
        tok_pat_free(&n.pat);
        free(n.content);
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    }
    t->norm = v;
    t->norm[t->nnorm++] = n;
    return 0;
}

int tok_load_normalizer(struct mlxc_tokenizer *t, const cJSON *j, struct mlxc_err *e)
{
    return cJSON_IsObject(j) ? add_norm(t, j, e) : 0;
}

/* ---- pre-tokenizers ---- */

static const char GPT2_RE[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static int behavior(const cJSON *j, enum tok_behavior def, enum tok_behavior *out, struct mlxc_err *e)
{
    const char *b = jstr(j, "behavior");
    static const char *names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
    *out = def;
    if (!b)
        return 0;
    for (int i = 0; i < 5; i++)
        if (!strcmp(b, names[i])) {
            *out = (enum tok_behavior)i;
            return 0;
        }
    return mlxc_errf(e, MLXC_EUNSUP, "unknown split behavior '%s' in '%s'", b, TOKJSON);
}

static int metaspace_opts(const cJSON *j, char *repl, size_t *repl_len, enum tok_prepend *prepend,
                          struct mlxc_err *e)
{
    const char *r = jstr(j, "replacement");
    if (!r)
        r = "\xe2\x96\x81";
    uint32_t cp;
    size_t n = strlen(r);
    if (n == 0 || n > 4 || mlxc_utf8_decode(r, n, &cp) != (int)n)
        return mlxc_errf(e, MLXC_EFORMAT, "Metaspace replacement '%s' is not one character in '%s'", r, TOKJSON);
    memcpy(repl, r, n);
    *repl_len = n;
    const char *ps = jstr(j, "prepend_scheme");
    if (ps)
        *prepend = !strcmp(ps, "always") ? PREPEND_ALWAYS : !strcmp(ps, "first") ? PREPEND_FIRST : PREPEND_NEVER;
    else
        *prepend = jbool(j, "add_prefix_space", 1) ? PREPEND_ALWAYS : PREPEND_NEVER;
    return 0;
}

static int add_pre(struct mlxc_tokenizer *t, const cJSON *j, struct mlxc_err *e)
{
    const char *type = type_of(j);
    if (!type)
        return mlxc_errf(e, MLXC_EFORMAT, "pre-tokenizer without a type in '%s'", TOKJSON);
    if (!strcmp(type, "Sequence")) {
        const cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "pretokenizers"))
        {
            int rc = add_pre(t, it, e);
            if (rc)
                return rc;
        }
        return 0;
    }
    struct tok_pre p = {0};
    int rc = 0;
    if (!strcmp(type, "Split")) {
        p.type = PRE_SPLIT;
        p.invert = jbool(j, "invert", 0);
        rc = behavior(j, BEH_ISOLATED, &p.behavior, e);
        if (!rc)
            rc = load_pattern(j, "pre-tokenizer 'Split'", &p.pat, e);
    } else if (!strcmp(type, "ByteLevel")) {
        p.type = PRE_BYTELEVEL;
        p.add_prefix_space = jbool(j, "add_prefix_space", 1);
        p.use_regex = jbool(j, "use_regex", 1);
        if (p.use_regex)
            rc = tok_pat_regex(&p.pat, GPT2_RE, e);
    } else if (!strcmp(type, "Metaspace")) {
        p.type = PRE_METASPACE;
        p.split = jbool(j, "split", 1);
        rc = metaspace_opts(j, p.repl, &p.repl_len, &p.prepend, e);
    } else if (!strcmp(type, "Digits")) {
        p.type = PRE_DIGITS;
        p.individual = jbool(j, "individual_digits", 0);
    } else if (!strcmp(type, "Punctuation")) {
        p.type = PRE_PUNCT;
        rc = behavior(j, BEH_ISOLATED, &p.behavior, e);
    } else if (!strcmp(type, "Whitespace")) {
        p.type = PRE_WHITESPACE; /* Oniguruma's \w: letters, marks, decimal digits, connectors */
        rc = tok_pat_regex(&p.pat, "[\\p{L}\\p{M}\\p{Nd}\\p{Pc}]+|[^\\p{L}\\p{M}\\p{Nd}\\p{Pc}\\s]+", e);
    } else if (!strcmp(type, "WhitespaceSplit")) {
        p.type = PRE_WSSPLIT;
    } else if (!strcmp(type, "BertPreTokenizer")) {
        p.type = PRE_BERT;
    } else {
        return mlxc_errf(e, MLXC_EUNSUP, "unknown pre-tokenizer type '%s' in '%s'", type, TOKJSON);
    }
    if (rc) {
        tok_pat_free(&p.pat);
        return rc;
    }
    struct tok_pre *v = realloc(t->pre, (t->npre + 1) * sizeof *v);
    if (!v) {
        tok_pat_free(&p.pat);
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    }
    t->pre = v;
    t->pre[t->npre++] = p;
    return 0;
}

int tok_load_pretokenizer(struct mlxc_tokenizer *t, const cJSON *j, struct mlxc_err *e)
{
    if (!cJSON_IsObject(j))
        return 0;
    int rc = add_pre(t, j, e);
    if (rc)
        return rc;
    for (size_t i = 0; i + 1 < t->npre; i++)
        if (t->pre[i].type == PRE_BYTELEVEL)
            return mlxc_errf(e, MLXC_EUNSUP,
                             "pre-tokenizer 'ByteLevel' followed by another pre-tokenizer in '%s' is not supported",
                             TOKJSON);
    return 0;
}

/* ---- post-processors ---- */

static int append_id(int32_t **v, size_t *n, int32_t id)
{
    int32_t *w = realloc(*v, (*n + 1) * sizeof *w);
    if (!w)
        return -1;
    w[(*n)++] = id;
    *v = w;
    return 0;
}

/* A token id in a post-processor: HF reads a u32; mlxc's ids are int32_t. A fraction, a negative or a
 * huge number is refused (converting it to int32_t would be undefined, and a negative id would index
 * the embedding from below). */
static int id_value(const cJSON *v, int32_t *id)
{
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > INT32_MAX - 1 ||
        v->valuedouble != (double)(int32_t)v->valuedouble)
        return -1;
    *id = (int32_t)v->valuedouble;
    return 0;
}

/* Ids of a [token, id] pair (RobertaProcessing/BertProcessing "cls" and "sep"). */
static int pair_id(const cJSON *j, const char *key, int32_t *id, struct mlxc_err *e)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, key);
    const cJSON *v = cJSON_GetArrayItem(p, 1);
    if (!cJSON_IsNumber(v))
        return mlxc_errf(e, MLXC_EFORMAT, "post-processor without a '%s' token in '%s'", key, TOKJSON);
    if (id_value(v, id))
        return mlxc_errf(e, MLXC_EFORMAT, "post-processor '%s' id %g is not a token id in '%s'", key, v->valuedouble,
                         TOKJSON);
    return 0;
}

static int add_post(struct mlxc_tokenizer *t, const cJSON *j, struct mlxc_err *e)
{
    const char *type = type_of(j);
    if (!type)
        return mlxc_errf(e, MLXC_EFORMAT, "post-processor without a type in '%s'", TOKJSON);
    int32_t *pre = NULL, *post = NULL;
    size_t npre = 0, npost = 0;
    int rc = 0;
    if (!strcmp(type, "Sequence")) {
        const cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "processors"))
        {
            rc = add_post(t, it, e);
            if (rc)
                return rc;
        }
        return 0;
    } else if (!strcmp(type, "ByteLevel")) {
        return 0; /* only trims offsets */
    } else if (!strcmp(type, "RobertaProcessing") || !strcmp(type, "BertProcessing")) {
        int32_t cls = -1, sep = -1;
        if ((rc = pair_id(j, "cls", &cls, e)) || (rc = pair_id(j, "sep", &sep, e)))
            return rc;
        if (append_id(&pre, &npre, cls) || append_id(&post, &npost, sep))
            rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    } else if (!strcmp(type, "TemplateProcessing")) {
        const cJSON *specials = cJSON_GetObjectItemCaseSensitive(j, "special_tokens");
        const cJSON *it;
        int seen_a = 0;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "single"))
        {
            const cJSON *sp = cJSON_GetObjectItemCaseSensitive(it, "SpecialToken");
            if (cJSON_GetObjectItemCaseSensitive(it, "Sequence")) {
                seen_a = 1;
                continue;
            }
            const char *name = jstr(sp, "id");
            const cJSON *tokdef = name ? cJSON_GetObjectItemCaseSensitive(specials, name) : NULL;
            const cJSON *ids = cJSON_GetObjectItemCaseSensitive(tokdef, "ids");
            if (!cJSON_IsArray(ids)) {
                rc = mlxc_errf(e, MLXC_EFORMAT, "template special token '%s' is not defined in '%s'",
                               name ? name : "?", TOKJSON);
                break;
            }
            const cJSON *idv;
            cJSON_ArrayForEach(idv, ids)
            {
                int32_t id;
                if (id_value(idv, &id)) {
                    rc = mlxc_errf(e, MLXC_EFORMAT, "template special token '%s' has a bad id in '%s'", name, TOKJSON);
                    break;
                }
                if (append_id(seen_a ? &post : &pre, seen_a ? &npost : &npre, id)) {
                    rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
                    break;
                }
            }
            if (rc)
                break;
        }
    } else {
        return mlxc_errf(e, MLXC_EUNSUP, "unknown post-processor type '%s' in '%s'", type, TOKJSON);
    }
    /* processors apply in order: pre = this.pre ++ pre, post = post ++ this.post */
    if (rc == 0 && (npre || npost)) {
        int32_t *np = malloc((npre + t->npost_pre + 1) * sizeof *np);
        int32_t *nq = realloc(t->post_post, (t->npost_post + npost + 1) * sizeof *nq);
        if (!np || !nq) {
            free(np);
            if (nq)
                t->post_post = nq;
            rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        } else {
            if (npre)
                memcpy(np, pre, npre * sizeof *np);
            if (t->npost_pre)
                memcpy(np + npre, t->post_pre, t->npost_pre * sizeof *np);
            free(t->post_pre);
            t->post_pre = np;
            t->npost_pre += npre;
            if (npost)
                memcpy(nq + t->npost_post, post, npost * sizeof *nq);
            t->post_post = nq;
            t->npost_post += npost;
        }
    }
    free(pre);
    free(post);
    return rc;
}

int tok_load_postprocessor(struct mlxc_tokenizer *t, const cJSON *j, struct mlxc_err *e)
{
    return cJSON_IsObject(j) ? add_post(t, j, e) : 0;
}

/* ---- decoders ---- */

static int add_dec(struct mlxc_tokenizer *t, const cJSON *j, struct mlxc_err *e)
{
    const char *type = type_of(j);
    if (!type)
        return mlxc_errf(e, MLXC_EFORMAT, "decoder without a type in '%s'", TOKJSON);
    if (!strcmp(type, "Sequence")) {
        const cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "decoders"))
        {
            int rc = add_dec(t, it, e);
            if (rc)
                return rc;
        }
        return 0;
    }
    struct tok_dec d = {0};
    int rc = 0;
    if (!strcmp(type, "ByteLevel")) {
        d.type = DEC_BYTELEVEL;
    } else if (!strcmp(type, "ByteFallback")) {
        d.type = DEC_BYTEFALLBACK;
    } else if (!strcmp(type, "Fuse")) {
        d.type = DEC_FUSE;
    } else if (!strcmp(type, "Metaspace")) {
        enum tok_prepend ps;
        d.type = DEC_METASPACE;
        rc = metaspace_opts(j, d.repl, &d.repl_len, &ps, e);
        d.prepend_never = ps == PREPEND_NEVER;
    } else if (!strcmp(type, "Strip")) {
        const char *c = jstr(j, "content");
        d.type = DEC_STRIP;
        d.start = jint(j, "start", 0);
        d.stop = jint(j, "stop", 0);
        d.content_len = c ? strlen(c) : 0;
        d.content = dupn(c ? c : "", d.content_len);
        if (!d.content)
            rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    } else if (!strcmp(type, "Replace")) {
        const char *c = jstr(j, "content");
        d.type = DEC_REPLACE;
        d.content_len = c ? strlen(c) : 0;
        d.content = dupn(c ? c : "", d.content_len);
        rc = d.content ? load_pattern(j, "decoder 'Replace'", &d.pat, e) : mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    } else {
        return mlxc_errf(e, MLXC_EUNSUP, "unknown decoder type '%s' in '%s'", type, TOKJSON);
    }
    struct tok_dec *v = rc ? NULL : realloc(t->dec, (t->ndec + 1) * sizeof *v);
    if (!v) {
        tok_pat_free(&d.pat);
        free(d.content);
        return rc ? rc : mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    }
    t->dec = v;
    t->dec[t->ndec++] = d;
    return 0;
}

/* mlx_lm's choice of streaming detokenizer (tokenizer_utils.py load): the exact SentencePiece sequence
 * [Replace("▁" -> " "), ByteFallback, Fuse, Strip(" ", 1, 0)] (or without the Strip) streams as SPM,
 * a plain ByteLevel decoder as BPE, anything else as Naive. */
static void pick_detok(struct mlxc_tokenizer *t, const cJSON *j)
{
    const char *type = type_of(j);
    t->detok_kind = MLXC_DETOK_NAIVE;
    if (type && !strcmp(type, "ByteLevel")) {
        t->detok_kind = MLXC_DETOK_BPE;
        return;
    }
    if (!type || strcmp(type, "Sequence") || (t->ndec != 3 && t->ndec != 4))
        return;
    const struct tok_dec *d = t->dec;
    if (d[0].type != DEC_REPLACE || !d[0].pat.lit || strcmp(d[0].pat.lit, "\xe2\x96\x81") ||
        strcmp(d[0].content, " ") || d[1].type != DEC_BYTEFALLBACK || d[2].type != DEC_FUSE)
        return;
    if (t->ndec == 4 && (d[3].type != DEC_STRIP || strcmp(d[3].content, " ") || d[3].start != 1 || d[3].stop != 0))
        return;
    t->detok_kind = MLXC_DETOK_SPM;
    t->detok_trim = t->ndec == 4;
}

int tok_load_decoder(struct mlxc_tokenizer *t, const cJSON *j, struct mlxc_err *e)
{
    if (!cJSON_IsObject(j))
        return 0;
    t->has_decoder = 1;
    int rc = add_dec(t, j, e);
    if (rc == 0)
        pick_detok(t, j);
    return rc;
}

/* Chat sessions as prompt-cache files (mlx_lm's layout, cache/prompt_cache.h). The user metadata holds
 * what mlx_lm.cache_prompt writes, "model" and "tokenizer_config", so mlx_lm.generate can use the file as
 * a prefix, and the chat's own keys:
 *   "messages"  JSON array of {"role", "content"}: [system?] then user/assistant in turn
 *   "turns"     JSON array of the cache position where each exchange starts (for /undo)
 *   "tokens"    JSON array of the token ids in the cache (for rendering the whole conversation)
 *   "base"      positions of the prefix the session started from (a cache_prompt file), as text
 *   "prefix_open"  "1" when that prefix ends in an unfinished user message (a turn right after it
 *               continues the message)
 *   "rng"       the sampler's random state as two decimal 32-bit words "K0 K1" (the MLX key after the
 *               draws so far), so a resumed sampled chat draws what the uninterrupted one would have
 * A file without "messages" (one mlx_lm.cache_prompt or mlxc-cache-prompt wrote) becomes the prefix of
 * a new conversation. */
#include "core/chat_impl.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cache/prompt_cache.h"
#include "core/buf.h"
#include "core/sys.h"

#define SUFFIX ".safetensors"

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static char *json_ints(const int64_t *v64, const int32_t *v32, size_t n)
{
    struct mlxc_buf b = MLXC_BUF_INIT;
    mlxc_buf_putc(&b, '[');
    for (size_t i = 0; i < n; i++)
        mlxc_buf_printf(&b, "%s%lld", i ? ", " : "", v64 ? (long long)v64[i] : (long long)v32[i]);
    mlxc_buf_putc(&b, ']');
    return mlxc_buf_take(&b);
}

int mlxc_chat_save(struct mlxc_chat *c, const char *path, char **written, struct mlxc_err *e)
{
    /* mx.save_safetensors appends the extension, and mlx_lm's load needs it */
    char *file = malloc(strlen(path) + sizeof SUFFIX);
    if (!file)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    strcpy(file, path);
    if (!ends_with(file, SUFFIX))
        strcat(file, SUFFIX);
    int64_t *starts = malloc((c->n_turns + 1) * sizeof *starts);
    for (size_t i = 0; starts && i < c->n_turns; i++)
        starts[i] = c->turns[i].start;
    char *messages = mlxc_chat_messages_json(c, NULL);
    char *turns = starts ? json_ints(starts, NULL, c->n_turns) : NULL;
    char *tokens = c->n_tokens == c->cache.offset ? json_ints(NULL, c->tokens, (size_t)c->n_tokens) : NULL;
    char base[32], rng[32];
    snprintf(base, sizeof base, "%lld", (long long)c->base);
    snprintf(rng, sizeof rng, "%lu %lu", (unsigned long)c->rng.key[0], (unsigned long)c->rng.key[1]);
    struct mlxc_st_meta meta[8] = {
        {"model", c->model_arg},
        {"tokenizer_config", "{\"trust_remote_code\": false}"},
        {"messages", messages},
        {"turns", turns},
        {"base", base},
        {"prefix_open", c->prefix_open ? "1" : "0"},
        {"rng", rng},
        {"tokens", tokens},
    };
    size_t n_meta = tokens ? 8 : 7;
    int rc;
    if (!messages || !turns || (!tokens && c->n_tokens == c->cache.offset))
        rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    else if ((rc = mlxc_prompt_cache_save(file, &c->cache, c->m, meta, n_meta, e)) != 0)
        mlxc_err_ctx(e, "saving the session to '%s'", file);
    free(starts);
    free(messages);
    free(turns);
    free(tokens);
    if (!rc && written) {
        *written = file;
        file = NULL;
    }
    free(file);
    return rc;
}

/* ---- loading ---- */

struct loaded {
    char *system;
    struct mlxc_chat_msg *msgs;
    size_t n_msgs;
    struct mlxc_chat_turn *turns;
    size_t n_turns;
    int32_t *tokens;
    int64_t n_tokens;
    int64_t base;
};

static void loaded_free(struct loaded *l)
{
    free(l->system);
    for (size_t i = 0; i < l->n_msgs; i++) {
        free(l->msgs[i].role);
        free(l->msgs[i].content);
    }
    free(l->msgs);
    free(l->turns);
    free(l->tokens);
}

static int parse_messages(const char *json, const char *file, struct loaded *l, struct mlxc_err *e)
{
    cJSON *arr = cJSON_Parse(json);
    if (!cJSON_IsArray(arr)) {
        cJSON_Delete(arr);
        return mlxc_errf(e, MLXC_EFORMAT, "'%s': \"messages\" is not a JSON array", file);
    }
    int n = cJSON_GetArraySize(arr), rc = 0;
    l->msgs = calloc((size_t)n + 1, sizeof *l->msgs);
    if (!l->msgs)
        rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    for (int i = 0; !rc && i < n; i++) {
        const cJSON *m = cJSON_GetArrayItem(arr, i);
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (!cJSON_IsString(role) || !cJSON_IsString(content)) {
            rc = mlxc_errf(e, MLXC_EFORMAT, "'%s': message %d has no string \"role\" and \"content\"", file, i);
        } else if (i == 0 && strcmp(role->valuestring, "system") == 0) {
            if (!(l->system = strdup(content->valuestring)))
                rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        } else if (strcmp(role->valuestring, "user") != 0 && strcmp(role->valuestring, "assistant") != 0) {
            rc = mlxc_errf(e, MLXC_EFORMAT, "'%s': message %d has the role '%s' (a chat has user and assistant "
                                            "messages after an optional system message)", file, i, role->valuestring);
        } else {
            struct mlxc_chat_msg *dst = &l->msgs[l->n_msgs++];
            dst->role = strdup(role->valuestring);
            dst->content = strdup(content->valuestring);
            if (!dst->role || !dst->content)
                rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        }
    }
    cJSON_Delete(arr);
    return rc;
}

/* A JSON array of non-negative integers below `below`, or -1 when the text is not one. */
static int64_t parse_ints(const char *json, int64_t below, int64_t **out)
{
    *out = NULL;
    cJSON *arr = json ? cJSON_Parse(json) : NULL;
    int64_t n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1;
    if (n >= 0 && !(*out = malloc(((size_t)n + 1) * sizeof **out)))
        n = -1;
    for (int64_t i = 0; n >= 0 && i < n; i++) {
        const cJSON *v = cJSON_GetArrayItem(arr, (int)i);
        double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
        if (!(d >= 0 && d < (double)below && d == floor(d)))
            n = -1;
        else
            (*out)[i] = (int64_t)d;
    }
    cJSON_Delete(arr);
    if (n < 0) {
        free(*out);
        *out = NULL;
    }
    return n;
}

/* Turns, tokens and base are checked against the cache; when they do not fit they are dropped (the
 * messages stay, but /undo cannot go back into the loaded part). */
static int parse_positions(const struct mlxc_st_meta *user, size_t n_user, int64_t offset, int64_t vocab,
                           struct loaded *l, struct mlxc_err *e)
{
    int64_t *starts = NULL, *toks = NULL;
    int64_t n_starts = parse_ints(mlxc_meta_find(user, n_user, "turns"), offset + 1, &starts);
    int64_t n_toks = parse_ints(mlxc_meta_find(user, n_user, "tokens"), vocab, &toks);
    const char *base = mlxc_meta_find(user, n_user, "base");
    char *end = NULL;
    long long b = base ? strtoll(base, &end, 10) : 0;
    l->base = base && *end == '\0' && b >= 0 && b <= offset ? b : 0;
    /* the user messages in order, one turn each */
    size_t n_user_msgs = 0;
    for (size_t i = 0; i < l->n_msgs; i++)
        n_user_msgs += strcmp(l->msgs[i].role, "user") == 0;
    int ok = n_starts == (int64_t)n_user_msgs;
    for (int64_t i = 0; ok && i < n_starts; i++)
        ok = starts[i] >= (i ? starts[i - 1] : l->base);
    if (ok && n_starts && !(l->turns = malloc((size_t)n_starts * sizeof *l->turns))) {
        free(starts);
        free(toks);
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    }
    if (ok) {
        size_t t = 0;
        for (size_t i = 0; i < l->n_msgs; i++)
            if (strcmp(l->msgs[i].role, "user") == 0) {
                l->turns[t] = (struct mlxc_chat_turn){starts[t], i};
                t++;
            }
        l->n_turns = t;
    } else {
        l->base = offset; /* nothing before the end can be undone */
    }
    if (n_toks == offset && n_toks > 0 && (l->tokens = malloc((size_t)n_toks * sizeof *l->tokens))) {
        for (int64_t i = 0; i < n_toks; i++)
            l->tokens[i] = (int32_t)toks[i];
        l->n_tokens = n_toks;
    }
    free(starts);
    free(toks);
    return 0;
}

/* "K0 K1", two decimal 32-bit words; 0 when it is that */
static int parse_rng(const char *text, struct mlxc_rng *r)
{
    if (!text)
        return -1;
    char *end;
    unsigned long long k[2];
    const char *p = text;
    for (int i = 0; i < 2; i++) {
        if (*p < '0' || *p > '9')
            return -1;
        errno = 0;
        k[i] = strtoull(p, &end, 10);
        if (errno || k[i] > 0xffffffffULL || *end != (i ? '\0' : ' '))
            return -1;
        p = end + 1;
    }
    r->key[0] = (uint32_t)k[0];
    r->key[1] = (uint32_t)k[1];
    return 0;
}

char *mlxc_chat_file_name(const char *path)
{
    char *name = malloc(strlen(path) + sizeof SUFFIX);
    if (!name)
        return NULL;
    strcpy(name, path);
    struct stat st;
    int is_file = stat(path, &st) == 0 && S_ISREG(st.st_mode);
    if (!is_file && !ends_with(path, SUFFIX)) { /* "/save x" wrote x.safetensors */
        strcat(name, SUFFIX);
        if (!mlxc_path_exists(name))
            strcpy(name, path);
    }
    return name;
}

int mlxc_chat_load(struct mlxc_chat *c, const char *path, struct mlxc_err *e)
{
    char *alt = mlxc_chat_file_name(path);
    if (!alt)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    path = alt;
    struct mlxc_kv_cache cache = {0};
    struct mlxc_st_meta *user = NULL;
    size_t n_user = 0;
    struct loaded l = {0};
    int rc = mlxc_prompt_cache_load(path, c->m, &cache, &user, &n_user, e);
    const char *messages = rc ? NULL : mlxc_meta_find(user, n_user, "messages");
    const char *open_prefix = rc ? NULL : mlxc_meta_find(user, n_user, "prefix_open");
    struct mlxc_rng rng;
    int has_rng = !rc && messages && parse_rng(mlxc_meta_find(user, n_user, "rng"), &rng) == 0;
    int prefix_open = messages ? open_prefix && !strcmp(open_prefix, "1") : 1;
    const struct mlxc_cache_opts *want = &c->p.cache;
    const struct mlxc_kv_layer *L0 = rc || !cache.n_layers ? NULL : &cache.layers[0];
    if (rc) {
        mlxc_err_ctx(e, "loading '%s'", path);
    } else if (L0 && L0->bits && want->kv_bits > 0 && (L0->bits != want->kv_bits || L0->group_size != want->kv_group_size)) {
        rc = mlxc_errf(e, MLXC_EINVAL, "--kv-bits %d and --kv-group-size %d do not match the cache in '%s' (%d bits, "
                       "groups of %d)", want->kv_bits, want->kv_group_size, path, L0->bits, L0->group_size);
    } else if (messages) {
        if ((rc = parse_messages(messages, path, &l, e)) == 0)
            rc = parse_positions(user, n_user, cache.offset, c->m->cfg.vocab_size, &l, e);
    } else if (c->p.render == MLXC_CHAT_RENDER_CONVERSATION) {
        rc = mlxc_errf(e, MLXC_EUNSUP, "'%s' is a cached prompt, not a chat session: rendering the whole "
                                       "conversation cannot continue it (its tokens are unknown)", path);
    } else {
        l.base = cache.offset; /* a prefix: kept by /reset, never undone */
    }
    free(user);
    free(alt);
    if (rc) {
        loaded_free(&l);
        mlxc_kv_free(&cache);
        return rc;
    }
    if (L0 && !L0->bits && want->kv_bits > 0) { /* quantize later, at --quantized-kv-start */
        cache.quant_bits = want->kv_bits;
        cache.quant_group_size = want->kv_group_size > 0 ? want->kv_group_size : 64;
        cache.quant_start = want->quantized_kv_start;
    }
    /* swap in */
    mlxc_kv_free(&c->cache);
    c->cache = cache;
    mlxc_chat_clear_msgs(c);
    free(c->msgs);
    free(c->turns);
    free(c->tokens);
    c->msgs = l.msgs;
    c->n_msgs = c->cap_msgs = l.n_msgs;
    c->turns = l.turns;
    c->n_turns = c->cap_turns = l.n_turns;
    c->tokens = l.tokens;
    c->n_tokens = c->cap_tokens = l.n_tokens;
    c->base = l.base;
    c->prefix_open = prefix_open && c->base > 0;
    if (messages) {
        free(c->system);
        c->system = l.system;
    }
    if (has_rng) /* a session without it (an older file) goes on with the current stream */
        c->rng = rng;
    return 0;
}

void mlxc_chat_replay(const struct mlxc_chat *c, mlxc_chat_cb cb, void *ctx)
{
    if (!cb)
        return;
    cb(ctx, MLXC_CHAT_CLEAR, NULL, 0);
    for (size_t i = 0; i < c->n_msgs; i++) {
        const char *t = c->msgs[i].content;
        cb(ctx, strcmp(c->msgs[i].role, "user") == 0 ? MLXC_CHAT_PAST_USER : MLXC_CHAT_PAST_REPLY, t, strlen(t));
    }
}

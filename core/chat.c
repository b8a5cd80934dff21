/* The chat core: opening a session and running a turn (see core/chat.h for the semantics). */
#include "core/chat_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/prompt_cache.h"
#include "core/buf.h"
#include "core/model.h"
#include "core/model_dir.h"
#include "core/prompt.h"
#include "core/stop.h"
#include "core/sys.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

#define CHUNK_MIN 256 /* activations are first sized for this many tokens, then grown up to the step */

/* ---- messages, turns, tokens ---- */

int mlxc_chat_push_msg(struct mlxc_chat *c, const char *role, const char *content, size_t len, struct mlxc_err *e)
{
    if (c->n_msgs == c->cap_msgs) {
        size_t cap = c->cap_msgs ? 2 * c->cap_msgs : 16;
        struct mlxc_chat_msg *p = realloc(c->msgs, cap * sizeof *p);
        if (!p)
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        c->msgs = p;
        c->cap_msgs = cap;
    }
    char *r = strdup(role), *t = malloc(len + 1);
    if (!r || !t) {
        free(r);
        free(t);
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    }
    memcpy(t, content, len);
    t[len] = '\0';
    c->msgs[c->n_msgs++] = (struct mlxc_chat_msg){r, t};
    return 0;
}

static void pop_msg(struct mlxc_chat *c)
{
    c->n_msgs--;
    free(c->msgs[c->n_msgs].role);
    free(c->msgs[c->n_msgs].content);
}

void mlxc_chat_clear_msgs(struct mlxc_chat *c)
{
    while (c->n_msgs)
        pop_msg(c);
    c->n_turns = 0;
}

static int push_turn(struct mlxc_chat *c, int64_t start, size_t msg, struct mlxc_err *e)
{
    if (c->n_turns == c->cap_turns) {
        size_t cap = c->cap_turns ? 2 * c->cap_turns : 16;
        struct mlxc_chat_turn *p = realloc(c->turns, cap * sizeof *p);
        if (!p)
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        c->turns = p;
        c->cap_turns = cap;
    }
    c->turns[c->n_turns++] = (struct mlxc_chat_turn){start, msg};
    return 0;
}

/* Appends ids to the token mirror when it is in step with the cache (otherwise it stays short). */
static int push_tokens(struct mlxc_chat *c, const int32_t *ids, int64_t n, struct mlxc_err *e)
{
    if (c->n_tokens + n > c->cap_tokens) {
        int64_t cap = c->cap_tokens ? c->cap_tokens : 1024;
        while (cap < c->n_tokens + n)
            cap *= 2;
        int32_t *p = realloc(c->tokens, (size_t)cap * sizeof *p);
        if (!p)
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        c->tokens = p;
        c->cap_tokens = cap;
    }
    memcpy(c->tokens + c->n_tokens, ids, (size_t)n * sizeof *ids);
    c->n_tokens += n;
    return 0;
}

static void add_message(struct mlxc_buf *b, const char *role, const char *content)
{
    if (b->len > 1)
        mlxc_buf_puts(b, ", ");
    mlxc_buf_puts(b, "{\"role\": ");
    mlxc_buf_json_str(b, role, strlen(role));
    mlxc_buf_puts(b, ", \"content\": ");
    mlxc_buf_json_str(b, content, strlen(content));
    mlxc_buf_putc(b, '}');
}

char *mlxc_chat_messages_json(const struct mlxc_chat *c, const char *extra_user)
{
    struct mlxc_buf b = MLXC_BUF_INIT;
    mlxc_buf_putc(&b, '[');
    if (c->system)
        add_message(&b, "system", c->system);
    for (size_t i = 0; i < c->n_msgs; i++)
        add_message(&b, c->msgs[i].role, c->msgs[i].content);
    if (extra_user)
        add_message(&b, "user", extra_user);
    mlxc_buf_putc(&b, ']');
    return mlxc_buf_take(&b);
}

/* ---- the cache ---- */

int mlxc_chat_can_trim(const struct mlxc_chat *c, int64_t to)
{
    /* mlx_lm can_trim_prompt_cache: a rotating cache that has wrapped cannot go back */
    return to == c->cache.offset || (to < c->cache.offset && mlxc_kv_trimmable(&c->cache));
}

void mlxc_chat_trim_to(struct mlxc_chat *c, int64_t to)
{
    mlxc_kv_trim(&c->cache, c->cache.offset - to);
    if (c->n_tokens > to)
        c->n_tokens = to;
}

int mlxc_chat_new_cache(struct mlxc_chat *c, struct mlxc_err *e)
{
    struct mlxc_kv_cache fresh;
    int rc = mlxc_cache_make(c->m, &c->p.cache, &fresh, e);
    if (rc)
        return rc;
    mlxc_kv_free(&c->cache);
    c->cache = fresh;
    c->n_tokens = 0;
    return 0;
}

/* ---- opening ---- */

/* The EOS set as mlxc-generate builds it: the config's ids (generation_config overrides), else the
 * tokenizer's eos token, plus --extra-eos-token. */
static int build_eos(struct mlxc_chat *c, char *const *extra, struct mlxc_err *e)
{
    int n = 0, cap = (int)(sizeof c->eos / sizeof c->eos[0]);
    for (int i = 0; i < c->m->cfg.n_eos && n < cap; i++)
        c->eos[n++] = c->m->cfg.eos_ids[i];
    if (n == 0 && mlxc_tok_eos_id(c->tok) >= 0)
        c->eos[n++] = mlxc_tok_eos_id(c->tok);
    for (char *const *x = extra; x && *x && n < cap; x++) {
        char *end;
        long id = strtol(*x, &end, 10);
        if (*end || end == *x)
            id = mlxc_tok_token_to_id(c->tok, *x);
        if (id < 0 || id >= c->m->cfg.vocab_size)
            return mlxc_errf(e, MLXC_EINVAL, "--extra-eos-token '%s' is not a token of this model", *x);
        c->eos[n++] = (int32_t)id;
    }
    c->n_eos = n;
    /* XTC never removes newline or EOS tokens (mlx_lm: tokenizer.encode("\n") + eos ids) */
    int32_t *nl = NULL;
    size_t n_nl = 0;
    c->n_xtc_special = 0;
    if (mlxc_tok_encode(c->tok, "\n", 1, 1, &nl, &n_nl, NULL) == 0)
        for (size_t i = 0; i < n_nl && c->n_xtc_special < 16; i++)
            c->xtc_special[c->n_xtc_special++] = nl[i];
    free(nl);
    for (int i = 0; i < c->n_eos; i++)
        c->xtc_special[c->n_xtc_special++] = c->eos[i];
    return 0;
}

static char *dup_or_null(const char *s, int *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = 1;
    return d;
}

/* The model to load: --model, else the "model" a session or prompt-cache file names (as mlx_lm.generate
 * takes it from a prompt cache's metadata). */
static int pick_model(struct mlxc_chat *c, const struct mlxc_chat_params *p, struct mlxc_err *e)
{
    if (p->model) {
        c->model_arg = strdup(p->model);
    } else {
        const char *file = p->resume ? p->resume : p->prompt_cache_file;
        if (!file) /* without --model: the model this project ships */
            return (c->model_arg = mlxc_default_model_dir(e)) ? 0 : e->code;
        struct mlxc_st_meta *user = NULL;
        size_t n = 0;
        char *name = mlxc_chat_file_name(file);
        int rc = name ? mlxc_prompt_cache_read_meta(name, &user, &n, e) : mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        const char *m = rc ? NULL : mlxc_meta_find(user, n, "model");
        c->model_arg = m ? strdup(m) : NULL;
        free(user);
        if (!rc && !m)
            rc = mlxc_errf(e, MLXC_EINVAL, "'%s' does not name its model: pass --model", name);
        free(name);
        if (rc)
            return rc;
    }
    return c->model_arg ? 0 : mlxc_errf(e, MLXC_ENOMEM, "out of memory");
}

int mlxc_chat_open(const struct mlxc_chat_params *p, struct mlxc_chat **out, struct mlxc_err *e)
{
    *out = NULL;
    struct mlxc_chat *c = calloc(1, sizeof *c);
    if (!c)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    /* the strings of p are only read here: c keeps copies of those it needs later */
    c->p = *p;
    c->p.model = c->p.resume = c->p.prompt_cache_file = c->p.system_prompt = c->p.logit_bias = NULL;
    c->p.extra_eos_token = c->p.stop = NULL;
    c->p.logits.bias_ids = NULL;
    c->p.logits.bias_values = NULL;
    c->p.logits.n_bias = 0;
    int oom = 0;
    size_t n_stop = 0;
    while (p->stop && p->stop[n_stop])
        n_stop++;
    if (n_stop && (c->stop = calloc(n_stop + 1, sizeof *c->stop)) != NULL)
        for (size_t i = 0; i < n_stop; i++)
            c->stop[i] = dup_or_null(p->stop[i], &oom);
    else if (n_stop)
        oom = 1;
    c->template_config = dup_or_null(p->chat_template_config, &oom);
    c->p.chat_template_config = c->template_config;
    c->system = dup_or_null(p->system_prompt, &oom);
    if (c->p.prefill_step_size <= 0)
        c->p.prefill_step_size = 2048;
    int rc = oom ? mlxc_errf(e, MLXC_ENOMEM, "out of memory") : 0;
    if (!rc && p->render == MLXC_CHAT_RENDER_CONVERSATION && p->cache.max_kv_size > 0)
        rc = mlxc_errf(e, MLXC_EINVAL, "rendering the whole conversation needs a cache that can be cut back: "
                                       "it cannot be combined with --max-kv-size");
    if (!rc)
        rc = pick_model(c, p, e);
    if (!rc) { /* "org/name" or ".../folder/" -> "name", "folder" */
        size_t len = strlen(c->model_arg), end = len;
        while (end > 1 && c->model_arg[end - 1] == '/')
            end--;
        size_t start = end;
        while (start > 0 && c->model_arg[start - 1] != '/')
            start--;
        if (!(c->model_name = strndup(c->model_arg + start, end - start)))
            rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    }
    if (!rc && !(c->dir = mlxc_model_dir_resolve(c->model_arg, e)))
        rc = e->code;
    if (!rc)
        rc = mlxc_model_open(c->dir, &c->m, e);
    if (!rc && (rc = mlxc_tok_open(c->dir, &c->tok, e)) != 0)
        mlxc_err_ctx(e, "loading the tokenizer of '%s'", c->dir);
    if (!rc) {
        rc = mlxc_chat_template_load(c->dir, &c->tmpl, e);
        if (rc == MLXC_ENOTFOUND) { /* no template: the raw text is sent */
            c->tmpl = NULL;
            mlxc_err_clear(e);
            rc = 0;
        }
    }
    if (!rc && !(c->kwargs = mlxc_prompt_template_kwargs(c->tok, c->template_config, e)))
        rc = e->code;
    if (!rc)
        rc = build_eos(c, p->extra_eos_token, e);
    if (!rc && p->logit_bias) {
        rc = mlxc_logit_bias_parse(p->logit_bias, c->m->cfg.vocab_size, &c->bias_ids, &c->bias_values,
                                   &c->p.logits.n_bias, e);
        c->p.logits.bias_ids = c->bias_ids;
        c->p.logits.bias_values = c->bias_values;
    }
    if (!rc && mlxc_logits_active(&c->p.logits))
        rc = mlxc_logits_check(&c->p.logits, e);
    if (!rc) {
        mlxc_rng_seed(&c->rng, p->seed);
        int64_t chunk = CHUNK_MIN < c->p.prefill_step_size ? CHUNK_MIN : c->p.prefill_step_size;
        rc = mlxc_state_init(&c->s, c->m, chunk, p->threads, e);
    }
    if (!rc)
        rc = mlxc_cache_make(c->m, &c->p.cache, &c->cache, e);
    if (!rc)
        rc = mlxc_detok_init(c->tok, &c->detok, e);
    if (!rc && (p->resume || p->prompt_cache_file))
        rc = mlxc_chat_load(c, p->resume ? p->resume : p->prompt_cache_file, e);
    if (!rc && p->resume && p->seed_given)
        mlxc_rng_seed(&c->rng, p->seed);
    if (rc) {
        mlxc_chat_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

void mlxc_chat_close(struct mlxc_chat *c)
{
    if (!c)
        return;
    mlxc_chat_clear_msgs(c);
    free(c->msgs);
    free(c->turns);
    free(c->tokens);
    free(c->system);
    mlxc_detok_free(c->detok);
    mlxc_kv_free(&c->cache);
    if (c->s.pool)
        mlxc_state_free(&c->s);
    free(c->kwargs);
    free(c->bias_ids);
    free(c->bias_values);
    for (size_t i = 0; c->stop && c->stop[i]; i++)
        free(c->stop[i]);
    free(c->stop);
    mlxc_chat_template_free(c->tmpl);
    mlxc_tok_close(c->tok);
    mlxc_model_close(c->m);
    free(c->dir);
    free(c->model_arg);
    free(c->model_name);
    free(c->template_config);
    free(c);
}

/* ---- one turn ---- */

static int64_t context_limit(const struct mlxc_chat *c)
{
    if (c->p.cache.max_kv_size > 0)
        return 0; /* a rotating cache keeps going */
    if (c->p.max_context > 0)
        return c->p.max_context;
    return c->m->cfg.max_position_embeddings > 0 ? c->m->cfg.max_position_embeddings : 0;
}

static int render(const struct mlxc_chat *c, const char *messages, const char *kwargs, char **out, size_t *len,
                  struct mlxc_err *e)
{
    struct mlxc_chat_opts co = {.add_generation_prompt = 1, .extra_json = kwargs};
    int rc = mlxc_chat_template_apply(c->tmpl, messages, &co, out, len, e);
    return rc ? mlxc_err_ctx(e, "rendering the chat template") : 0;
}

/* The whole conversation rendered; *keep receives the longest prefix shared with the cache, and the ids
 * returned are only those after it. */
static int encode_conversation(struct mlxc_chat *c, const char *text, int32_t **ids, size_t *n, int64_t *keep,
                               struct mlxc_err *e)
{
    char *msgs = mlxc_chat_messages_json(c, text), *out = NULL;
    size_t len = 0;
    int32_t *all = NULL;
    size_t n_all = 0;
    int rc = msgs ? render(c, msgs, c->kwargs, &out, &len, e) : mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    if (!rc)
        rc = mlxc_tok_encode(c->tok, out, len, 0, &all, &n_all, e);
    free(msgs);
    free(out);
    if (rc)
        return rc;
    int64_t p = 0;
    while (p < c->n_tokens && p < (int64_t)n_all && c->tokens[p] == all[p])
        p++;
    if (p == (int64_t)n_all && p > 0)
        p--; /* at least one token must be fed to get the next logits */
    if (p < c->base)
        return free(all), mlxc_errf(e, MLXC_EINVAL, "the conversation no longer starts with the cached prefix");
    *keep = p;
    *n = n_all - (size_t)p;
    memmove(all, all + p, *n * sizeof *all);
    *ids = all;
    return 0;
}

/* Token ids of a user turn, and how many cache positions they follow (*keep; the cache is cut back to
 * it before they are fed). */
static int encode_turn(struct mlxc_chat *c, const char *text, int32_t **ids, size_t *n, int64_t *keep,
                       struct mlxc_err *e)
{
    *keep = c->cache.offset;
    if (!c->tmpl) /* the raw text, with the tokenizer's BOS only at the start of the context */
        return mlxc_tok_encode(c->tok, text, strlen(text), c->cache.offset == 0, ids, n, e);
    int after_prefix = c->prefix_open && c->cache.offset == c->base;
    if (c->p.render == MLXC_CHAT_RENDER_CONVERSATION && !after_prefix)
        return encode_conversation(c, text, ids, n, keep, e);
    /* after a cache_prompt prefix (an unfinished user message) only what follows the start of the
     * user's content is sent, as mlx_lm.generate does with a prompt cache */
    struct mlxc_prompt_opts po = {.prompt = text, .system_prompt = c->system,
                                  .chat_template_config = c->template_config, .cached_prefix = after_prefix};
    return mlxc_prompt_encode(c->tok, c->tmpl, &po, ids, n, NULL, e);
}

struct turn_ctx {
    struct mlxc_chat *c;
    mlxc_chat_cb cb;
    void *ctx;
    struct mlxc_buf reply;
    struct mlxc_stop stop;  /* holds back text that may start a stop string */
    struct mlxc_buf shown;  /* what the stop filter lets through */
    int32_t *gen;      /* generated ids, in the cache by the end (feed_last) */
    int64_t n_gen, cap_gen;
    int stopped, failed, stop_matched;
    struct mlxc_err *e;
};

/* Shows what the stop filter let through; returns 1 when the view wants the reply stopped. */
static int emit_shown(struct turn_ctx *t)
{
    size_t len = t->shown.len;
    int stop = 0;
    if (len) {
        mlxc_buf_append(&t->reply, t->shown.data, len);
        stop = t->cb && t->cb(t->ctx, MLXC_CHAT_REPLY_TEXT, t->shown.data, len) != 0;
    }
    mlxc_buf_reset(&t->shown);
    return stop;
}

static int on_token(void *ctx, const struct mlxc_gen_token *tok, const struct mlxc_gen_stats *st)
{
    (void)st;
    struct turn_ctx *t = ctx;
    if (t->n_gen == t->cap_gen) {
        int64_t cap = t->cap_gen ? 2 * t->cap_gen : 256;
        int32_t *p = realloc(t->gen, (size_t)cap * sizeof *p);
        if (!p) {
            t->failed = 1;
            mlxc_errf(t->e, MLXC_ENOMEM, "out of memory");
            return 1;
        }
        t->gen = p;
        t->cap_gen = cap;
    }
    t->gen[t->n_gen++] = tok->id;
    if (tok->is_eos)
        return 0;
    const char *piece = NULL;
    size_t len = 0;
    if (mlxc_detok_add(t->c->detok, tok->id, &piece, &len, t->e) != 0) {
        t->failed = 1;
        return 1;
    }
    t->stop_matched = mlxc_stop_feed(&t->stop, piece ? piece : "", len, &t->shown);
    if (emit_shown(t))
        t->stopped = 1;
    return t->stopped || t->stop_matched;
}

/* Activations sized for chunks of up to min(n, step) tokens (grown when a turn needs more). */
static int ensure_chunk(struct mlxc_chat *c, int64_t n, struct mlxc_err *e)
{
    int64_t want = n < c->p.prefill_step_size ? n : c->p.prefill_step_size;
    if (want <= c->s.max_chunk)
        return 0;
    want = (want + CHUNK_MIN - 1) / CHUNK_MIN * CHUNK_MIN;
    if (want > c->p.prefill_step_size)
        want = c->p.prefill_step_size;
    mlxc_state_free(&c->s);
    return mlxc_state_init(&c->s, c->m, want, c->p.threads, e);
}

static void warn(mlxc_chat_cb cb, void *ctx, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void warn(mlxc_chat_cb cb, void *ctx, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (cb)
        cb(ctx, MLXC_CHAT_WARN, msg, strlen(msg));
}

static const char full_advice[] = "/undo drops the last exchange, /reset starts over, and --max-kv-size N "
                                  "(a rotating cache) keeps going past the limit";

int mlxc_chat_say(struct mlxc_chat *c, const char *text, mlxc_chat_cb cb, void *ctx, struct mlxc_err *e)
{
    int32_t *ids = NULL;
    size_t n = 0;
    int64_t keep = 0;
    int rc = encode_turn(c, text, &ids, &n, &keep, e);
    if (rc)
        return rc;
    if (n == 0) {
        free(ids);
        return mlxc_errf(e, MLXC_EINVAL, "the message encodes to no tokens");
    }
    int64_t limit = context_limit(c), room = -1;
    if (limit) {
        room = limit - keep - (int64_t)n;
        if (room < 1) {
            warn(cb, ctx, "the context is full: %lld of %lld positions are used and this message needs %zu more; %s",
                 (long long)c->cache.offset, (long long)limit, n, full_advice);
            free(ids);
            return 0;
        }
    }
    if (keep < c->cache.offset) {
        if (!mlxc_chat_can_trim(c, keep)) {
            free(ids);
            return mlxc_errf(e, MLXC_EUNSUP, "the cache cannot be cut back to re-render the conversation");
        }
        mlxc_chat_trim_to(c, keep);
    }
    if ((rc = ensure_chunk(c, (int64_t)n, e)) != 0) {
        free(ids);
        return rc;
    }
    struct turn_ctx t = {.c = c, .cb = cb, .ctx = ctx, .e = e};
    size_t user_msg = c->n_msgs;
    if ((rc = mlxc_chat_push_msg(c, "user", text, strlen(text), e)) != 0) {
        free(ids);
        return rc;
    }
    int64_t max_tokens = c->p.max_tokens;
    if (room >= 0 && (max_tokens < 0 || max_tokens > room))
        max_tokens = room;
    struct mlxc_gen_params gp = {
        .max_tokens = max_tokens, .prefill_step_size = c->p.prefill_step_size, .sampling = c->p.sampling,
        .eos = c->eos, .n_eos = c->n_eos, .feed_last = 1, .interrupt = c->p.interrupt, .rng = &c->rng,
    };
    gp.logits = c->p.logits;
    if (c->n_tokens >= keep) { /* the penalties see the conversation so far, not only this turn */
        gp.history = c->tokens;
        gp.n_history = keep;
    }
    gp.sampling.xtc_special = c->xtc_special;
    gp.sampling.n_xtc_special = c->n_xtc_special;
    mlxc_stop_init(&t.stop, c->stop);
    mlxc_detok_reset(c->detok);
    if (cb)
        cb(ctx, MLXC_CHAT_REPLY_BEGIN, NULL, 0);
    struct mlxc_gen_stats st;
    int64_t mirror = c->n_tokens;
    rc = mlxc_generate(c->m, &c->s, &c->cache, ids, (int64_t)n, &gp, on_token, &t, &st, e);
    if (!rc && t.failed)
        rc = e->code ? e->code : MLXC_ENOMEM;
    const char *tail = NULL;
    size_t tail_len = 0;
    if (!rc && (rc = mlxc_detok_finalize(c->detok, &tail, &tail_len, e)) == 0) {
        mlxc_stop_feed(&t.stop, tail ? tail : "", tail_len, &t.shown);
        mlxc_stop_flush(&t.stop, &t.shown);
        emit_shown(&t);
    }
    if (!rc && (t.reply.oom || t.shown.oom))
        rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    if (!rc)
        rc = mlxc_chat_push_msg(c, "assistant", t.reply.data ? t.reply.data : "", t.reply.len, e);
    if (!rc && (rc = push_turn(c, keep, user_msg, e)) != 0)
        pop_msg(c);
    if (!rc && mirror == keep && (push_tokens(c, ids, (int64_t)n, NULL) || push_tokens(c, t.gen, t.n_gen, NULL)))
        c->n_tokens = mirror; /* out of memory for the mirror: it stays short, nothing else changes */
    if (rc) { /* leave the conversation as it was before the turn */
        while (c->n_msgs > user_msg)
            pop_msg(c);
        if (mlxc_chat_can_trim(c, keep))
            mlxc_chat_trim_to(c, keep);
    } else {
        /* a re-rendered conversation may have cut the cache before where older turns started */
        for (size_t i = 0; i + 1 < c->n_turns; i++)
            if (c->turns[i].start > keep)
                c->turns[i].start = keep;
        if (t.stopped)
            st.finish_reason = "interrupted";
        c->last = st;
        c->has_last = 1;
        c->total_prompt += st.prompt_tokens;
        c->total_gen += st.generation_tokens;
    }
    if (cb)
        cb(ctx, MLXC_CHAT_REPLY_END, rc ? NULL : st.finish_reason, rc ? 0 : strlen(st.finish_reason));
    if (!rc && limit && c->cache.offset >= limit)
        warn(cb, ctx, "the context is full (%lld of %lld positions): the reply stopped there; %s",
             (long long)c->cache.offset, (long long)limit, full_advice);
    mlxc_buf_free(&t.reply);
    mlxc_buf_free(&t.shown);
    mlxc_stop_free(&t.stop);
    free(t.gen);
    free(ids);
    return rc;
}

/* ---- what the views show ---- */

void mlxc_chat_get_info(const struct mlxc_chat *c, struct mlxc_chat_info *info)
{
    memset(info, 0, sizeof *info);
    info->model = c->model_arg;
    info->model_name = c->model_name;
    info->context_used = c->cache.offset;
    info->context_limit = context_limit(c);
    info->n_turns = (int)c->n_turns;
    info->n_messages = (int)c->n_msgs;
    info->system_prompt = c->system;
    info->has_last = c->has_last;
    info->last = c->last;
    info->total_prompt_tokens = c->total_prompt;
    info->total_generation_tokens = c->total_gen;
    info->peak_gb = (double)mlxc_peak_rss() / 1e9;
    info->cache_gb = (double)mlxc_kv_nbytes(&c->cache) / 1e9;
}

void mlxc_chat_stats_line(const struct mlxc_chat *c, char *buf, size_t cap)
{
    struct mlxc_chat_info in;
    mlxc_chat_get_info(c, &in);
    char ctx[64];
    if (in.context_limit)
        snprintf(ctx, sizeof ctx, "%lld/%lld", (long long)in.context_used, (long long)in.context_limit);
    else
        snprintf(ctx, sizeof ctx, "%lld", (long long)in.context_used);
    snprintf(buf, cap, "%lld tokens · %.1f tok/s · prompt %lld tokens, %.1f tok/s · peak %.2f GB · context %s%s",
             (long long)in.last.generation_tokens, in.last.generation_tps, (long long)in.last.prompt_tokens,
             in.last.prompt_tps, in.peak_gb, ctx,
             in.has_last && strcmp(in.last.finish_reason, "interrupted") == 0 ? " · interrupted" : "");
}

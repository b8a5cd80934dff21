/* mlxc-generate --batch: see core/app_batch.h. */
#include "core/app_batch.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/batch.h"
#include "core/buf.h"
#include "core/model_dir.h"
#include "core/prompt.h"
#include "core/stop.h"
#include "core/sys.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

#define MAX_LINE (16u << 20)

/* One request on its way. */
struct areq {
    struct areq *prev, *next;    /* the app's list of requests under way */
    char *id;                /* the id as JSON text */
    char **stops;            /* owned NULL-ended stop strings (or NULL: the command line's) */
    int32_t *bias_ids;       /* the request's logit_bias (the engine copies it) */
    float *bias_values;
    struct mlxc_stop stop;
    struct mlxc_detok *detok;
    struct mlxc_buf text;
    int stopped;
};

struct app {
    const struct mlxc_generate_args *a;
    FILE *out;
    const struct mlxc_model *m;
    struct mlxc_tokenizer *tok;
    struct mlxc_chat_template *tmpl;
    struct mlxc_batch *b;
    int32_t eos[64], special[80];
    int n_eos, n_special;
    int dead;                /* a write failed: the reader is gone */
    int failed;
    struct mlxc_err *e;
    int64_t n_requests;
    struct areq *live;       /* requests in the engine */
    struct mlxc_kv_cache prefix; /* --prompt-cache-file: every request starts from a copy */
    int has_prefix;
};

static void areq_free(struct areq *q)
{
    if (!q)
        return;
    free(q->id);
    for (char **s = q->stops; s && *s; s++)
        free(*s);
    free(q->stops);
    free(q->bias_ids);
    free(q->bias_values);
    mlxc_stop_free(&q->stop);
    mlxc_detok_free(q->detok);
    mlxc_buf_free(&q->text);
    free(q);
}

static void live_drop(struct app *A, struct areq *q)
{
    if (q->prev)
        q->prev->next = q->next;
    else if (A->live == q)
        A->live = q->next;
    if (q->next)
        q->next->prev = q->prev;
    areq_free(q);
}

static void write_line(struct app *A, struct mlxc_buf *b)
{
    if (A->dead)
        return;
    mlxc_buf_putc(b, '\n');
    if (fwrite(b->data, 1, b->len, A->out) != b->len || fflush(A->out) != 0)
        A->dead = 1;
}

static void write_error(struct app *A, const char *id, const char *msg)
{
    struct mlxc_buf b = MLXC_BUF_INIT;
    mlxc_buf_printf(&b, "{\"id\": %s, \"error\": ", id);
    mlxc_buf_json_str(&b, msg, strlen(msg));
    mlxc_buf_putc(&b, '}');
    write_line(A, &b);
    mlxc_buf_free(&b);
}

static void write_final(struct app *A, struct areq *q, const char *reason, const struct mlxc_batch_event *ev,
                        const char *tail, size_t tail_len)
{
    struct mlxc_buf b = MLXC_BUF_INIT;
    mlxc_buf_printf(&b, "{\"id\": %s, ", q->id);
    if (A->a->jsonl) {
        mlxc_buf_printf(&b, "\"finish_reason\": \"%s\", \"text\": ", reason);
        mlxc_buf_json_str(&b, tail, tail_len);
    } else {
        mlxc_buf_puts(&b, "\"text\": ");
        mlxc_buf_json_str(&b, q->text.data ? q->text.data : "", q->text.len);
        mlxc_buf_printf(&b, ", \"finish_reason\": \"%s\"", reason);
    }
    mlxc_buf_printf(&b, ", \"prompt_tokens\": %lld, \"generation_tokens\": %lld}", (long long)ev->prompt_tokens,
                    (long long)ev->generation_tokens);
    write_line(A, &b);
    mlxc_buf_free(&b);
}

static int on_event(void *ctx, const struct mlxc_batch_event *ev)
{
    struct app *A = ctx;
    struct areq *q = ev->user;
    struct mlxc_buf now = MLXC_BUF_INIT; /* text this token makes final */
    const char *piece = NULL;
    size_t len = 0;
    if (!ev->tok.is_eos && mlxc_detok_add(q->detok, ev->tok.id, &piece, &len, A->e) != 0)
        A->failed = 1;
    q->stopped = mlxc_stop_feed(&q->stop, piece ? piece : "", len, &now);
    const char *reason = q->stopped ? "stop" : ev->finish_reason;
    if (reason && !q->stopped) { /* the end: the detokenizer's tail and what the stop filter held */
        const char *tail = NULL;
        size_t tail_len = 0;
        if (mlxc_detok_finalize(q->detok, &tail, &tail_len, A->e) != 0)
            A->failed = 1;
        mlxc_stop_feed(&q->stop, tail ? tail : "", tail_len, &now);
        mlxc_stop_flush(&q->stop, &now);
    }
    if (A->a->jsonl) {
        struct mlxc_buf b = MLXC_BUF_INIT;
        mlxc_buf_printf(&b, "{\"id\": %s, \"token\": %d, \"logprob\": %.6g, \"top_logprobs\": [", q->id,
                        ev->tok.id, (double)ev->tok.logprob);
        for (int i = 0; i < ev->tok.n_top; i++)
            mlxc_buf_printf(&b, "%s[%d, %.6g]", i ? ", " : "", ev->tok.top_ids[i], (double)ev->tok.top_logprobs[i]);
        mlxc_buf_puts(&b, "], \"text\": ");
        mlxc_buf_json_str(&b, reason ? "" : (now.data ? now.data : ""), reason ? 0 : now.len);
        mlxc_buf_putc(&b, '}');
        write_line(A, &b);
        mlxc_buf_free(&b);
        if (reason)
            write_final(A, q, reason, ev, now.data ? now.data : "", now.len);
    } else {
        mlxc_buf_append(&q->text, now.data ? now.data : "", now.len);
        if (reason)
            write_final(A, q, reason, ev, NULL, 0);
    }
    mlxc_buf_free(&now);
    int stopped = q->stopped;
    if (reason)
        live_drop(A, q);
    return stopped;
}

/* The request keys: mlxc-generate's flags with underscores (mlx_lm server's request fields). */
static const char *const known_keys[] = {
    "id", "prompt", "messages", "system_prompt", "max_tokens", "temp", "top_p", "min_p", "top_k",
    "min_tokens_to_keep", "xtc_probability", "xtc_threshold", "seed", "stop", "repetition_penalty",
    "repetition_context_size", "presence_penalty", "frequency_penalty", "logit_bias", "top_logprobs", NULL};

static int number_key(const cJSON *o, const char *key, int integer, double lo, double hi, double *v,
                      struct mlxc_err *e)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!x)
        return 0;
    if (!cJSON_IsNumber(x) || (integer && x->valuedouble != floor(x->valuedouble)) || x->valuedouble < lo ||
        x->valuedouble > hi)
        return mlxc_errf(e, MLXC_EINVAL, "'%s' must be %s between %g and %g", key, integer ? "an integer" : "a number",
                         lo, hi);
    *v = x->valuedouble;
    return 1;
}

/* With a prompt cache, mlx_lm's "<query>" trick on a list of messages: render it again with the last
 * message's content replaced by "<query>" (without the extra kwargs) and keep the real rendering from
 * that index on, so only the user content and the template tail follow the cached prefix. */
static int cut_to_query(struct app *A, const cJSON *messages, char *rendered, size_t *len, struct mlxc_err *e)
{
    cJSON *q = cJSON_Duplicate(messages, 1);
    cJSON *last = q ? cJSON_GetArrayItem(q, cJSON_GetArraySize(q) - 1) : NULL;
    if (!q)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    if (!cJSON_IsObject(last) || !cJSON_ReplaceItemInObjectCaseSensitive(last, "content", cJSON_CreateString("<query>"))) {
        cJSON_Delete(q);
        return 0; /* no content to find: the whole rendering goes */
    }
    char *qj = cJSON_PrintUnformatted(q), *qtext = NULL;
    size_t qlen = 0;
    struct mlxc_chat_opts co = {.add_generation_prompt = 1};
    int rc = qj ? mlxc_chat_template_apply(A->tmpl, qj, &co, &qtext, &qlen, e) : mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    const char *at = rc ? NULL : strstr(qtext, "<query>");
    if (at && (size_t)(at - qtext) <= *len) {
        size_t from = (size_t)(at - qtext);
        memmove(rendered, rendered + from, *len - from + 1);
        *len -= from;
    }
    free(qj);
    free(qtext);
    cJSON_Delete(q);
    return rc;
}

/* Encodes a request's prompt or messages into ids. */
static int encode(struct app *A, const cJSON *o, const char *text, int32_t **ids, size_t *n, struct mlxc_err *e)
{
    const struct mlxc_generate_args *a = A->a;
    const cJSON *prompt = o ? cJSON_GetObjectItemCaseSensitive(o, "prompt") : NULL;
    const cJSON *messages = o ? cJSON_GetObjectItemCaseSensitive(o, "messages") : NULL;
    const cJSON *sys = o ? cJSON_GetObjectItemCaseSensitive(o, "system_prompt") : NULL;
    if (o) {
        if (!!prompt == !!messages)
            return mlxc_errf(e, MLXC_EINVAL, "a request needs exactly one of 'prompt' and 'messages'");
        if (prompt && !cJSON_IsString(prompt))
            return mlxc_errf(e, MLXC_EINVAL, "'prompt' must be a string");
        if (sys && !cJSON_IsString(sys))
            return mlxc_errf(e, MLXC_EINVAL, "'system_prompt' must be a string");
        text = prompt ? prompt->valuestring : NULL;
    }
    if (!messages) {
        struct mlxc_prompt_opts po = {text, sys ? sys->valuestring : a->system_prompt, a->prefill_response,
                                      a->chat_template_config, a->ignore_chat_template, A->has_prefix};
        return mlxc_prompt_encode(A->tok, A->tmpl, &po, ids, n, NULL, e);
    }
    if (!cJSON_IsArray(messages) || cJSON_GetArraySize(messages) == 0)
        return mlxc_errf(e, MLXC_EINVAL, "'messages' must be a non-empty list");
    if (!A->tmpl || a->ignore_chat_template)
        return mlxc_errf(e, MLXC_EINVAL, "'messages' need the model's chat template");
    char *mj = cJSON_PrintUnformatted(messages);
    char *kwargs = mj ? mlxc_prompt_template_kwargs(A->tok, a->chat_template_config, e) : NULL;
    char *rendered = NULL;
    size_t len = 0;
    int rc;
    if (!mj)
        rc = mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    else if (!kwargs)
        rc = e->code;
    else {
        struct mlxc_chat_opts co = {.add_generation_prompt = 1, .extra_json = kwargs};
        rc = mlxc_chat_template_apply(A->tmpl, mj, &co, &rendered, &len, e);
        if (!rc && A->has_prefix)
            rc = cut_to_query(A, messages, rendered, &len, e);
        if (rc)
            mlxc_err_ctx(e, "rendering the chat template");
    }
    if (!rc)
        rc = mlxc_tok_encode(A->tok, rendered, len, 0, ids, n, e);
    free(mj);
    free(kwargs);
    free(rendered);
    return rc;
}

/* "stop": a string or a list of non-empty strings, into q->stops (NULL-ended). */
static int stop_key(const cJSON *stop, struct areq *q, struct mlxc_err *e)
{
    if (cJSON_IsString(stop)) {
        q->stops = calloc(2, sizeof *q->stops);
        if (!q->stops || !(q->stops[0] = strdup(stop->valuestring)))
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
        return 0;
    }
    if (!cJSON_IsArray(stop))
        return mlxc_errf(e, MLXC_EINVAL, "'stop' must be a string or a list of strings");
    int n = cJSON_GetArraySize(stop), i = 0;
    if (!(q->stops = calloc((size_t)n + 1, sizeof *q->stops)))
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    for (const cJSON *s = stop->child; s; s = s->next, i++) {
        if (!cJSON_IsString(s) || !*s->valuestring)
            return mlxc_errf(e, MLXC_EINVAL, "'stop' must be a list of non-empty strings");
        if (!(q->stops[i] = strdup(s->valuestring)))
            return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    }
    return 0;
}

/* "logit_bias": {"ID": value, ...} (mlx_lm server) or "ID=V,..." (the --logit-bias flag), ids in the
 * vocabulary; the arrays go to q. */
static int bias_key(struct app *A, const cJSON *v, struct areq *q, int *n, struct mlxc_err *e)
{
    const int64_t V = A->m->cfg.vocab_size;
    if (cJSON_IsString(v)) {
        int rc = mlxc_logit_bias_parse(v->valuestring, V, &q->bias_ids, &q->bias_values, n, e);
        return rc ? mlxc_err_ctx(e, "'logit_bias'") : 0;
    }
    if (!cJSON_IsObject(v))
        return mlxc_errf(e, MLXC_EINVAL, "'logit_bias' must be an object of token ids to numbers");
    int k = cJSON_GetArraySize(v);
    q->bias_ids = malloc(((size_t)k + 1) * sizeof *q->bias_ids);
    q->bias_values = malloc(((size_t)k + 1) * sizeof *q->bias_values);
    if (!q->bias_ids || !q->bias_values)
        return mlxc_errf(e, MLXC_ENOMEM, "out of memory");
    *n = 0;
    for (const cJSON *x = v->child; x; x = x->next) {
        char *end = NULL;
        errno = 0;
        long long id = strtoll(x->string, &end, 10);
        if (errno || end == x->string || *end || id < 0 || id >= V)
            return mlxc_errf(e, MLXC_EINVAL, "'logit_bias': '%s' is not a token id (0..%lld)", x->string,
                             (long long)V - 1);
        if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble))
            return mlxc_errf(e, MLXC_EINVAL, "'logit_bias': the bias of token %lld must be a number", id);
        q->bias_ids[*n] = (int32_t)id;
        q->bias_values[(*n)++] = (float)x->valuedouble;
    }
    return 0;
}

/* Reads a request's settings over the command line's, and its stop strings and logit bias. */
static int settings(struct app *A, const cJSON *o, struct mlxc_gen_params *gp, struct areq *q, struct mlxc_err *e)
{
    const struct mlxc_generate_args *a = A->a;
    *gp = (struct mlxc_gen_params){
        .max_tokens = a->max_tokens, .sampling = a->sampling, .logits = a->logits, .has_seed = a->has_seed,
        .seed = a->seed, .eos = A->eos, .n_eos = A->n_eos, .top_logprobs = a->top_logprobs,
    };
    gp->sampling.xtc_special = A->special;
    gp->sampling.n_xtc_special = A->n_special;
    if (!o)
        return 0;
    for (const cJSON *k = o->child; k; k = k->next) {
        int known = 0;
        for (int i = 0; known_keys[i]; i++)
            known |= strcmp(k->string, known_keys[i]) == 0;
        if (!known)
            return mlxc_errf(e, MLXC_EINVAL, "unknown key '%s'", k->string);
    }
    double v = 0.0;
    int rc;
    struct mlxc_logits_params *lg = &gp->logits;
#define NUM(key, integer, lo, hi, dst)                                                                   \
    if ((rc = number_key(o, key, integer, lo, hi, &v, e)) < 0)                                       \
        return rc;                                                                                   \
    if (rc)                                                                                          \
        dst;
    NUM("max_tokens", 1, -1, 1e12, gp->max_tokens = (int64_t)v)
    NUM("temp", 0, 0, 1e9, gp->sampling.temp = (float)v)
    NUM("top_p", 0, 0, 1, gp->sampling.top_p = (float)v)
    NUM("min_p", 0, 0, 1, gp->sampling.min_p = (float)v)
    NUM("top_k", 1, 0, 1e12, gp->sampling.top_k = (int)v)
    NUM("min_tokens_to_keep", 1, 1, 1e12, gp->sampling.min_tokens_to_keep = (int)v)
    NUM("xtc_probability", 0, 0, 1, gp->sampling.xtc_probability = (float)v)
    NUM("xtc_threshold", 0, 0, 0.5, gp->sampling.xtc_threshold = (float)v)
    NUM("seed", 1, 0, 9007199254740992.0, (gp->has_seed = 1, gp->seed = (uint64_t)v))
    NUM("repetition_penalty", 0, 0, 1e9, lg->repetition_penalty = (float)v)
    NUM("repetition_context_size", 1, 1, 1e9, lg->context_size = (int)v)
    NUM("presence_penalty", 0, -1e9, 1e9, lg->presence_penalty = (float)v)
    NUM("frequency_penalty", 0, -1e9, 1e9, lg->frequency_penalty = (float)v)
    NUM("top_logprobs", 1, 0, 1e6, gp->top_logprobs = (int)v)
#undef NUM
    const cJSON *stop = cJSON_GetObjectItemCaseSensitive(o, "stop");
    if (stop && (rc = stop_key(stop, q, e)) != 0)
        return rc;
    const cJSON *bias = cJSON_GetObjectItemCaseSensitive(o, "logit_bias");
    if (bias) {
        int n = 0;
        if ((rc = bias_key(A, bias, q, &n, e)) != 0)
            return rc;
        lg->bias_ids = q->bias_ids;
        lg->bias_values = q->bias_values;
        lg->n_bias = n;
    }
    return 0;
}

/* One input line (without its newline): a request into the engine, or an error line. */
static void take_line(struct app *A, char *line, size_t len, int64_t lineno)
{
    while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
        line[--len] = 0;
    size_t lead = strspn(line, " \t");
    if (lead == len)
        return; /* blank lines are no requests */
    struct mlxc_err e = {0};
    struct areq *q = calloc(1, sizeof *q);
    char idbuf[32];
    snprintf(idbuf, sizeof idbuf, "%lld", (long long)lineno);
    cJSON *o = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = 0;
    if (!q) {
        A->failed = 1;
        mlxc_errf(A->e, MLXC_ENOMEM, "out of memory");
        return;
    }
    A->n_requests++;
    if (line[lead] == '{') {
        o = cJSON_ParseWithLength(line, len);
        if (!o || !cJSON_IsObject(o))
            rc = mlxc_errf(&e, MLXC_EINVAL, "line %lld is not a valid JSON object", (long long)lineno);
        const cJSON *id = o ? cJSON_GetObjectItemCaseSensitive(o, "id") : NULL;
        if (id)
            q->id = cJSON_PrintUnformatted(id);
    }
    if (!q->id)
        q->id = strdup(idbuf);
    struct mlxc_gen_params gp;
    if (!rc)
        rc = settings(A, o, &gp, q, &e);
    if (!rc)
        rc = encode(A, o, line, &ids, &n, &e);
    int64_t ctx = A->m->cfg.max_position_embeddings, cached = A->has_prefix ? A->prefix.offset : 0;
    if (!rc && n == 0)
        rc = mlxc_errf(&e, MLXC_EINVAL, "the prompt encodes to no tokens");
    if (!rc && ctx > 0 && cached + (int64_t)n > ctx)
        rc = cached ? mlxc_errf(&e, MLXC_EINVAL, "the prompt has %zu tokens after the %lld of the prompt cache, more "
                                "than the model's context of %lld", n, (long long)cached, (long long)ctx)
                    : mlxc_errf(&e, MLXC_EINVAL, "the prompt has %zu tokens, more than the model's context of %lld", n,
                                (long long)ctx);
    if (!rc) {
        mlxc_stop_init(&q->stop, q->stops ? q->stops : A->a->stop);
        rc = mlxc_detok_init(A->tok, &q->detok, &e);
    }
    if (!rc && gp.max_tokens == 0) { /* nothing to generate: finished at once */
        struct mlxc_batch_event ev = {.prompt_tokens = (int64_t)n};
        write_final(A, q, "length", &ev, "", 0);
        areq_free(q);
        q = NULL;
    } else if (!rc) {
        struct mlxc_batch_request r = {ids, (int64_t)n, gp, NULL, q, A->has_prefix ? &A->prefix : NULL};
        rc = mlxc_batch_insert(A->b, &r, NULL, &e);
        if (!rc) {
            q->next = A->live;
            if (A->live)
                A->live->prev = q;
            A->live = q;
        }
    }
    if (rc) {
        write_error(A, q->id, e.msg);
        areq_free(q);
    }
    free(ids);
    cJSON_Delete(o);
}

/* Line splitting over read(2) chunks. */
struct reader {
    int fd, eof, skipping; /* skipping: the rest of an over-long line */
    char *buf;
    size_t len, cap;
    int64_t lineno;
};

/* Reads what is there (blocking only when `wait`), handing complete lines to take_line. */
static void pump(struct app *A, struct reader *R, int wait)
{
    struct pollfd p = {R->fd, POLLIN, 0};
    int pr = poll(&p, 1, wait ? -1 : 0);
    if (pr < 0 && errno == EINTR)
        return;
    if (pr == 0)
        return;
    if (R->cap - R->len < 65536) {
        size_t cap = R->cap ? R->cap * 2 : 131072;
        char *nb = realloc(R->buf, cap + 1);
        if (!nb) {
            A->failed = 1;
            mlxc_errf(A->e, MLXC_ENOMEM, "out of memory");
            return;
        }
        R->buf = nb;
        R->cap = cap;
    }
    ssize_t got = read(R->fd, R->buf + R->len, R->cap - R->len);
    if (got < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (got <= 0) {
        R->eof = 1;
        got = 0;
    }
    R->len += (size_t)got;
    size_t start = 0;
    for (;;) {
        char *nl = memchr(R->buf + start, '\n', R->len - start);
        if (!nl && !(R->eof && start < R->len))
            break;
        size_t end = nl ? (size_t)(nl - R->buf) : R->len;
        R->buf[end] = 0;
        R->lineno++;
        if (R->skipping)
            R->skipping = 0;
        else
            take_line(A, R->buf + start, end - start, R->lineno);
        start = nl ? end + 1 : R->len;
    }
    memmove(R->buf, R->buf + start, R->len - start);
    R->len -= start;
    if (R->len > MAX_LINE && !R->skipping) { /* an over-long line: refuse it, drop it up to its newline */
        char id[32];
        snprintf(id, sizeof id, "%lld", (long long)R->lineno + 1);
        write_error(A, id, "the line is longer than 16 MiB");
        A->n_requests++;
        R->skipping = 1;
    }
    if (R->skipping)
        R->len = 0;
}

int mlxc_generate_batch_main(const struct mlxc_generate_args *a, FILE *in, FILE *out, FILE *log,
                             struct mlxc_err *e)
{
    struct app A = {.a = a, .out = out, .e = e};
    struct mlxc_model *m = NULL;
    char *model = NULL, *dir = NULL;
    struct reader R = {.fd = fileno(in)};
    int rc = 0;
    if (a->save_prompt_cache)
        return mlxc_errf(e, MLXC_EINVAL, "--batch does not take --save-prompt-cache (the requests have a cache each)");
    if ((rc = mlxc_generate_open(a, &model, &dir, &m, &A.tok, &A.tmpl, e)) != 0)
        goto out;
    A.m = m;
    if ((rc = mlxc_generate_check_model(a, m, log, e)) != 0)
        goto out;
    if (a->prompt_cache_file) {
        if ((rc = mlxc_generate_open_cache(a, m, &A.prefix, e)) != 0)
            goto out;
        A.has_prefix = 1;
    }
    if ((A.n_eos = mlxc_generate_build_eos(m, A.tok, a->extra_eos_token, A.eos, 64, e)) < 0) {
        rc = A.n_eos;
        goto out;
    }
    if (a->ignore_eos)
        A.n_eos = 0;
    int32_t *nl = NULL;
    size_t n_nl = 0;
    if (mlxc_tok_encode(A.tok, "\n", 1, 1, &nl, &n_nl, NULL) == 0)
        for (size_t i = 0; i < n_nl && A.n_special < 16; i++)
            A.special[A.n_special++] = nl[i];
    free(nl);
    for (int i = 0; i < A.n_eos; i++)
        A.special[A.n_special++] = A.eos[i];
    struct mlxc_batch_opts bo = {
        .prefill_batch_size = a->prefill_batch_size > 0 ? (int)a->prefill_batch_size : 8,
        .completion_batch_size = a->completion_batch_size > 0 ? (int)a->completion_batch_size : 32,
        .prefill_step_size = a->prefill_step_size, .threads = a->threads, .cache = a->cache,
    };
    if ((rc = mlxc_batch_create(m, &bo, &A.b, e)) != 0)
        goto out;

    while (!A.dead && !A.failed) {
        if (a->interrupt && *a->interrupt) {
            rc = mlxc_errf(e, MLXC_EINTR, "interrupted");
            break;
        }
        int busy = mlxc_batch_pending(A.b) > 0;
        if (!R.eof)
            pump(&A, &R, !busy);
        else if (!busy)
            break;
        if (mlxc_batch_pending(A.b) > 0 && (rc = mlxc_batch_step(A.b, on_event, &A, e)) != 0)
            break;
    }
    if (!rc && A.failed)
        rc = e->code ? e->code : MLXC_EINVAL;
    if (!rc && a->verbose && !A.dead) {
        struct mlxc_batch_stats st;
        mlxc_batch_get_stats(A.b, &st);
        fprintf(log, "Requests: %lld\n", (long long)A.n_requests);
        fprintf(log, "Prompt: %lld tokens, %.3f tokens-per-sec\n", (long long)st.prompt_tokens, st.prompt_tps);
        fprintf(log, "Generation: %lld tokens, %.3f tokens-per-sec\n", (long long)st.generation_tokens,
                st.generation_tps);
        fprintf(log, "Peak memory: %.3f GB\n", (double)st.peak_memory / 1e9);
    }
out:
    /* requests still under way (interrupted, or the reader went away) */
    free(R.buf);
    while (A.live)
        live_drop(&A, A.live);
    mlxc_batch_free(A.b);
    mlxc_kv_free(&A.prefix);
    mlxc_chat_template_free(A.tmpl);
    mlxc_tok_close(A.tok);
    mlxc_model_close(m);
    free(dir);
    free(model);
    return rc;
}

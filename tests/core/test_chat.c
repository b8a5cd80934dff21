/* The chat core (core/chat.h) on the qwen3 fixture, checked against the plain forward pass and the
 * tokenizer: after two turns the cache holds exactly [turn 1][reply 1][turn 2][reply 2], where each turn
 * is Qwen3's rendering of that message alone (mlx_lm.chat) and each reply every generated token (EOS
 * included); its keys and values equal one prefill of those tokens on a fresh cache. /undo, /reset,
 * save and load keep the cache, the messages and the token record in step. Multi-line input and
 * "@file" arguments are checked on their own. */
#include "tests/test_util.h"

#include <math.h>

#include "core/chat.h"
#include "core/chat_impl.h"
#include "core/forward.h"
#include "core/generate.h"
#include "core/model.h"
#include "tests/model_fixture.h"
#include "tokenizer/tokenizer.h"

static char model_dir[600];

static int setup(void **state)
{
    (void)state;
    snprintf(model_dir, sizeof model_dir, "%s/m", test_tmpdir());
    struct mlxc_err e = {0};
    if (fixture_build(test_data(""), "qwen3", MLXC_F32, model_dir, &e) != 0) {
        fprintf(stderr, "fixture: %s\n", e.msg);
        return -1;
    }
    return 0;
}

/* ---- events ---- */

struct rec {
    char reply[8192];
    size_t len;
    int begins, ends, infos, warns, clears, past_user, past_reply, quit;
    char last_info[4096];
};

static int on_event(void *ctx, enum mlxc_chat_event ev, const char *text, size_t len)
{
    struct rec *r = ctx;
    switch (ev) {
    case MLXC_CHAT_REPLY_BEGIN: r->begins++, r->len = 0, r->reply[0] = '\0'; break;
    case MLXC_CHAT_REPLY_TEXT:
        if (r->len + len < sizeof r->reply) {
            memcpy(r->reply + r->len, text, len);
            r->len += len;
            r->reply[r->len] = '\0';
        }
        break;
    case MLXC_CHAT_REPLY_END: r->ends++; break;
    case MLXC_CHAT_INFO:
        r->infos++;
        snprintf(r->last_info, sizeof r->last_info, "%.*s", (int)len, text);
        break;
    case MLXC_CHAT_WARN: r->warns++; break;
    case MLXC_CHAT_CLEAR: r->clears++; break;
    case MLXC_CHAT_PAST_USER: r->past_user++; break;
    case MLXC_CHAT_PAST_REPLY: r->past_reply++; break;
    case MLXC_CHAT_QUIT: r->quit++; break;
    }
    return 0;
}

static struct mlxc_chat *open_chat(int64_t max_tokens, enum mlxc_chat_render render, const char *resume)
{
    struct mlxc_chat_params p = {.model = resume ? NULL : model_dir, .max_tokens = max_tokens, .render = render,
                                 .resume = resume, .threads = 2};
    struct mlxc_chat *c = NULL;
    struct mlxc_err e = {0};
    if (mlxc_chat_open(&p, &c, &e) != 0)
        fail_msg("open: %s", e.msg);
    return c;
}

/* Qwen3's rendering of one user turn (enable_thinking on), encoded: independent of the template engine. */
static int32_t *turn_ids(const struct mlxc_chat *c, const char *text, size_t *n)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "<|im_start|>user\n%s<|im_end|>\n<|im_start|>assistant\n", text);
    int32_t *ids;
    struct mlxc_err e = {0};
    assert_int_equal(mlxc_tok_encode(c->tok, buf, strlen(buf), 0, &ids, n, &e), 0);
    return ids;
}

struct collect {
    int32_t *ids;
    int64_t n;
};

static int collect_token(void *ctx, const struct mlxc_gen_token *tok, const struct mlxc_gen_stats *st)
{
    (void)st;
    struct collect *col = ctx;
    if (col->n < 64)
        col->ids[col->n++] = tok->id;
    return 0;
}

/* The cache equals one prefill of its recorded tokens on a fresh cache (keys and values, every layer). */
static void check_cache_matches_prefill(struct mlxc_chat *c)
{
    assert_int_equal(c->n_tokens, c->cache.offset);
    struct mlxc_state s;
    struct mlxc_kv_cache ref;
    struct mlxc_err e = {0};
    assert_int_equal(mlxc_state_init(&s, c->m, c->n_tokens, 2, &e), 0);
    assert_int_equal(mlxc_kv_init(&ref, c->cache.n_layers, c->cache.n_kv_heads, c->cache.head_dim, &e), 0);
    assert_int_equal(mlxc_prefill(c->m, &s, &ref, c->tokens, c->n_tokens, c->n_tokens, 0, &e), 0);
    assert_int_equal(ref.offset, c->cache.offset);
    int hd = ref.head_dim;
    float *a = malloc((size_t)hd * 4 * sizeof *a), *b = a + hd, *av = a + 2 * hd, *bv = a + 3 * hd;
    double worst = 0;
    for (int l = 0; l < ref.n_layers; l++)
        for (int64_t p = 0; p < ref.offset; p++)
            for (int h = 0; h < ref.n_kv_heads; h++) {
                mlxc_kv_read_k(&ref, l, p, h, a);
                mlxc_kv_read_k(&c->cache, l, p, h, b);
                mlxc_kv_read_v(&ref, l, p, h, av);
                mlxc_kv_read_v(&c->cache, l, p, h, bv);
                for (int i = 0; i < hd; i++)
                    worst = fmax(worst, fmax(fabs(a[i] - b[i]), fabs(av[i] - bv[i])));
            }
    free(a);
    if (worst > 1e-4)
        fail_msg("the cache differs from a single prefill of its tokens by %g", worst);
    mlxc_kv_free(&ref);
    mlxc_state_free(&s);
}

static void test_turns_fill_the_cache(void **state)
{
    (void)state;
    struct mlxc_chat *c = open_chat(6, MLXC_CHAT_RENDER_TURN, NULL);
    struct rec r = {0};
    struct mlxc_err e = {0};
    size_t n1, n2;
    int32_t *t1 = turn_ids(c, "hi", &n1), *t2 = turn_ids(c, "bye", &n2);

    assert_int_equal(mlxc_chat_input(c, "hi", on_event, &r, &e), 0);
    assert_int_equal(r.begins, 1);
    assert_int_equal(r.ends, 1);
    assert_int_equal(c->last.prompt_tokens, (int64_t)n1);
    int64_t g1 = c->last.generation_tokens;
    assert_int_equal(c->cache.offset, (int64_t)n1 + g1);
    char reply1[8192];
    strcpy(reply1, r.reply);

    assert_int_equal(mlxc_chat_input(c, "bye", on_event, &r, &e), 0);
    assert_int_equal(c->last.prompt_tokens, (int64_t)n2); /* only the new turn is prefilled */
    int64_t g2 = c->last.generation_tokens;
    assert_int_equal(c->cache.offset, (int64_t)(n1 + n2) + g1 + g2);
    /* [turn 1][reply 1][turn 2][reply 2], the replies as generated (their text is the messages) */
    assert_memory_equal(c->tokens, t1, n1 * sizeof *t1);
    assert_memory_equal(c->tokens + n1 + g1, t2, n2 * sizeof *t2);
    assert_int_equal(c->n_msgs, 4);
    assert_string_equal(c->msgs[1].content, reply1);
    assert_string_equal(c->msgs[3].content, r.reply);
    char *dec = NULL;
    assert_int_equal(mlxc_tok_decode(c->tok, c->tokens + n1, (size_t)g1, 1, &dec, NULL, &e), 0);
    assert_string_equal(dec, reply1);
    free(dec);
    check_cache_matches_prefill(c);
    assert_int_equal(c->n_turns, 2);
    assert_int_equal(c->turns[1].start, (int64_t)n1 + g1);

    /* /undo: back to where turn 2 started; the same message gives the same reply */
    char reply2[8192];
    strcpy(reply2, r.reply);
    assert_int_equal(mlxc_chat_input(c, "/undo", on_event, &r, &e), 0);
    assert_int_equal(c->cache.offset, (int64_t)n1 + g1);
    assert_int_equal(c->n_tokens, (int64_t)n1 + g1);
    assert_int_equal(c->n_msgs, 2);
    assert_int_equal(mlxc_chat_input(c, "bye", on_event, &r, &e), 0);
    assert_string_equal(r.reply, reply2);
    check_cache_matches_prefill(c);

    /* save, then load into a fresh chat: same state, and the next reply is the same as going on */
    char path[700];
    snprintf(path, sizeof path, "%s/session", test_tmpdir());
    char *written = NULL;
    assert_int_equal(mlxc_chat_save(c, path, &written, &e), 0);
    assert_non_null(strstr(written, ".safetensors"));
    struct mlxc_chat *d = open_chat(6, MLXC_CHAT_RENDER_TURN, path);
    assert_int_equal(d->cache.offset, c->cache.offset);
    assert_int_equal(d->n_tokens, c->n_tokens);
    assert_memory_equal(d->tokens, c->tokens, (size_t)c->n_tokens * sizeof *c->tokens);
    assert_int_equal(d->n_msgs, 4);
    assert_int_equal(d->n_turns, 2);
    assert_int_equal(d->turns[1].start, c->turns[1].start);
    struct rec r2 = {0};
    mlxc_chat_replay(d, on_event, &r2);
    assert_int_equal(r2.clears, 1);
    assert_int_equal(r2.past_user, 2);
    assert_int_equal(r2.past_reply, 2);
    assert_int_equal(mlxc_chat_input(c, "more", on_event, &r, &e), 0);
    assert_int_equal(mlxc_chat_input(d, "more", on_event, &r2, &e), 0);
    assert_string_equal(r.reply, r2.reply);
    assert_int_equal(mlxc_chat_undo(d, &e), 0); /* the turn offsets came back too */
    assert_int_equal(d->cache.offset, c->turns[2].start);

    /* /reset: empty again */
    assert_int_equal(mlxc_chat_input(c, "r", on_event, &r, &e), 0);
    assert_int_equal(c->cache.offset, 0);
    assert_int_equal(c->n_msgs, 0);
    assert_int_equal(mlxc_chat_undo(c, &e), MLXC_ENOTFOUND);
    assert_int_equal(mlxc_chat_input(c, "q", on_event, &r, &e), 0);
    assert_int_equal(r.quit, 1);

    free(written);
    free(t1);
    free(t2);
    mlxc_chat_close(d);
    mlxc_chat_close(c);
}

/* Rendering the whole conversation: the cache always holds a prefix of the conversation's rendering
 * (with the replies as generated), and only what it lacks is prefilled. */
static void test_conversation_render(void **state)
{
    (void)state;
    struct mlxc_chat *c = open_chat(5, MLXC_CHAT_RENDER_CONVERSATION, NULL);
    struct rec r = {0};
    struct mlxc_err e = {0};
    assert_int_equal(mlxc_chat_say(c, "hi", on_event, &r, &e), 0);
    int64_t after1 = c->cache.offset;
    assert_int_equal(mlxc_chat_say(c, "bye", on_event, &r, &e), 0);
    assert_true(c->turns[1].start <= after1);
    assert_int_equal(c->cache.offset, c->turns[1].start + c->last.prompt_tokens + c->last.generation_tokens);
    check_cache_matches_prefill(c);
    /* a new system prompt changes the very start: everything is rendered and prefilled again */
    assert_int_equal(mlxc_chat_set_system(c, "Be brief.", &e), 0);
    assert_int_equal(mlxc_chat_say(c, "ok", on_event, &r, &e), 0);
    assert_true(c->turns[2].start <= 1); /* at most the shared "<|im_start|>" */
    check_cache_matches_prefill(c);
    mlxc_chat_close(c);
}

/* A full context is refused with a warning, not an error; a reply stops at the limit. */
static void test_context_limit(void **state)
{
    (void)state;
    struct mlxc_chat_params p = {.model = model_dir, .max_tokens = 50, .max_context = 14, .threads = 2};
    struct mlxc_chat *c = NULL;
    struct mlxc_err e = {0};
    assert_int_equal(mlxc_chat_open(&p, &c, &e), 0);
    struct rec r = {0};
    assert_int_equal(mlxc_chat_say(c, "hi", on_event, &r, &e), 0); /* 9 prompt tokens: 5 left */
    assert_int_equal(c->cache.offset, 14);
    assert_int_equal(r.warns, 1);
    assert_int_equal(mlxc_chat_say(c, "bye", on_event, &r, &e), 0);
    assert_int_equal(r.warns, 2);
    assert_int_equal(c->cache.offset, 14);
    assert_int_equal(c->n_msgs, 2);
    mlxc_chat_close(c);
}

/* The second reply of a chat with a frequency penalty, generated without a chat: on a fresh cache from
 * all of prompt[0..n) (history: the penalties see the whole prompt), or on a cache already holding
 * prompt[0..start) with only the rest as the prompt (they see this turn alone). */
static void reply_without_chat(struct mlxc_chat *c, const int32_t *prompt, int64_t n, int64_t start,
                               int64_t max_tokens, int32_t *out, int64_t *n_out)
{
    struct mlxc_state s;
    struct mlxc_kv_cache cache;
    struct mlxc_err e = {0};
    assert_int_equal(mlxc_state_init(&s, c->m, n, 2, &e), 0);
    assert_int_equal(mlxc_kv_init(&cache, c->cache.n_layers, c->cache.n_kv_heads, c->cache.head_dim, &e), 0);
    if (start)
        assert_int_equal(mlxc_prefill(c->m, &s, &cache, prompt, start, n, 0, &e), 0);
    struct mlxc_gen_params gp = {.max_tokens = max_tokens, .prefill_step_size = n, .eos = c->eos, .n_eos = c->n_eos,
                                 .logits = c->p.logits, .has_seed = 1};
    struct collect col = {out, 0};
    struct mlxc_gen_stats st;
    assert_int_equal(mlxc_generate(c->m, &s, &cache, prompt + start, n - start, &gp, collect_token, &col, &st, &e), 0);
    *n_out = col.n;
    mlxc_kv_free(&cache);
    mlxc_state_free(&s);
}

/* Penalties in a chat look back over the whole conversation: the second reply is what one generation
 * from [turn 1][reply 1][turn 2] gives when the penalties see all of it, and not what it gives when they
 * see turn 2 alone (so the check can fail). */
static void test_penalties_see_the_conversation(void **state)
{
    (void)state;
    struct mlxc_chat_params p = {.model = model_dir, .max_tokens = 8, .threads = 2,
                                 .logits = {.frequency_penalty = 4.0f, .context_size = 1000}};
    struct mlxc_chat *c = NULL;
    struct mlxc_err e = {0};
    assert_int_equal(mlxc_chat_open(&p, &c, &e), 0);
    struct rec r = {0};
    assert_int_equal(mlxc_chat_say(c, "hi", on_event, &r, &e), 0);
    assert_int_equal(mlxc_chat_say(c, "hi", on_event, &r, &e), 0);
    int64_t start = c->turns[1].start, n = start + c->last.prompt_tokens, g = c->last.generation_tokens;
    assert_int_equal(c->n_tokens, n + g);
    int32_t whole[64], alone[64];
    int64_t n_whole = 0, n_alone = 0;
    reply_without_chat(c, c->tokens, n, 0, 8, whole, &n_whole);
    assert_int_equal(n_whole, g);
    assert_memory_equal(whole, c->tokens + n, (size_t)g * sizeof *whole);
    reply_without_chat(c, c->tokens, n, start, 8, alone, &n_alone);
    assert_false(n_alone == g && memcmp(alone, c->tokens + n, (size_t)g * sizeof *alone) == 0);
    mlxc_chat_close(c);
}

static void feed_all(const char *const *lines, const char *want, int want_message)
{
    struct mlxc_chat_lines l = {0};
    struct mlxc_err e = {0};
    char *out = NULL;
    int is_message = -1, rc = 0;
    for (size_t i = 0; lines[i]; i++) {
        assert_null(out);
        rc = mlxc_chat_lines_feed(&l, lines[i], &out, &is_message, &e);
        assert_int_equal(rc, lines[i + 1] ? 0 : 1);
    }
    assert_string_equal(out, want);
    assert_int_equal(is_message, want_message);
    assert_false(mlxc_chat_lines_pending(&l));
    free(out);
    mlxc_chat_lines_free(&l);
}

static void test_lines(void **state)
{
    (void)state;
    feed_all((const char *[]){"hello", NULL}, "hello", 0);
    feed_all((const char *[]){"/stats", NULL}, "/stats", 0);
    feed_all((const char *[]){"", NULL}, "", 0);
    feed_all((const char *[]){"a\\", "b\\", "c", NULL}, "a\nb\nc", 1);
    feed_all((const char *[]){"\"\"\"", "one", "", "/two", "\"\"\"", NULL}, "one\n\n/two", 1);
    feed_all((const char *[]){"\"\"\"first", "last\"\"\"", NULL}, "first\nlast", 1);
    feed_all((const char *[]){"\"\"\"just this\"\"\"", NULL}, "just this", 1);
    feed_all((const char *[]){"\"\"\"", "a\\", "\"\"\"", NULL}, "a\\", 1); /* no continuation inside a block */
    feed_all((const char *[]){"pasted\nlines", NULL}, "pasted\nlines", 1);
    feed_all((const char *[]){"say \"\"\" here", NULL}, "say \"\"\" here", 0);
    /* clearing drops what was entered */
    struct mlxc_chat_lines l = {0};
    struct mlxc_err e = {0};
    char *out = NULL;
    int m;
    assert_int_equal(mlxc_chat_lines_feed(&l, "\"\"\"", &out, &m, &e), 0);
    assert_int_equal(mlxc_chat_lines_feed(&l, "x", &out, &m, &e), 0);
    assert_true(mlxc_chat_lines_pending(&l));
    mlxc_chat_lines_clear(&l);
    assert_int_equal(mlxc_chat_lines_feed(&l, "fresh", &out, &m, &e), 1);
    assert_string_equal(out, "fresh");
    assert_int_equal(m, 0);
    free(out);
    mlxc_chat_lines_free(&l);
}

static void test_text_arg(void **state)
{
    (void)state;
    struct mlxc_err e = {0};
    char path[700];
    snprintf(path, sizeof path, "%s/sys.txt", test_tmpdir());
    FILE *f = fopen(path, "w");
    fputs("Line one.\nLine two.\r\n", f);
    fclose(f);
    char arg[710];
    snprintf(arg, sizeof arg, "@%s", path);
    char *s = mlxc_chat_text_arg(arg, &e);
    assert_string_equal(s, "Line one.\nLine two.");
    free(s);
    s = mlxc_chat_text_arg("@@handle", &e);
    assert_string_equal(s, "@handle");
    free(s);
    s = mlxc_chat_text_arg("plain", &e);
    assert_string_equal(s, "plain");
    free(s);
    assert_null(mlxc_chat_text_arg("@/nonexistent/x", &e));
    assert_str_contains(e.msg, "cannot open '/nonexistent/x'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_text_arg),
        cmocka_unit_test(test_turns_fill_the_cache),
        cmocka_unit_test(test_conversation_render),
        cmocka_unit_test(test_context_limit),
        cmocka_unit_test(test_penalties_see_the_conversation),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

/* mlxc-generate's library entry point end to end (tokenizer, prompt, generation loop, jsonl output) on
 * the fixture models, against transformers: the raw prompt text (--ignore-chat-template) encodes to the
 * ids Hugging Face tokenizers produced, the first token's top-5 logprobs match within 1e-3, and the
 * 32-token greedy continuation is identical (near-ties under 1e-3 excepted and reported). */
#include "tests/test_util.h"

#include <cjson/cJSON.h>
#include <math.h>

#include "core/app_generate.h"
#include "core/sys.h"
#include "tests/model_fixture.h"
#include "tokenizer/tokenizer.h"

static const char *const fixtures[] = {"llama3", "llama_linear", "mistral", "qwen2", "qwen3", "gemma2",
                                       "gemma3_text", "phi3", "smollm3", "olmo2", "starcoder2", "mixtral",
                                       "qwen3_moe", "gpt_oss"};

static void check_prompt(const char *fixture, const char *dir, const char *pname, const cJSON *ref)
{
    const char *text = cJSON_GetObjectItem(ref, "text")->valuestring;
    const cJSON *want_ids = cJSON_GetObjectItem(ref, "input_ids");
    /* the tokenizer gives Hugging Face's ids */
    struct mlxc_err e = {0};
    struct mlxc_tokenizer *tok;
    assert_int_equal(mlxc_tok_open(dir, &tok, &e), 0);
    int32_t *ids;
    size_t n;
    assert_int_equal(mlxc_tok_encode(tok, text, strlen(text), 1, &ids, &n, &e), 0);
    assert_int_equal(n, (size_t)cJSON_GetArraySize(want_ids));
    size_t i = 0;
    for (const cJSON *x = want_ids->child; x; x = x->next, i++)
        assert_int_equal(ids[i], (int32_t)x->valuedouble);
    free(ids);
    mlxc_tok_close(tok);

    char *out_text = NULL;
    size_t out_len = 0;
    FILE *out = open_memstream(&out_text, &out_len), *log = fopen("/dev/null", "w");
    struct mlxc_generate_args a = {.model = dir, .prompt = text, .ignore_chat_template = 1, .max_tokens = 32,
                                   .prefill_step_size = 2048, .jsonl = 1, .top_logprobs = 5, .threads = 2,
                                   .sampling = {.temp = 0.0f}};
    if (mlxc_generate_main(&a, out, log, &e) != 0)
        fail_msg("%s/%s: %s", fixture, pname, e.msg);
    fclose(out);
    fclose(log);

    const cJSON *greedy = cJSON_GetObjectItem(ref, "greedy")->child, *gap = cJSON_GetObjectItem(ref, "top2_gap")->child;
    int step = 0, diverged = 0;
    cJSON *last = NULL;
    for (char *line = strtok(out_text, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON_Delete(last);
        last = cJSON_Parse(line);
        assert_non_null(last);
        const cJSON *tokv = cJSON_GetObjectItem(last, "token");
        if (!tokv)
            break; /* the closing summary object */
        if (step == 0) { /* top-5 logprobs of the first token against transformers */
            const cJSON *tops = cJSON_GetObjectItem(last, "top_logprobs");
            for (const cJSON *w = cJSON_GetObjectItem(ref, "top5_logprobs")->child; w; w = w->next) {
                int id = (int)cJSON_GetArrayItem(w, 0)->valuedouble;
                double want = cJSON_GetArrayItem(w, 1)->valuedouble;
                int found = 0;
                for (const cJSON *g = tops->child; g; g = g->next)
                    if ((int)cJSON_GetArrayItem(g, 0)->valuedouble == id) {
                        found = 1;
                        if (fabs(cJSON_GetArrayItem(g, 1)->valuedouble - want) > 1e-3)
                            fail_msg("%s/%s: logprob of %d is %.6f, transformers %.6f", fixture, pname, id,
                                     cJSON_GetArrayItem(g, 1)->valuedouble, want);
                    }
                if (!found && cJSON_GetArrayItem(w, 0) == cJSON_GetArrayItem(cJSON_GetObjectItem(ref, "top5_logprobs"), 0))
                    fail_msg("%s/%s: transformers' top token %d is not in mlxc's top 5", fixture, pname, id);
            }
        }
        if (!diverged && greedy) {
            int got = (int)tokv->valuedouble, want = (int)greedy->valuedouble;
            if (got != want) {
                if (gap->valuedouble >= 1e-3)
                    fail_msg("%s/%s: step %d gives %d, transformers %d (gap %.4g)", fixture, pname, step, got, want,
                             gap->valuedouble);
                print_message("# %s/%s: step %d flipped at a near-tie (gap %.2g)\n", fixture, pname, step,
                              gap->valuedouble);
                diverged = 1;
            }
            greedy = greedy->next;
            gap = gap->next;
        }
        step++;
    }
    assert_non_null(last);
    const cJSON *reason = cJSON_GetObjectItem(last, "finish_reason");
    assert_non_null(reason);
    assert_int_equal((int)cJSON_GetObjectItem(last, "prompt_tokens")->valuedouble, cJSON_GetArraySize(want_ids));
    assert_int_equal((int)cJSON_GetObjectItem(last, "generation_tokens")->valuedouble, step);
    if (strcmp(reason->valuestring, "length") == 0)
        assert_int_equal(step, 32);
    cJSON_Delete(last);
    free(out_text);
}

static void test_generate_matches_transformers(void **state)
{
    (void)state;
    for (size_t f = 0; f < sizeof fixtures / sizeof fixtures[0]; f++) {
        struct mlxc_err e = {0};
        const char *dir = fixture_path(test_data(""), fixtures[f], MLXC_F32, &e);
        if (!dir)
            fail_msg("%s", e.msg);
        char rel[256];
        snprintf(rel, sizeof rel, "models/%s/reference.json", fixtures[f]);
        char *text = mlxc_read_file(test_data(rel), 1 << 24, NULL, NULL);
        cJSON *ref = cJSON_Parse(text);
        free(text);
        /* sanitizer builds: no ~400-token prompts, and the MoE families (last three, the forward test
         * runs them there) the short one only */
        const int moe = f + 3 >= sizeof fixtures / sizeof fixtures[0];
        for (const cJSON *p = cJSON_GetObjectItem(ref, "prompts")->child; p; p = p->next) {
            int skip = fixture_quick() && (strcmp(p->string, "long") == 0 || (moe && strcmp(p->string, "short") != 0));
            if (!skip)
                check_prompt(fixtures[f], dir, p->string, p);
        }
        cJSON_Delete(ref);
    }
}

static void test_errors(void **state)
{
    (void)state;
    struct mlxc_err e = {0};
    FILE *out = fopen("/dev/null", "w");
    /* no model: the default one (models/mlxc-tiny) */
    struct mlxc_generate_args a = {.model = NULL, .prompt = "x", .max_tokens = 4};
    if (mlxc_generate_main(&a, out, out, &e) != 0)
        fail_msg("the default model: %s", e.msg);
    a.model = "/nonexistent/model";
    assert_int_not_equal(mlxc_generate_main(&a, out, out, &e), 0);
    assert_str_contains(e.msg, "model '/nonexistent/model' not found");
    const char *dir = fixture_path(test_data(""), "mistral", MLXC_F32, &e);
    assert_non_null(dir);
    a.model = dir;
    const char *bad_eos[] = {"<not-a-token>", NULL};
    a.extra_eos_token = (char *const *)bad_eos;
    assert_int_not_equal(mlxc_generate_main(&a, out, out, &e), 0);
    assert_str_contains(e.msg, "--extra-eos-token '<not-a-token>' is not a token");
    fclose(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_matches_transformers),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests_name("generate", tests, NULL, NULL);
}

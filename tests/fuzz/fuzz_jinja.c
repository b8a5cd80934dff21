/* The Jinja engine (lexer, parser, evaluator) on arbitrary templates: the source, then after a NUL byte
 * the JSON context (a default conversation when there is none). Renders run under small limits so each
 * input is fast; hitting a limit is a clean error, never a crash or a hang. */
#include "fuzz_util.h"

#include "tokenizer/jinja.h"

static const char *default_ctx =
    "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": "
    "\"Hi <b>there</b>\"}, {\"role\": \"assistant\", \"content\": \"Hello\", \"tool_calls\": [{\"type\": "
    "\"function\", \"function\": {\"name\": \"f\", \"arguments\": {\"x\": 1}}}]}], \"add_generation_prompt\": "
    "true, \"bos_token\": \"<s>\", \"eos_token\": \"</s>\", \"tools\": null, \"n\": 3, \"f\": 1.5, \"s\": \"abc\"}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *src, *ctx;
    fuzz_split(data, size, &src, &ctx);
    struct mlxc_jinja *t = NULL;
    struct mlxc_err e = {0};
    if (mlxc_jinja_compile(src, strlen(src), &t, &e) == 0) {
        struct tm now = {.tm_year = 125, .tm_mon = 6, .tm_mday = 26, .tm_hour = 14};
        struct mlxc_jinja_limits l;
        mlxc_jinja_limits_default(&l);
        l.max_output = 1 << 20;
        l.max_steps = 200000;
        l.max_depth = 40;
        l.max_memory = 64u << 20;
        l.now = &now;
        const char *c = ctx ? ctx : default_ctx;
        char *out = NULL;
        size_t n = 0;
        int rc = mlxc_jinja_render(t, c, strlen(c), &l, &out, &n, &e);
        if (rc == 0) {
            FUZZ_CHECK(out && out[n] == '\0' && n <= l.max_output);
        } else {
            FUZZ_CHECK(rc < 0 && e.msg[0]);
        }
        free(out);
        mlxc_jinja_free(t);
    } else {
        FUZZ_CHECK(t == NULL && e.msg[0]);
    }
    free(src);
    free(ctx);
    return 0;
}

/* The real chat templates of tests/data/templates applied to arbitrary message JSON, as transformers
 * would apply them. Input: byte 0 picks the template, byte 1 the options (add_generation_prompt,
 * continue_final_message, a tool list), then the messages JSON; after a NUL byte, extra template kwargs
 * (a JSON object, e.g. {"enable_thinking": false}). */
#include "fuzz_util.h"

#include <dirent.h>

#include "core/sys.h"
#include "tokenizer/chat_template.h"

#define MAX_TEMPLATES 64
static struct mlxc_chat_template *tmpl[MAX_TEMPLATES];
static int ntmpl;

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", fuzz_data("templates"));
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "cannot open '%s'\n", dir);
        exit(1);
    }
    char *names[MAX_TEMPLATES];
    int n = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) && n < MAX_TEMPLATES) {
        size_t l = strlen(ent->d_name);
        if (l > 6 && strcmp(ent->d_name + l - 6, ".jinja") == 0)
            names[n++] = strdup(ent->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp);
    struct tm now = {.tm_year = 125, .tm_mon = 6, .tm_mday = 26, .tm_hour = 14};
    struct mlxc_jinja_limits l;
    mlxc_jinja_limits_default(&l);
    l.max_output = 1 << 20;
    l.max_steps = 500000;
    l.max_memory = 64u << 20;
    static struct tm now_static;
    now_static = now;
    l.now = &now_static;
    for (int i = 0; i < n; i++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        struct mlxc_err e = {0};
        char *src = mlxc_read_file(path, 1 << 20, NULL, &e);
        if (!src || mlxc_chat_template_from_string(src, &tmpl[ntmpl], &e) != 0 ||
            mlxc_chat_template_set_tokens(tmpl[ntmpl], "{\"bos_token\": \"<s>\", \"eos_token\": \"</s>\"}", &e) != 0) {
            fprintf(stderr, "%s: %s\n", path, e.msg);
            exit(1);
        }
        mlxc_chat_template_set_limits(tmpl[ntmpl], &l);
        ntmpl++;
        free(src);
        free(names[i]);
    }
    if (ntmpl == 0) {
        fprintf(stderr, "no templates in '%s'\n", dir);
        exit(1);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    const struct mlxc_chat_template *t = tmpl[data[0] % ntmpl];
    uint8_t flags = data[1];
    char *msgs, *extra;
    fuzz_split(data + 2, size - 2, &msgs, &extra);
    struct mlxc_chat_opts o = {
        .add_generation_prompt = flags & 1,
        .continue_final_message = (flags >> 1) & 1,
        .tools_json = (flags & 4) ? "[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", "
                                    "\"description\": \"Weather\", \"parameters\": {\"type\": \"object\", "
                                    "\"properties\": {\"city\": {\"type\": \"string\"}}}}}]"
                                  : NULL,
        .extra_json = extra,
    };
    char *out = NULL;
    size_t n = 0;
    struct mlxc_err e = {0};
    int rc = mlxc_chat_template_apply(t, msgs, &o, &out, &n, &e);
    if (rc == 0)
        FUZZ_CHECK(out && out[n] == '\0');
    else
        FUZZ_CHECK(rc < 0 && e.msg[0]);
    free(out);
    free(msgs);
    free(extra);
    return 0;
}

/* safetensors reader and writer against files built from the format's definition by
 * tests/gen/make_safetensors_cases.py (an independent writer), including a hostile corpus. */
#include "tests/test_util.h"

#include <sys/stat.h>

#include "core/half.h"
#include "core/safetensors.h"
#include "core/sys.h"

static void test_read_small(void **state)
{
    (void)state;
    struct mlxc_st_file *f;
    struct mlxc_err e = {0};
    assert_int_equal(mlxc_st_open(test_data("safetensors/good/small.safetensors"), &f, &e), 0);
    assert_int_equal(f->ntensors, 5);
    assert_string_equal(mlxc_st_meta_get(f, "format"), "mlx");
    assert_null(mlxc_st_meta_get(f, "nope"));

    const struct mlxc_tensor *a = mlxc_st_find(f, "a.weight");
    assert_non_null(a);
    assert_int_equal(a->dtype, MLXC_F32);
    assert_int_equal(a->ndim, 2);
    assert_int_equal(a->shape[0], 2);
    assert_int_equal(a->shape[1], 3);
    float v[6];
    memcpy(v, a->data, sizeof v);
    for (int i = 0; i < 6; i++)
        assert_true(v[i] == (float)i);

    const struct mlxc_tensor *b = mlxc_st_find(f, "b.ids");
    assert_int_equal(b->dtype, MLXC_I8);
    assert_int_equal(((const int8_t *)b->data)[0], -2);

    const struct mlxc_tensor *c = mlxc_st_find(f, "c.bf");
    uint16_t h[2];
    memcpy(h, c->data, 4);
    assert_true(mlxc_bf16_to_f32(h[0]) == 1.0f);
    assert_true(mlxc_bf16_to_f32(h[1]) == -2.5f);

    const struct mlxc_tensor *d = mlxc_st_find(f, "d.empty");
    assert_int_equal(d->nbytes, 0);
    assert_int_equal(mlxc_tensor_numel(d), 0);
    const struct mlxc_tensor *s = mlxc_st_find(f, "e.scalar");
    assert_int_equal(s->ndim, 0);
    assert_int_equal(mlxc_tensor_numel(s), 1);
    assert_int_equal(*(const uint8_t *)s->data, 7);
    mlxc_st_close(f);
}

static void test_read_all_dtypes(void **state)
{
    (void)state;
    static const char *names[] = {"F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8",
                                  "U64", "U32", "U16", "U8", "BOOL", "F8_E4M3", "F8_E8M0"};
    struct mlxc_st_file *f;
    struct mlxc_err e = {0};
    assert_int_equal(mlxc_st_open(test_data("safetensors/good/all_dtypes.safetensors"), &f, &e), 0);
    assert_int_equal(f->ntensors, 15);
    for (size_t i = 0; i < 15; i++) {
        char name[32];
        snprintf(name, sizeof name, "t_%s", names[i]);
        const struct mlxc_tensor *t = mlxc_st_find(f, name);
        assert_non_null(t);
        assert_string_equal(mlxc_dtype_name(t->dtype), names[i]);
        assert_int_equal(t->nbytes, mlxc_dtype_size(t->dtype));
    }
    assert_int_equal(f->has_metadata, 0);
    mlxc_st_close(f);
}

static void test_read_unpadded_unicode(void **state)
{
    (void)state;
    struct mlxc_st_file *f;
    struct mlxc_err e = {0};
    assert_int_equal(mlxc_st_open(test_data("safetensors/good/unpadded_unicode.safetensors"), &f, &e), 0);
    const struct mlxc_tensor *t = mlxc_st_find(f, "gr\xc3\xb6\xc3\x9f" "e");
    assert_non_null(t);
    assert_memory_equal(t->data, "abc", 3);
    mlxc_st_close(f);
}

/* Every hostile file gives its specific error, names the file, and nothing crashes (ASan/UBSan in CI). */
static void test_hostile_corpus(void **state)
{
    (void)state;
    size_t len;
    struct mlxc_err e = {0};
    char *manifest = mlxc_read_file(test_data("safetensors/bad/EXPECTED"), 1 << 20, &len, &e);
    assert_non_null(manifest);
    int cases = 0;
    for (char *line = strtok(manifest, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#')
            continue;
        char *tab = strchr(line, '\t');
        assert_non_null(tab);
        *tab = '\0';
        char rel[256];
        snprintf(rel, sizeof rel, "safetensors/bad/%s", line);
        const char *path = test_data(rel);
        struct mlxc_st_file *f = NULL;
        mlxc_err_clear(&e);
        int rc = mlxc_st_open(path, &f, &e);
        if (rc == 0)
            fail_msg("'%s' was accepted", line);
        assert_null(f);
        assert_int_equal(e.code, rc);
        assert_str_contains(e.msg, tab + 1);
        assert_str_contains(e.msg, line); /* the message names the file */
        cases++;
    }
    free(manifest);
    assert_true(cases >= 25);
}

static void test_missing_file(void **state)
{
    (void)state;
    struct mlxc_st_file *f;
    struct mlxc_err e = {0};
    assert_int_equal(mlxc_st_open("/nonexistent/x.safetensors", &f, &e), MLXC_ENOTFOUND);
    assert_str_contains(e.msg, "cannot open '/nonexistent/x.safetensors'");
    assert_int_equal(mlxc_st_open(test_data("safetensors"), &f, &e), MLXC_EFORMAT);
    assert_str_contains(e.msg, "not a regular file");
}

/* The writer's bytes equal the file the independent generator wrote (sorted keys, metadata present,
 * compact JSON, space padding to 8). */
static void test_writer_exact_bytes(void **state)
{
    (void)state;
    const char *dir = test_tmpdir();
    char *path = mlxc_path_join(dir, "out.safetensors");
    struct mlxc_st_entry entries[] = {
        {"y", MLXC_U32, 2, {1, 1}},
        {"x", MLXC_F32, 1, {2}},
    };
    struct mlxc_st_writer *w;
    struct mlxc_err e = {0};
    assert_int_equal(mlxc_stw_open(path, entries, 2, NULL, 0, &w, &e), 0);
    /* Data goes in entry order: y first. The expected file has x first, so write a file with x first too. */
    mlxc_stw_abort(w);
    assert_int_equal(mlxc_path_exists(path), 0);

    struct mlxc_st_entry ordered[] = {
        {"x", MLXC_F32, 1, {2}},
        {"y", MLXC_U32, 2, {1, 1}},
    };
    assert_int_equal(mlxc_stw_open(path, ordered, 2, NULL, 0, &w, &e), 0);
    float xs[2] = {1.5f, -2.0f};
    uint32_t ys = 0xDEADBEEF;
    assert_int_equal(mlxc_stw_write(w, xs, 4, &e), 0); /* in pieces */
    assert_int_equal(mlxc_stw_write(w, (char *)xs + 4, 4, &e), 0);
    assert_int_equal(mlxc_stw_write(w, &ys, 4, &e), 0);
    assert_int_equal(mlxc_path_exists(path), 0); /* nothing under the final name until close */
    assert_int_equal(mlxc_stw_close(w, &e), 0);

    size_t n1, n2;
    char *got = mlxc_read_file(path, 1 << 20, &n1, &e);
    char *want = mlxc_read_file(test_data("safetensors/good/writer_expected.safetensors"), 1 << 20, &n2, &e);
    assert_non_null(got);
    assert_non_null(want);
    assert_int_equal(n1, n2);
    assert_memory_equal(got, want, n1);
    free(got);
    free(want);
    unlink(path);
    rmdir(dir);
    free(path);
}

/* Round trip with metadata, escaping and a data order different from the sorted header order. */
static void test_writer_round_trip(void **state)
{
    (void)state;
    const char *dir = test_tmpdir();
    char *path = mlxc_path_join(dir, "rt.safetensors");
    struct mlxc_st_entry entries[] = {
        {"z.last", MLXC_BF16, 1, {3}},
        {"a \"quoted\"\n", MLXC_I64, 1, {2}},
        {"m.empty", MLXC_F16, 2, {0, 4}},
    };
    struct mlxc_st_meta meta[] = {{"tokenizer_config", "{\"a\": \"\\u00e9 \xc3\xa9\"}"}, {"model", "m"}};
    struct mlxc_st_writer *w;
    struct mlxc_err e = {0};
    assert_int_equal(mlxc_stw_open(path, entries, 3, meta, 2, &w, &e), 0);
    uint16_t bf[3] = {0x3F80, 0x4000, 0xC040};
    int64_t iv[2] = {-5, 1LL << 40};
    assert_int_equal(mlxc_stw_write(w, bf, sizeof bf, &e), 0);
    assert_int_equal(mlxc_stw_write(w, iv, sizeof iv, &e), 0);
    assert_int_equal(mlxc_stw_close(w, &e), 0);

    struct mlxc_st_file *f;
    assert_int_equal(mlxc_st_open(path, &f, &e), 0);
    assert_int_equal(f->ntensors, 3);
    assert_string_equal(mlxc_st_meta_get(f, "model"), "m");
    assert_string_equal(mlxc_st_meta_get(f, "tokenizer_config"), meta[0].value);
    const struct mlxc_tensor *t = mlxc_st_find(f, "a \"quoted\"\n");
    assert_non_null(t);
    assert_memory_equal(t->data, iv, sizeof iv);
    t = mlxc_st_find(f, "z.last");
    assert_memory_equal(t->data, bf, sizeof bf);
    assert_int_equal(f->data_start % 8, 0);
    mlxc_st_close(f);
    unlink(path);
    rmdir(dir);
    free(path);
}

static void test_writer_errors(void **state)
{
    (void)state;
    const char *dir = test_tmpdir();
    char *path = mlxc_path_join(dir, "bad.safetensors");
    struct mlxc_st_entry dup[] = {{"a", MLXC_U8, 1, {1}}, {"a", MLXC_U8, 1, {1}}};
    struct mlxc_st_writer *w;
    struct mlxc_err e = {0};
    assert_int_equal(mlxc_stw_open(path, dup, 2, NULL, 0, &w, &e), MLXC_EINVAL);
    assert_str_contains(e.msg, "listed twice");
    struct mlxc_st_entry one[] = {{"a", MLXC_U8, 1, {4}}};
    assert_int_equal(mlxc_stw_open(path, one, 1, NULL, 0, &w, &e), 0);
    assert_int_equal(mlxc_stw_write(w, "xx", 2, &e), 0);
    assert_int_equal(mlxc_stw_write(w, "xxx", 3, &e), MLXC_EINVAL); /* more than declared */
    assert_int_not_equal(mlxc_stw_close(w, &e), 0);                /* fewer than declared */
    assert_str_contains(e.msg, "2 of 4 tensor bytes");
    assert_int_equal(mlxc_path_exists(path), 0);
    /* An unwritable folder gives an error naming it. */
    assert_int_not_equal(mlxc_stw_open("/proc/mlxc-no/x.safetensors", one, 1, NULL, 0, &w, &e), 0);
    assert_str_contains(e.msg, "/proc/mlxc-no");
    rmdir(dir);
    free(path);
}

/* An existing file survives an aborted rewrite untouched. */
static void test_writer_keeps_old_file_on_abort(void **state)
{
    (void)state;
    const char *dir = test_tmpdir();
    char *path = mlxc_path_join(dir, "keep.safetensors");
    FILE *fp = fopen(path, "wb");
    fputs("old", fp);
    fclose(fp);
    struct mlxc_st_entry one[] = {{"a", MLXC_U8, 1, {4}}};
    struct mlxc_st_writer *w;
    struct mlxc_err e = {0};
    assert_int_equal(mlxc_stw_open(path, one, 1, NULL, 0, &w, &e), 0);
    mlxc_stw_write(w, "ab", 2, &e);
    mlxc_stw_abort(w);
    size_t n;
    char *s = mlxc_read_file(path, 100, &n, &e);
    assert_string_equal(s, "old");
    free(s);
    unlink(path);
    rmdir(dir);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_small),
        cmocka_unit_test(test_read_all_dtypes),
        cmocka_unit_test(test_read_unpadded_unicode),
        cmocka_unit_test(test_hostile_corpus),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_writer_exact_bytes),
        cmocka_unit_test(test_writer_round_trip),
        cmocka_unit_test(test_writer_errors),
        cmocka_unit_test(test_writer_keeps_old_file_on_abort),
    };
    return cmocka_run_group_tests_name("safetensors", tests, NULL, NULL);
}

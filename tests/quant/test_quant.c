/* MLX quantization formats, bit for bit, against tests/data/quant/cases.safetensors, which
 * tests/gen/make_quant_cases.py computes with an independent numpy implementation of MLX's CPU
 * algorithms: packed bytes, scales and biases of mlxc_quantize for every mode x bits x group size x
 * source dtype, exact dequantization by every kernel table, the codecs, the bit packing and the
 * parameter checks. */
#include "tests/test_util.h"

#include <math.h>

#include "core/half.h"
#include "core/safetensors.h"
#include "quant/qformat.h"
#include "quant/qkernels.h"
#include "quant/quant.h"

static struct mlxc_st_file *cases;

static int setup(void **state)
{
    (void)state;
    struct mlxc_err e = {0};
    if (mlxc_st_open(test_data("quant/cases.safetensors"), &cases, &e) < 0) {
        print_error("%s\n", e.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mlxc_st_close(cases);
    return 0;
}

static const struct mlxc_tensor *need(const char *name)
{
    const struct mlxc_tensor *t = mlxc_st_find(cases, name);
    if (!t)
        fail_msg("fixture has no tensor '%s' (run tests/gen/make_quant_cases.py)", name);
    return t;
}

static const enum mlxc_dtype src_dtypes[] = {MLXC_F32, MLXC_F16, MLXC_BF16};

/* The input matrix of a source dtype, converted to f32 (exactly). Caller frees. */
static float *input_f32(enum mlxc_dtype dt, int64_t *rows, int64_t *cols)
{
    char name[64];
    snprintf(name, sizeof name, "input.%s", mlxc_dtype_name(dt));
    const struct mlxc_tensor *t = need(name);
    assert_int_equal(t->dtype, dt);
    *rows = t->shape[0];
    *cols = t->shape[1];
    int64_t n = *rows * *cols;
    float *w = malloc((size_t)n * sizeof(float));
    assert_non_null(w);
    for (int64_t i = 0; i < n; i++)
        w[i] = mlxc_load_scalar(t->data, i, dt);
    return w;
}

/* Compares two byte arrays; on a difference, names the case and the first differing element. */
static void expect_bytes(const char *what, const char *case_name, const void *got, const void *want,
                         size_t nbytes, size_t elem)
{
    const uint8_t *g = got, *w = want;
    for (size_t i = 0; i < nbytes; i++) {
        if (g[i] != w[i]) {
            size_t el = i / elem;
            unsigned long long gv = 0, wv = 0;
            memcpy(&gv, g + el * elem, elem);
            memcpy(&wv, w + el * elem, elem);
            fail_msg("%s: %s differ at element %zu (byte %zu): got 0x%llx, want 0x%llx", case_name, what, el, i,
                     gv, wv);
        }
    }
}

/* ---------------------------------------------------------------- quantize, bit for bit */

static void check_quantize(struct mlxc_qparams q, enum mlxc_dtype dt, const char *prefix)
{
    int64_t rows, cols;
    float *w = input_f32(dt, &rows, &cols);
    char name[96];
    snprintf(name, sizeof name, "%s.weight", prefix);
    const struct mlxc_tensor *tw = need(name);
    snprintf(name, sizeof name, "%s.scales", prefix);
    const struct mlxc_tensor *ts = need(name);
    const struct mlxc_tensor *tb = NULL;
    if (q.mode == MLXC_Q_AFFINE) {
        snprintf(name, sizeof name, "%s.biases", prefix);
        tb = need(name);
    }
    size_t pbytes = (size_t)(rows * cols * q.bits / 8);
    assert_int_equal(tw->nbytes, pbytes);
    uint8_t *packed = malloc(pbytes), *scales = malloc(ts->nbytes), *biases = malloc(ts->nbytes);
    assert_true(packed && scales && biases);
    struct mlxc_err e = {0};
    int rc = mlxc_quantize(w, rows, cols, q, dt, packed, scales, tb ? biases : NULL, &e);
    if (rc != 0)
        fail_msg("%s: mlxc_quantize failed: %s", prefix, e.msg);
    expect_bytes("packed bytes", prefix, packed, tw->data, pbytes, 1);
    expect_bytes("scales", prefix, scales, ts->data, ts->nbytes, mlxc_dtype_size(ts->dtype));
    if (tb)
        expect_bytes("biases", prefix, biases, tb->data, tb->nbytes, mlxc_dtype_size(tb->dtype));
    free(packed);
    free(scales);
    free(biases);
    free(w);
}

static void test_affine_quantize(void **state)
{
    (void)state;
    static const int bits[] = {2, 3, 4, 5, 6, 8}, gss[] = {32, 64, 128};
    int ncases = 0;
    for (size_t d = 0; d < 3; d++)
        for (size_t b = 0; b < 6; b++)
            for (size_t g = 0; g < 3; g++) {
                char prefix[64];
                snprintf(prefix, sizeof prefix, "affine.b%d.g%d.%s", bits[b], gss[g], mlxc_dtype_name(src_dtypes[d]));
                check_quantize((struct mlxc_qparams){MLXC_Q_AFFINE, bits[b], gss[g]}, src_dtypes[d], prefix);
                ncases++;
            }
    assert_int_equal(ncases, 54);
}

static void test_fp_quantize(void **state)
{
    (void)state;
    static const enum mlxc_qmode modes[] = {MLXC_Q_MXFP4, MLXC_Q_NVFP4, MLXC_Q_MXFP8};
    for (size_t d = 0; d < 3; d++)
        for (size_t i = 0; i < 3; i++) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "%s.%s", mlxc_qmode_name(modes[i]), mlxc_dtype_name(src_dtypes[d]));
            check_quantize(mlxc_qparams_default(modes[i]), src_dtypes[d], prefix);
        }
}

/* ---------------------------------------------------------------- dequantize, exactly */

/* The fixture's matrix as a qmatrix over copies placed at odd addresses (safetensors data need not be
 * aligned; UBSan checks that nothing assumes it). */
struct fixture_matrix {
    struct mlxc_qmatrix m;
    uint8_t *buf[3];
};

static void *odd_copy(const void *src, size_t n, uint8_t **keep)
{
    *keep = malloc(n + 1);
    assert_non_null(*keep);
    memcpy(*keep + 1, src, n);
    return *keep + 1;
}

static void fixture_matrix(struct fixture_matrix *f, struct mlxc_qparams q, const char *prefix)
{
    char name[96];
    memset(f, 0, sizeof *f);
    snprintf(name, sizeof name, "%s.weight", prefix);
    const struct mlxc_tensor *tw = need(name);
    snprintf(name, sizeof name, "%s.scales", prefix);
    const struct mlxc_tensor *ts = need(name);
    f->m.q = q;
    f->m.rows = tw->shape[0];
    f->m.cols = tw->shape[1] * 32 / q.bits;
    f->m.scale_dtype = ts->dtype;
    f->m.packed = odd_copy(tw->data, tw->nbytes, &f->buf[0]);
    f->m.scales = odd_copy(ts->data, ts->nbytes, &f->buf[1]);
    if (q.mode == MLXC_Q_AFFINE) {
        snprintf(name, sizeof name, "%s.biases", prefix);
        const struct mlxc_tensor *tb = need(name);
        f->m.biases = odd_copy(tb->data, tb->nbytes, &f->buf[2]);
    }
    struct mlxc_err e = {0};
    if (mlxc_qmatrix_check(&f->m, &e) < 0)
        fail_msg("%s: %s", prefix, e.msg);
}

static void fixture_free(struct fixture_matrix *f)
{
    for (int i = 0; i < 3; i++)
        free(f->buf[i]);
}

/* Bitwise equal, or both NaN (inf * 0 in an overflowed affine group). */
static int same_f32(float a, float b)
{
    return mlxc_f32_bits(a) == mlxc_f32_bits(b) || (isnan(a) && isnan(b));
}

static void check_dequantize(struct mlxc_qparams q, const char *prefix)
{
    static const char *isas[] = {"ref", "avx2"};
    struct fixture_matrix f;
    fixture_matrix(&f, q, prefix);
    char name[96];
    snprintf(name, sizeof name, "%s.dequant", prefix);
    const struct mlxc_tensor *td = need(name);
    const int64_t rows = f.m.rows, cols = f.m.cols;
    float *got = malloc((size_t)(rows * cols) * sizeof(float)), *want = malloc(td->nbytes);
    assert_true(got && want);
    memcpy(want, td->data, td->nbytes);
    for (size_t k = 0; k < 2; k++) {
        const struct mlxc_qkernels *kt = mlxc_qkernels_get(isas[k]);
        if (!kt)
            continue;
        /* the whole matrix, then rows [2, 5) alone */
        for (int part = 0; part < 2; part++) {
            int64_t r0 = part ? 2 : 0, nr = part ? 3 : rows;
            memset(got, 0xA5, (size_t)(rows * cols) * sizeof(float));
            kt->dequantize_rows(&f.m, r0, nr, got);
            for (int64_t i = 0; i < nr * cols; i++)
                if (!same_f32(got[i], want[r0 * cols + i]))
                    fail_msg("%s isa=%s rows [%lld, %lld): element (%lld, %lld): got %.9g (0x%08x), want %.9g (0x%08x)",
                             prefix, isas[k], (long long)r0, (long long)(r0 + nr), (long long)(r0 + i / cols),
                             (long long)(i % cols), (double)got[i], mlxc_f32_bits(got[i]),
                             (double)want[r0 * cols + i], mlxc_f32_bits(want[r0 * cols + i]));
        }
    }
    /* and the public entry point */
    mlxc_dequantize_rows(&f.m, 0, rows, got);
    for (int64_t i = 0; i < rows * cols; i++)
        if (!same_f32(got[i], want[i]))
            fail_msg("%s mlxc_dequantize_rows: element %lld differs", prefix, (long long)i);
    free(got);
    free(want);
    fixture_free(&f);
}

static void test_affine_dequantize(void **state)
{
    (void)state;
    static const int bits[] = {2, 3, 4, 5, 6, 8}, gss[] = {32, 64, 128};
    for (size_t d = 0; d < 3; d++)
        for (size_t b = 0; b < 6; b++)
            for (size_t g = 0; g < 3; g++) {
                char prefix[64];
                snprintf(prefix, sizeof prefix, "affine.b%d.g%d.%s", bits[b], gss[g], mlxc_dtype_name(src_dtypes[d]));
                check_dequantize((struct mlxc_qparams){MLXC_Q_AFFINE, bits[b], gss[g]}, prefix);
            }
}

static void test_fp_dequantize(void **state)
{
    (void)state;
    static const enum mlxc_qmode modes[] = {MLXC_Q_MXFP4, MLXC_Q_NVFP4, MLXC_Q_MXFP8};
    for (size_t d = 0; d < 3; d++)
        for (size_t i = 0; i < 3; i++) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "%s.%s", mlxc_qmode_name(modes[i]), mlxc_dtype_name(src_dtypes[d]));
            check_dequantize(mlxc_qparams_default(modes[i]), prefix);
        }
}

/* ---------------------------------------------------------------- codecs and packing */

static void test_e4m3_encode(void **state)
{
    (void)state;
    const struct mlxc_tensor *ti = need("codec.e4m3.input"), *to = need("codec.e4m3.encoded");
    int64_t n = mlxc_tensor_numel(ti);
    assert_int_equal(n, mlxc_tensor_numel(to));
    for (int64_t i = 0; i < n; i++) {
        float x = mlxc_load_scalar(ti->data, i, MLXC_F32);
        uint8_t want = ((const uint8_t *)to->data)[i], got = mlxc_e4m3_encode(x);
        if (got != want)
            fail_msg("E4M3 of %.9g (0x%08x): got 0x%02x, want 0x%02x", (double)x, mlxc_f32_bits(x), got, want);
    }
}

static void test_e4m3_e8m0_values(void **state)
{
    (void)state;
    /* every code decodes to a value that encodes back to it (0x7F: 480 saturates to 0x7E) */
    for (int b = 0; b < 256; b++) {
        float v = mlxc_e4m3_value((uint8_t)b);
        uint8_t back = mlxc_e4m3_encode(v);
        uint8_t want = (b & 0x7F) == 0x7F ? (uint8_t)(b & 0x80) | 0x7E : (uint8_t)b;
        if (back != want)
            fail_msg("E4M3 0x%02x -> %g -> 0x%02x", b, (double)v, back);
    }
    assert_true(mlxc_e4m3_value(0x7E) == 448.0f);
    assert_true(mlxc_e4m3_value(0x7F) == 480.0f);
    assert_true(mlxc_e4m3_value(0x01) == 0x1p-9f);
    assert_true(mlxc_e4m3_value(0x38) == 1.0f);
    assert_true(signbit(mlxc_e4m3_value(0x80)) && mlxc_e4m3_value(0x80) == 0.0f);
    assert_true(mlxc_e8m0_value(127) == 1.0f);
    assert_true(mlxc_e8m0_value(0) == 0x1p-127f);
    assert_true(mlxc_e8m0_value(1) == 0x1p-126f);
    assert_true(mlxc_e8m0_value(254) == 0x1p127f);
    assert_true(isinf(mlxc_e8m0_value(255)));
    static const float fp4[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};
    for (int i = 0; i < 16; i++)
        assert_true(mlxc_f32_bits(mlxc_fp4_values[i]) == mlxc_f32_bits(fp4[i]));
}

/* The worked examples of mlx-lm-facts.md §3.2, byte by byte, and a round trip at every width. */
static void test_pack_layout(void **state)
{
    (void)state;
    /* 3 bits, codes 0..7: value 2 uses bits 6-7 of byte 0 and bit 0 of byte 1 */
    const uint8_t c3[8] = {1, 2, 3, 4, 5, 6, 7, 0};
    uint8_t out[8] = {0};
    mlxc_qpack(c3, 8, 3, out);
    /* stream: 001 010 011 100 101 110 111 000 read LSB first -> 24-bit value sum(c[i] << 3i) */
    uint32_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint32_t)c3[i] << (3 * i);
    assert_int_equal(out[0], v & 0xFF);
    assert_int_equal(out[1], (v >> 8) & 0xFF);
    assert_int_equal(out[2], (v >> 16) & 0xFF);
    assert_int_equal(out[0] >> 6 | (out[1] & 1) << 2, c3[2]);
    /* value 5 uses bit 7 of byte 1 and bits 0-1 of byte 2 */
    assert_int_equal(out[1] >> 7 | (out[2] & 3) << 1, c3[5]);
    /* 6 bits: value 1 = bits 6-7 of byte 0 plus bits 0-3 of byte 1 */
    const uint8_t c6[4] = {0x15, 0x2A, 0x33, 0x0F};
    mlxc_qpack(c6, 4, 6, out);
    assert_int_equal((out[0] >> 6) | ((out[1] & 0x0F) << 2), 0x2A);
    assert_int_equal((out[1] >> 4) | ((out[2] & 0x03) << 4), 0x33);
    assert_int_equal(out[2] >> 2, 0x0F);
    /* 4 bits: element j in word j/8 at bits 4*(j%8) */
    uint8_t c4[16];
    for (int i = 0; i < 16; i++)
        c4[i] = (uint8_t)(i ^ 5);
    mlxc_qpack(c4, 16, 4, out);
    uint32_t w1;
    memcpy(&w1, out + 4, 4);
    for (int j = 8; j < 16; j++)
        assert_int_equal((w1 >> (4 * (j % 8))) & 15, c4[j]);
    /* round trips, including reads that start mid-stream */
    static const int widths[] = {2, 3, 4, 5, 6, 8};
    for (int k = 0; k < 6; k++) {
        int b = widths[k];
        uint8_t codes[96], back[96], buf[96];
        for (int i = 0; i < 96; i++)
            codes[i] = (uint8_t)((i * 37 + 11) & ((1 << b) - 1));
        mlxc_qpack(codes, 96, b, buf);
        mlxc_qunpack(buf, 0, 96, b, back);
        assert_memory_equal(codes, back, 96);
        mlxc_qunpack(buf, 13, 50, b, back);
        assert_memory_equal(codes + 13, back, 50);
    }
}

/* ---------------------------------------------------------------- parameters and errors */

static void test_params(void **state)
{
    (void)state;
    struct mlxc_err e = {0};
    static const char *names[] = {"affine", "mxfp4", "nvfp4", "mxfp8"};
    for (int i = 0; i < 4; i++) {
        enum mlxc_qmode m;
        assert_int_equal(mlxc_qmode_parse(names[i], &m), 0);
        assert_int_equal(m, i);
        assert_string_equal(mlxc_qmode_name(m), names[i]);
        struct mlxc_qparams d = mlxc_qparams_default(m);
        assert_int_equal(mlxc_qparams_check(d, &e), 0);
    }
    enum mlxc_qmode m;
    assert_int_equal(mlxc_qmode_parse("int4", &m), -1);
    assert_int_equal(mlxc_qmode_parse(NULL, &m), -1);
    struct mlxc_qparams d = mlxc_qparams_default(MLXC_Q_AFFINE);
    assert_int_equal(d.group_size, 64);
    assert_int_equal(d.bits, 4);
    assert_int_equal(mlxc_qparams_default(MLXC_Q_NVFP4).group_size, 16);
    assert_int_equal(mlxc_qparams_default(MLXC_Q_MXFP8).bits, 8);

    assert_int_equal(mlxc_qparams_check((struct mlxc_qparams){MLXC_Q_AFFINE, 4, 16}, &e), MLXC_EINVAL);
    assert_str_contains(e.msg, "supported group sizes are 32, 64, and 128");
    assert_int_equal(mlxc_qparams_check((struct mlxc_qparams){MLXC_Q_AFFINE, 7, 64}, &e), MLXC_EINVAL);
    assert_str_contains(e.msg, "supported bits are 2, 3, 4, 5, 6 and 8");
    assert_int_equal(mlxc_qparams_check((struct mlxc_qparams){MLXC_Q_MXFP4, 4, 64}, &e), MLXC_EINVAL);
    assert_str_contains(e.msg, "mxfp4 quantization requires group size 32 but got 64");
    assert_int_equal(mlxc_qparams_check((struct mlxc_qparams){MLXC_Q_NVFP4, 8, 16}, &e), MLXC_EINVAL);
    assert_str_contains(e.msg, "nvfp4 quantization requires bits to be 4 but got 8");
    assert_int_equal(mlxc_qparams_check((struct mlxc_qparams){MLXC_Q_MXFP8, 4, 32}, &e), MLXC_EINVAL);
    assert_str_contains(e.msg, "mxfp8 quantization requires bits to be 8 but got 4");
    assert_int_equal(mlxc_qparams_check((struct mlxc_qparams){(enum mlxc_qmode)9, 4, 32}, &e), MLXC_EINVAL);
    assert_str_contains(e.msg, "unknown quantization mode");
}

static void test_quantize_errors(void **state)
{
    (void)state;
    struct mlxc_err e = {0};
    float w[64] = {0};
    uint8_t packed[64], scales[16], biases[16];
    struct mlxc_qparams q = {MLXC_Q_AFFINE, 4, 32};
    assert_int_equal(mlxc_quantize(w, 1, 48, q, MLXC_F32, packed, scales, biases, &e), MLXC_EINVAL);
    assert_str_contains(e.msg, "divisible by the quantization group size 32");
    assert_int_equal(mlxc_quantize(w, 1, 64, q, MLXC_I8, packed, scales, biases, &e), MLXC_EINVAL);
    assert_str_contains(e.msg, "not I8");
    w[37] = NAN;
    assert_int_equal(mlxc_quantize(w, 2, 32, q, MLXC_F32, packed, scales, biases, &e), MLXC_EINVAL);
    assert_str_contains(e.msg, "non-finite value nan at (1, 5)");
    w[37] = INFINITY;
    assert_int_equal(mlxc_quantize(w, 1, 64, mlxc_qparams_default(MLXC_Q_MXFP4), MLXC_BF16, packed, scales, NULL, &e),
                     MLXC_EINVAL);
    assert_str_contains(e.msg, "non-finite");
    w[37] = 0.0f;
    assert_int_equal(mlxc_quantize(w, 1, 64, q, MLXC_F32, packed, scales, NULL, &e), MLXC_EINVAL);
    assert_int_equal(mlxc_quantize(w, 0, 64, q, MLXC_F32, packed, scales, biases, &e), 0);
    assert_int_equal(mlxc_quantize(w, 1, 64, (struct mlxc_qparams){MLXC_Q_AFFINE, 1, 32}, MLXC_F32, packed, scales,
                                   biases, &e),
                     MLXC_EINVAL);
    /* an all-zero group: scale 1e-7 with the sign rule (not negative-dominated, so negated), bias 0, q 0 */
    assert_int_equal(mlxc_quantize(w, 1, 32, q, MLXC_F32, packed, scales, biases, &e), 0);
    float s, b;
    memcpy(&s, scales, 4);
    memcpy(&b, biases, 4);
    assert_true(s == -1e-7f && b == 0.0f);
    for (int i = 0; i < 16; i++)
        assert_int_equal(packed[i], 0);

    struct mlxc_qmatrix m = {q, 2, 48, packed, scales, biases, MLXC_F32};
    assert_int_equal(mlxc_qmatrix_check(&m, &e), MLXC_EINVAL);
    assert_str_contains(e.msg, "not a multiple of the group size 32");
    m.cols = 64;
    m.scale_dtype = MLXC_U8;
    assert_int_equal(mlxc_qmatrix_check(&m, &e), MLXC_EINVAL);
    assert_str_contains(e.msg, "affine scales must be F32, F16 or BF16");
    m.q = mlxc_qparams_default(MLXC_Q_MXFP4);
    assert_int_equal(mlxc_qmatrix_check(&m, &e), MLXC_EINVAL);
    assert_str_contains(e.msg, "mxfp4 quantization has no biases");
    m.biases = NULL;
    assert_int_equal(mlxc_qmatrix_check(&m, &e), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_affine_quantize),
        cmocka_unit_test(test_fp_quantize),
        cmocka_unit_test(test_affine_dequantize),
        cmocka_unit_test(test_fp_dequantize),
        cmocka_unit_test(test_e4m3_encode),
        cmocka_unit_test(test_e4m3_e8m0_values),
        cmocka_unit_test(test_pack_layout),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_quantize_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

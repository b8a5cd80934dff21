/* The safetensors header parser on arbitrary bytes: either a clean error or a file whose every tensor
 * lies inside the buffer with a byte count its dtype and shape agree with. */
#include "fuzz_util.h"

#include "core/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mlxc_st_file *f = NULL;
    struct mlxc_err e = {0};
    int rc = mlxc_st_parse(data, size, "fuzz.safetensors", &f, &e);
    if (rc) {
        FUZZ_CHECK(rc < 0 && e.code == rc && e.msg[0] && memchr(e.msg, '\n', strlen(e.msg)) == NULL);
        FUZZ_CHECK(f == NULL);
        return 0;
    }
    char shape[256];
    for (size_t i = 0; i < f->ntensors; i++) {
        const struct mlxc_tensor *t = &f->tensors[i];
        FUZZ_CHECK(t->ndim >= 0 && t->ndim <= MLXC_MAX_DIMS);
        const uint8_t *p = t->data;
        FUZZ_CHECK(t->nbytes == 0 || (p >= data && p + t->nbytes <= data + size));
        int64_t numel = mlxc_tensor_numel(t);
        FUZZ_CHECK(numel >= 0);
        FUZZ_CHECK(mlxc_st_find(f, t->name) == t);
        mlxc_shape_str(t->shape, t->ndim, shape, sizeof shape);
        volatile uint8_t sum = 0; /* touch every byte: ASan checks they are inside the buffer */
        for (size_t b = 0; b < t->nbytes; b += 61)
            sum += p[b];
        if (t->nbytes)
            sum += p[t->nbytes - 1];
        (void)sum;
    }
    for (size_t i = 0; i < f->nmeta; i++)
        FUZZ_CHECK(mlxc_st_meta_get(f, f->meta[i].key) != NULL);
    mlxc_st_find(f, "model.embed_tokens.weight");
    mlxc_st_meta_get(f, "format");
    mlxc_st_close(f);
    return 0;
}

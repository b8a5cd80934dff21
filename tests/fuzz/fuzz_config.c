/* config.json (and generation_config.json after a NUL byte) on arbitrary text: a clean error, or a
 * config whose dimensions are inside the caps checked before anything is allocated from them. */
#include "fuzz_util.h"

#include "core/config.h"
#include "core/family.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *json, *gen;
    fuzz_split(data, size, &json, &gen);
    struct mlxc_config c;
    struct mlxc_err e = {0};
    int rc = mlxc_config_parse(json, gen, "config.json", &c, &e);
    if (rc) {
        FUZZ_CHECK(rc < 0 && e.msg[0]);
    } else {
        FUZZ_CHECK(c.family != NULL);
        FUZZ_CHECK(c.hidden_size >= 1 && c.hidden_size <= (1 << 17));
        FUZZ_CHECK(c.n_layers >= 1 && c.n_layers <= 1024);
        FUZZ_CHECK(c.n_heads >= 1 && c.n_kv_heads >= 1 && c.n_heads % c.n_kv_heads == 0);
        FUZZ_CHECK(c.head_dim >= 1 && c.head_dim <= 1024 && c.head_dim % 2 == 0);
        FUZZ_CHECK(c.vocab_size >= 1 && c.vocab_size <= (1 << 23));
        FUZZ_CHECK(c.n_eos >= 0 && c.n_eos <= 32);
        struct mlxc_qparams q;
        mlxc_config_quant_for(&c, "model.layers.0.self_attn.q_proj", &q);
        mlxc_config_quant_for(&c, "lm_head", &q);
        for (size_t i = 0; i < c.quant.nlayers; i++)
            mlxc_config_quant_for(&c, c.quant.layers[i].path, &q);
        mlxc_config_free(&c);
    }
    free(json);
    free(gen);
    return 0;
}

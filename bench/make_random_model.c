/* make-random-model DIR [F32|F16|BF16]: a Llama-3.2-1B-shaped model with random weights (hidden 2048,
 * 16 layers, 32 heads, 8 KV heads, MLP 8192, vocab 128256, tied embeddings), for speed measurements.
 * Weights are uniform in +-0.02 (norms 1), written tensor by tensor. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/half.h"
#include "core/safetensors.h"

enum { HIDDEN = 2048, LAYERS = 16, HEADS = 32, KV_HEADS = 8, HEAD_DIM = 64, INTER = 8192, VOCAB = 128256 };

static uint64_t state = 0x2545F4914F6CDD1Dull;
static float frand(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return ((float)(state >> 40) * (1.0f / 16777216.0f) * 2.0f - 1.0f) * 0.02f;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: make-random-model DIR [F32|F16|BF16]\n");
        return 2;
    }
    enum mlxc_dtype dt = MLXC_BF16;
    if (argc > 2 && mlxc_dtype_parse(argv[2], strlen(argv[2]), &dt) != 0) {
        fprintf(stderr, "unknown dtype '%s'\n", argv[2]);
        return 2;
    }
    mkdir(argv[1], 0755);
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", argv[1]);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return 1;
    }
    fprintf(f, "{\"model_type\": \"llama\", \"hidden_size\": %d, \"num_hidden_layers\": %d, \"intermediate_size\": %d, "
               "\"num_attention_heads\": %d, \"num_key_value_heads\": %d, \"head_dim\": %d, \"vocab_size\": %d, "
               "\"rms_norm_eps\": 1e-05, \"rope_theta\": 500000.0, \"tie_word_embeddings\": true, "
               "\"max_position_embeddings\": 131072, \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 32.0, "
               "\"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192}}\n",
            HIDDEN, LAYERS, INTER, HEADS, KV_HEADS, HEAD_DIM, VOCAB);
    fclose(f);

    static char names[LAYERS * 9 + 2][96];
    struct mlxc_st_entry e[LAYERS * 9 + 2];
    int n = 0;
#define ADD(rows, cols, ...)                                                                            \
    do {                                                                                                \
        snprintf(names[n], sizeof names[n], __VA_ARGS__);                                               \
        e[n] = (struct mlxc_st_entry){names[n], dt, (cols) ? 2 : 1, {(rows), (cols)}};                  \
        n++;                                                                                            \
    } while (0)
    ADD(VOCAB, HIDDEN, "model.embed_tokens.weight");
    for (int l = 0; l < LAYERS; l++) {
        ADD(HIDDEN, 0, "model.layers.%d.input_layernorm.weight", l);
        ADD(HIDDEN, 0, "model.layers.%d.post_attention_layernorm.weight", l);
        ADD(HEADS * HEAD_DIM, HIDDEN, "model.layers.%d.self_attn.q_proj.weight", l);
        ADD(KV_HEADS * HEAD_DIM, HIDDEN, "model.layers.%d.self_attn.k_proj.weight", l);
        ADD(KV_HEADS * HEAD_DIM, HIDDEN, "model.layers.%d.self_attn.v_proj.weight", l);
        ADD(HIDDEN, HEADS * HEAD_DIM, "model.layers.%d.self_attn.o_proj.weight", l);
        ADD(INTER, HIDDEN, "model.layers.%d.mlp.gate_proj.weight", l);
        ADD(INTER, HIDDEN, "model.layers.%d.mlp.up_proj.weight", l);
        ADD(HIDDEN, INTER, "model.layers.%d.mlp.down_proj.weight", l);
    }
    ADD(HIDDEN, 0, "model.norm.weight");
    snprintf(path, sizeof path, "%s/model.safetensors", argv[1]);
    struct mlxc_st_meta meta[] = {{"format", "mlx"}};
    struct mlxc_st_writer *w;
    struct mlxc_err err = {0};
    if (mlxc_stw_open(path, e, (size_t)n, meta, 1, &w, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    size_t es = mlxc_dtype_size(dt);
    void *row = malloc((size_t)INTER * 4);
    for (int i = 0; i < n; i++) {
        int64_t rows = e[i].shape[0], cols = e[i].ndim == 2 ? e[i].shape[1] : rows;
        int is_norm = e[i].ndim == 1;
        for (int64_t r = 0; r < (e[i].ndim == 2 ? rows : 1); r++) {
            for (int64_t c = 0; c < cols; c++) {
                float v = is_norm ? 1.0f : frand();
                if (dt == MLXC_F32)
                    ((float *)row)[c] = v;
                else if (dt == MLXC_F16)
                    ((uint16_t *)row)[c] = mlxc_f32_to_f16(v);
                else
                    ((uint16_t *)row)[c] = mlxc_f32_to_bf16(v);
            }
            if (mlxc_stw_write(w, row, (size_t)cols * es, &err) != 0) {
                fprintf(stderr, "%s\n", err.msg);
                mlxc_stw_abort(w);
                return 1;
            }
        }
    }
    free(row);
    if (mlxc_stw_close(w, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    return 0;
}

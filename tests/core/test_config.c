/* config.json parsing, model-folder resolution (local folders and an offline Hugging Face cache) and
 * sharded weights, with the errors each bad input must give. */
#include "tests/test_util.h"

#include <math.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/family.h"
#include "core/model_dir.h"
#include "core/rope.h"
#include "core/safetensors.h"
#include "core/sys.h"
#include "core/weights.h"

#define LLAMA_BASE                                                                                        \
    "\"hidden_size\": 64, \"num_hidden_layers\": 2, \"intermediate_size\": 128, \"num_attention_heads\": 4, " \
    "\"vocab_size\": 100, \"rms_norm_eps\": 1e-5"

static int parse(const char *json, const char *gen, struct mlxc_config *c, struct mlxc_err *e)
{
    return mlxc_config_parse(json, gen, "config.json", c, e);
}

static void test_llama_defaults(void **state)
{
    (void)state;
    struct mlxc_config c;
    struct mlxc_err e = {0};
    assert_int_equal(parse("{\"model_type\": \"llama\", " LLAMA_BASE "}", NULL, &c, &e), 0);
    assert_ptr_equal(c.family, &mlxc_family_llama);
    assert_int_equal(c.n_kv_heads, 4);   /* defaults to the head count */
    assert_int_equal(c.head_dim, 16);    /* hidden / heads */
    assert_int_equal(c.tie_word_embeddings, 1);
    assert_true(c.rope.theta == 10000.0f);
    assert_int_equal(c.quant.present, 0);
    mlxc_config_free(&c);
    /* mistral is llama (MODEL_REMAPPING) */
    assert_int_equal(parse("{\"model_type\": \"mistral\", " LLAMA_BASE ", \"tie_word_embeddings\": false}", NULL, &c, &e), 0);
    assert_ptr_equal(c.family, &mlxc_family_llama);
    assert_int_equal(c.tie_word_embeddings, 0);
    mlxc_config_free(&c);
}

static void test_family_rules(void **state)
{
    (void)state;
    struct mlxc_config c;
    struct mlxc_err e = {0};
    /* qwen2 ignores a config head_dim and has q/k/v biases */
    assert_int_equal(parse("{\"model_type\": \"qwen2\", " LLAMA_BASE ", \"head_dim\": 32}", NULL, &c, &e), 0);
    assert_int_equal(c.head_dim, 16);
    assert_true(c.q_bias && c.k_bias && c.v_bias && !c.o_bias);
    assert_true(c.rope.theta == 1000000.0f);
    mlxc_config_free(&c);
    /* qwen3 requires head_dim and tie_word_embeddings, and has q/k norms */
    assert_int_equal(parse("{\"model_type\": \"qwen3\", " LLAMA_BASE ", \"tie_word_embeddings\": true}", NULL, &c, &e),
                     MLXC_EFORMAT);
    assert_str_contains(e.msg, "missing 'head_dim'");
    assert_int_equal(parse("{\"model_type\": \"qwen3\", " LLAMA_BASE ", \"head_dim\": 32}", NULL, &c, &e), MLXC_EFORMAT);
    assert_str_contains(e.msg, "tie_word_embeddings");
    assert_int_equal(parse("{\"model_type\": \"qwen3\", " LLAMA_BASE ", \"head_dim\": 32, \"tie_word_embeddings\": false}",
                           NULL, &c, &e), 0);
    assert_int_equal(c.qk_norm, 1);
    assert_int_equal(c.head_dim, 32);
    mlxc_config_free(&c);
}

/* The rules of the newer families that the transformers fixtures cannot see (mlx_lm-specific choices or
 * defaults the fixtures override). */
static void test_more_families(void **state)
{
    (void)state;
    struct mlxc_config c;
    struct mlxc_err e = {0};
    /* gemma3_text: default pattern 6 (layers 5, 11 global), window 512, query scale 256^-0.5 */
    assert_int_equal(parse("{\"model_type\": \"gemma3_text\", \"hidden_size\": 64, \"num_hidden_layers\": 12, "
                           "\"intermediate_size\": 128, \"num_attention_heads\": 4, \"vocab_size\": 100, "
                           "\"head_dim\": 32}", NULL, &c, &e), 0);
    for (int i = 0; i < 12; i++)
        assert_int_equal(c.layer_sliding[i], i != 5 && i != 11);
    assert_int_equal(c.sliding_window, 512);
    assert_true(c.attn_scale == 1.0f / 16.0f && c.embed_scale == 8.0f && c.norm == MLXC_NORM_RMS_PLUS_ONE);
    assert_true(c.has_rope_local && c.rope_local.theta == 10000.0f && c.rope.theta == 1000000.0f);
    mlxc_config_free(&c);
    /* gemma2: softcaps 50 and 30, query_pre_attn_scalar 144, every layer global */
    assert_int_equal(parse("{\"model_type\": \"gemma2\", " LLAMA_BASE ", \"head_dim\": 16}", NULL, &c, &e), 0);
    assert_true(c.attn_softcap == 50.0f && c.final_softcap == 30.0f && c.attn_scale == 1.0f / 12.0f);
    assert_null(c.layer_sliding);
    mlxc_config_free(&c);
    /* phi3 longrope: the long factor whatever the length (transformers would take the short one below
     * the original context), mscale sqrt(1 + ln 32 / ln 4096) */
    assert_int_equal(parse("{\"model_type\": \"phi3\", " LLAMA_BASE ", \"max_position_embeddings\": 131072, "
                           "\"rope_scaling\": {\"type\": \"longrope\", \"short_factor\": [1,1,1,1,1,1,1,1], "
                           "\"long_factor\": [1,2,3,4,5,6,7,8]}}", NULL, &c, &e), 0);
    float inv[8];
    mlxc_rope_inv_freq(&c.rope, (int)c.rope_dims, 10, c.max_position_embeddings, inv);
    assert_true(fabsf(inv[3] - 1.0f / (4.0f * powf(10000.0f, 6.0f / 16.0f))) < 1e-9f);
    assert_true(fabsf(c.rope.mscale - sqrtf(1.0f + logf(32.0f) / logf(4096.0f))) < 1e-6f);
    assert_true(c.fused_qkv && c.fused_gate_up && !c.tie_word_embeddings);
    mlxc_config_free(&c);
    assert_int_equal(parse("{\"model_type\": \"phi3\", " LLAMA_BASE ", \"partial_rotary_factor\": 0.5, "
                           "\"rope_scaling\": {\"type\": \"su\", \"long_factor\": [1,2,3,4,5,6,7,8]}}", NULL, &c, &e),
                     MLXC_EFORMAT);
    assert_str_contains(e.msg, "'long_factor' has 8 entries, expected 4");
    /* smollm3: NoPE every 4th layer by default, or the explicit list */
    assert_int_equal(parse("{\"model_type\": \"smollm3\", \"hidden_size\": 64, \"num_hidden_layers\": 8, "
                           "\"intermediate_size\": 128, \"num_attention_heads\": 4, \"vocab_size\": 100}", NULL, &c, &e), 0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(c.layer_rope[i], i != 3 && i != 7);
    mlxc_config_free(&c);
    assert_int_equal(parse("{\"model_type\": \"smollm3\", " LLAMA_BASE ", \"no_rope_layers\": [1]}", NULL, &c, &e),
                     MLXC_EFORMAT);
    assert_str_contains(e.msg, "'no_rope_layers' is not a list of 2 flags");
    /* starcoder2: LayerNorm eps from norm_epsilon, rope_theta 1e5, exact GELU, biases */
    assert_int_equal(parse("{\"model_type\": \"starcoder2\", " LLAMA_BASE ", \"norm_epsilon\": 0.001}", NULL, &c, &e), 0);
    assert_true(c.norm == MLXC_NORM_LAYER && c.norm_eps == 0.001f && c.rope.theta == 100000.0f);
    assert_true(c.act == MLXC_ACT_GELU_ERF && !c.mlp_gated && c.q_bias && c.o_bias && c.mlp_bias);
    mlxc_config_free(&c);
    /* olmo2: post-norms only, full-width q/k norms */
    assert_int_equal(parse("{\"model_type\": \"olmo2\", " LLAMA_BASE "}", NULL, &c, &e), 0);
    assert_true(!c.pre_norms && c.post_norms && c.qk_norm == MLXC_QK_FULL_WIDTH);
    mlxc_config_free(&c);
}

/* The MoE families' rules the fixtures do not exercise: mlx_lm's defaults, which layers are MoE, yarn. */
static void test_moe_families(void **state)
{
    (void)state;
    struct mlxc_config c;
    struct mlxc_err e = {0};
    /* mixtral: 8 experts, top 2, head_dim hidden/heads, untied, eps 1e-5, rope_scaling not read */
    assert_int_equal(parse("{\"model_type\": \"mixtral\", \"hidden_size\": 64, \"num_hidden_layers\": 2, "
                           "\"intermediate_size\": 128, \"num_attention_heads\": 4, \"vocab_size\": 100, \"head_dim\": 32, "
                           "\"rope_scaling\": {\"type\": \"linear\", \"factor\": 4}}", NULL, &c, &e), 0);
    assert_true(c.n_experts == 8 && c.top_k == 2 && c.head_dim == 16 && !c.tie_word_embeddings && c.norm_eps == 1e-5f);
    assert_true(c.rope.type == MLXC_ROPE_DEFAULT && c.rope.theta == 1e6f && c.router == MLXC_ROUTER_TOPK_SOFTMAX);
    assert_true(c.layer_moe[0] && c.layer_moe[1] && c.moe_intermediate == 128);
    mlxc_config_free(&c);
    /* qwen3_moe: MoE iff not in mlp_only_layers and (i + 1) % decoder_sparse_step == 0 */
    const char *q3 = "{\"model_type\": \"qwen3_moe\", \"hidden_size\": 64, \"num_hidden_layers\": 6, "
                     "\"intermediate_size\": 128, \"num_attention_heads\": 4, \"vocab_size\": 100, \"head_dim\": 32, "
                     "\"tie_word_embeddings\": false, \"num_experts\": 8, \"num_experts_per_tok\": 2, "
                     "\"moe_intermediate_size\": 32, \"decoder_sparse_step\": 2, \"mlp_only_layers\": [3], "
                     "\"norm_topk_prob\": true}";
    assert_int_equal(parse(q3, NULL, &c, &e), 0);
    static const unsigned char want[6] = {0, 1, 0, 0, 0, 1};
    assert_memory_equal(c.layer_moe, want, 6);
    assert_true(c.router == MLXC_ROUTER_SOFTMAX_TOPK && c.norm_topk_prob && c.qk_norm == MLXC_QK_PER_HEAD);
    mlxc_config_free(&c);
    assert_int_equal(parse("{\"model_type\": \"qwen3_moe\", \"hidden_size\": 64, \"num_hidden_layers\": 2, "
                           "\"intermediate_size\": 128, \"num_attention_heads\": 4, \"vocab_size\": 100, \"head_dim\": 32, "
                           "\"tie_word_embeddings\": false}", NULL, &c, &e), MLXC_EFORMAT);
    assert_str_contains(e.msg, "missing 'num_experts'");
    assert_int_equal(parse("{\"model_type\": \"mixtral\", " LLAMA_BASE ", \"num_experts_per_tok\": 9}", NULL, &c, &e),
                     MLXC_EFORMAT);
    assert_str_contains(e.msg, "'num_experts_per_tok' is 9, outside 1..8");
    /* gpt_oss: sliding first by default, window 128, 128 experts top 4, sinks, biases, untied, yarn:
     * the correction range [8, 18) floored/ceiled whatever "truncate" says (mlx_lm's YarnRoPE), mscale
     * 0.1 ln 32 + 1, pairs below 8 unscaled, above 18 divided by 32, linear between */
    const char *oss = "{\"model_type\": \"gpt_oss\", \"hidden_size\": 64, \"num_hidden_layers\": 4, "
                      "\"intermediate_size\": 64, \"num_attention_heads\": 4, \"vocab_size\": 100, %s"
                      "\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 32.0, \"beta_fast\": 32.0, "
                      "\"beta_slow\": 1.0, \"truncate\": %s, \"original_max_position_embeddings\": 4096}}";
    char json[1024];
    float inv[2][32];
    for (int trunc = 0; trunc < 2; trunc++) {
        snprintf(json, sizeof json, oss, "", trunc ? "true" : "false");
        assert_int_equal(parse(json, NULL, &c, &e), 0);
        assert_true(c.layer_sliding[0] && !c.layer_sliding[1] && c.layer_sliding[2] && !c.layer_sliding[3]);
        assert_true(c.sliding_window == 128 && c.n_experts == 128 && c.top_k == 4 && c.head_dim == 64);
        assert_true(c.attn_sinks && c.q_bias && c.o_bias && c.moe_bias && !c.tie_word_embeddings && c.has_make_cache);
        assert_true(c.rope.type == MLXC_ROPE_YARN && c.rope.theta == 150000.0f && c.act == MLXC_ACT_SWIGLU_OAI);
        assert_true(fabsf(c.rope.mscale - (float)(0.1 * log(32.0) + 1.0)) < 1e-6f);
        mlxc_rope_inv_freq(&c.rope, 64, 10, c.max_position_embeddings, inv[trunc]);
        mlxc_config_free(&c);
    }
    assert_memory_equal(inv[0], inv[1], sizeof inv[0]);
    double f13 = pow(150000.0, 26.0 / 64), f31 = pow(150000.0, 62.0 / 64);
    assert_true(fabs(inv[0][0] - 1.0) < 1e-6 && fabs(inv[0][7] * pow(150000.0, 14.0 / 64) - 1.0) < 1e-6);
    assert_true(fabs(inv[0][13] - 16.5 / (32.0 * f13)) < 1e-6 * inv[0][13]);
    assert_true(fabs(inv[0][31] - 1.0 / (32.0 * f31)) < 1e-6 * inv[0][31]);
    /* rope_parameters' rope_theta wins; layer_types must name every layer */
    snprintf(json, sizeof json, oss, "\"rope_parameters\": {\"rope_theta\": 500.0}, ", "false");
    assert_int_equal(parse(json, NULL, &c, &e), 0);
    assert_true(c.rope.theta == 500.0f);
    mlxc_config_free(&c);
    snprintf(json, sizeof json, oss, "\"layer_types\": [\"full_attention\"], ", "false");
    assert_int_equal(parse(json, NULL, &c, &e), MLXC_EFORMAT);
    assert_str_contains(e.msg, "'layer_types' is not a list of 4 names");
}

static void test_text_config_and_rope(void **state)
{
    (void)state;
    struct mlxc_config c;
    struct mlxc_err e = {0};
    const char *json = "{\"model_type\": \"llama\", \"text_config\": {" LLAMA_BASE
                       ", \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, "
                       "\"original_max_position_embeddings\": 8192}}}";
    assert_int_equal(parse(json, NULL, &c, &e), 0);
    assert_int_equal(c.hidden_size, 64);
    assert_int_equal(c.rope.type, MLXC_ROPE_LLAMA3);
    assert_true(c.rope.low_freq_factor == 1.0f && c.rope.high_freq_factor == 4.0f);
    mlxc_config_free(&c);
    assert_int_equal(parse("{\"model_type\": \"llama\", " LLAMA_BASE ", \"rope_scaling\": {\"type\": \"proportional\"}}", NULL,
                           &c, &e), MLXC_EUNSUP);
    assert_str_contains(e.msg, "rope scaling type 'proportional'");
    assert_int_equal(parse("{\"model_type\": \"llama\", " LLAMA_BASE ", \"rope_scaling\": {\"type\": \"su\"}}", NULL, &c, &e),
                     MLXC_EFORMAT);
    assert_str_contains(e.msg, "'long_factor' is not a list");
}

static void test_eos(void **state)
{
    (void)state;
    struct mlxc_config c;
    struct mlxc_err e = {0};
    assert_int_equal(parse("{\"model_type\": \"llama\", " LLAMA_BASE ", \"eos_token_id\": [5, 9]}", NULL, &c, &e), 0);
    assert_int_equal(c.n_eos, 2);
    assert_int_equal(c.eos_ids[1], 9);
    mlxc_config_free(&c);
    /* generation_config.json overrides when present and truthy */
    assert_int_equal(parse("{\"model_type\": \"llama\", " LLAMA_BASE ", \"eos_token_id\": 5}", "{\"eos_token_id\": 7}", &c, &e), 0);
    assert_int_equal(c.n_eos, 1);
    assert_int_equal(c.eos_ids[0], 7);
    mlxc_config_free(&c);
    assert_int_equal(parse("{\"model_type\": \"llama\", " LLAMA_BASE ", \"eos_token_id\": 5}", "{\"eos_token_id\": []}", &c, &e), 0);
    assert_int_equal(c.eos_ids[0], 5);
    mlxc_config_free(&c);
}

static void test_quantization(void **state)
{
    (void)state;
    struct mlxc_config c;
    struct mlxc_err e = {0};
    const char *json = "{\"model_type\": \"llama\", " LLAMA_BASE ", \"quantization\": {\"group_size\": 64, \"bits\": 4, "
                       "\"model.layers.0.mlp.down_proj\": {\"group_size\": 32, \"bits\": 8}, \"lm_head\": false}}";
    assert_int_equal(parse(json, NULL, &c, &e), 0);
    assert_int_equal(c.quant.present, 1);
    struct mlxc_qparams q;
    assert_int_equal(mlxc_config_quant_for(&c, "model.layers.0.mlp.down_proj", &q), 1);
    assert_int_equal(q.bits, 8);
    assert_int_equal(q.group_size, 32);
    assert_int_equal(mlxc_config_quant_for(&c, "model.layers.1.mlp.up_proj", &q), 1);
    assert_int_equal(q.bits, 4);
    assert_int_equal(q.mode, MLXC_Q_AFFINE);
    assert_int_equal(mlxc_config_quant_for(&c, "lm_head", &q), 0);
    mlxc_config_free(&c);
    /* legacy gpt-oss form */
    assert_int_equal(parse("{\"model_type\": \"llama\", " LLAMA_BASE ", \"quantization_config\": {\"quant_method\": \"mxfp4\"}}",
                           NULL, &c, &e), 0);
    assert_int_equal(c.quant.q.mode, MLXC_Q_MXFP4);
    assert_int_equal(c.quant.q.group_size, 32);
    mlxc_config_free(&c);
    /* a per-layer dict without "mode" is affine whatever the top level says (mlx's to_quantized default):
     * gpt-oss's 8-bit routers in an mxfp4 model */
    assert_int_equal(parse("{\"model_type\": \"llama\", " LLAMA_BASE ", \"quantization\": {\"group_size\": 32, \"bits\": 4, "
                           "\"mode\": \"mxfp4\", \"model.layers.0.mlp.router\": {\"group_size\": 64, \"bits\": 8}}}",
                           NULL, &c, &e), 0);
    assert_int_equal(mlxc_config_quant_for(&c, "model.layers.0.mlp.router", &q), 1);
    assert_true(q.mode == MLXC_Q_AFFINE && q.bits == 8 && q.group_size == 64);
    assert_int_equal(mlxc_config_quant_for(&c, "model.layers.0.mlp.experts.gate_proj", &q), 1);
    assert_true(q.mode == MLXC_Q_MXFP4 && q.bits == 4 && q.group_size == 32);
    mlxc_config_free(&c);
    assert_int_equal(parse("{\"model_type\": \"llama\", " LLAMA_BASE ", \"quantization\": {\"group_size\": 48, \"bits\": 4}}",
                           NULL, &c, &e), MLXC_EINVAL);
    assert_str_contains(e.msg, "supported group sizes are 32, 64, and 128");
}

static void test_bad_configs(void **state)
{
    (void)state;
    struct mlxc_config c;
    struct mlxc_err e = {0};
    assert_int_equal(parse("{\"model_type\": \"gpt_neox\", " LLAMA_BASE "}", NULL, &c, &e), MLXC_EUNSUP);
    assert_str_contains(e.msg, "model type 'gpt_neox' is not supported (supported: llama, mistral, qwen2, qwen3");
    assert_int_equal(parse("{not json", NULL, &c, &e), MLXC_EFORMAT);
    assert_str_contains(e.msg, "'config.json' is not a valid JSON object");
    assert_int_equal(parse("{\"hidden_size\": 4}", NULL, &c, &e), MLXC_EFORMAT);
    assert_str_contains(e.msg, "no 'model_type'");
    assert_int_equal(parse("{\"model_type\": \"llama\", \"hidden_size\": \"big\"}", NULL, &c, &e), MLXC_EFORMAT);
    assert_str_contains(e.msg, "'hidden_size' is not an integer");
    /* dimensions are capped before anything is allocated: a config asking for 10^12 parameters fails */
    assert_int_equal(parse("{\"model_type\": \"llama\", \"hidden_size\": 1000000, \"num_hidden_layers\": 1000, "
                           "\"intermediate_size\": 4000000, \"num_attention_heads\": 8, \"vocab_size\": 100}", NULL, &c, &e),
                     MLXC_EFORMAT);
    assert_str_contains(e.msg, "'hidden_size' is 1000000, outside");
    assert_int_equal(parse("{\"model_type\": \"llama\", " LLAMA_BASE ", \"num_key_value_heads\": 3}", NULL, &c, &e),
                     MLXC_EFORMAT);
    assert_str_contains(e.msg, "not a multiple of 'num_key_value_heads'");
    assert_int_equal(mlxc_config_load("/nonexistent-model", &c, &e), MLXC_ENOTFOUND);
    assert_str_contains(e.msg, "/nonexistent-model/config.json");
}

static void touch(const char *path, const char *content)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static void test_model_dir_hf_cache(void **state)
{
    (void)state;
    char root[600], path[900];
    snprintf(root, sizeof root, "%s", test_tmpdir());
    snprintf(path, sizeof path, "%s/models--org--tiny", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/models--org--tiny/refs", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/models--org--tiny/snapshots", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/models--org--tiny/snapshots/abc123", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/models--org--tiny/refs/main", root);
    touch(path, "abc123");
    setenv("HF_HUB_CACHE", root, 1);
    struct mlxc_err e = {0};
    char *dir = mlxc_model_dir_resolve("org/tiny", &e);
    assert_non_null(dir);
    assert_str_contains(dir, "models--org--tiny/snapshots/abc123");
    free(dir);
    /* a local folder wins */
    dir = mlxc_model_dir_resolve(root, &e);
    assert_string_equal(dir, root);
    free(dir);
    /* not found: one error listing where it looked */
    unsetenv("HF_HOME");
    assert_null(mlxc_model_dir_resolve("org/missing", &e));
    assert_int_equal(e.code, MLXC_ENOTFOUND);
    assert_str_contains(e.msg, "model 'org/missing' not found");
    assert_str_contains(e.msg, "models--org--missing");
    assert_str_contains(e.msg, "nothing is downloaded");
    unsetenv("HF_HUB_CACHE");
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

/* Pages of [p, p + n) in memory. */
static size_t resident(const void *p, size_t n)
{
    enum { PAGES = 64 };
    unsigned char v[PAGES];
    const size_t pages = (n + 4095) / 4096;
    assert_true(pages <= PAGES && mincore((void *)p, n, v) == 0);
    size_t in = 0;
    for (size_t i = 0; i < pages; i++)
        in += v[i] & 1;
    return in;
}

/* mlxc_weights_lock reads the files in and keeps them: a 240 KB tensor is dropped from the page cache
 * after the open (where the filesystem can: not tmpfs) and must be all in memory once locked. */
static void test_weights_lock(void **state)
{
    (void)state;
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    enum { FLOATS = 60 * 1024 };
    const struct mlxc_st_entry t = {"w", MLXC_F32, 1, {FLOATS}};
    struct mlxc_err e = {0};
    struct mlxc_st_writer *w;
    static float zeros[FLOATS];
    assert_int_equal(mlxc_stw_open(path, &t, 1, NULL, 0, &w, &e), 0);
    assert_int_equal(mlxc_stw_write(w, zeros, sizeof zeros, &e), 0);
    assert_int_equal(mlxc_stw_close(w, &e), 0);
    struct mlxc_weights *ws;
    assert_int_equal(mlxc_weights_open(dir, &ws, &e), 0);
    const struct mlxc_st_file *f = ws->files[0];
    int fd = open(f->path, O_RDONLY);
    assert_true(fd >= 0);
    fsync(fd); /* dirty pages would stay cached */
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
    const size_t pages = (f->map_size + 4095) / 4096, before = resident(f->map, f->map_size);
    print_message("# %zu of %zu pages cached before the lock\n", before, pages);
    assert_int_equal(mlxc_weights_lock(ws, &e), 0);
#ifdef __SANITIZE_ADDRESS__ /* AddressSanitizer's runtime turns mlock into nothing */
    print_message("# residency not checked under AddressSanitizer\n");
#else
    assert_int_equal(resident(f->map, f->map_size), pages);
#endif
    mlxc_weights_close(ws);
    unlink(path);
    rmdir(dir);
}

/* Two shards and an index; an index naming a tensor its shard lacks is an error. */
static void test_sharded_weights(void **state)
{
    (void)state;
    char dir[600], path[900];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    struct mlxc_err e = {0};
    struct mlxc_st_writer *w;
    struct mlxc_st_entry a[] = {{"a", MLXC_F32, 1, {2}}}, b[] = {{"b", MLXC_U8, 1, {3}}};
    snprintf(path, sizeof path, "%s/model-00001-of-00002.safetensors", dir);
    assert_int_equal(mlxc_stw_open(path, a, 1, NULL, 0, &w, &e), 0);
    assert_int_equal(mlxc_stw_write(w, "\0\0\0\0\0\0\0\0", 8, &e), 0);
    assert_int_equal(mlxc_stw_close(w, &e), 0);
    snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", dir);
    assert_int_equal(mlxc_stw_open(path, b, 1, NULL, 0, &w, &e), 0);
    assert_int_equal(mlxc_stw_write(w, "xyz", 3, &e), 0);
    assert_int_equal(mlxc_stw_close(w, &e), 0);
    struct mlxc_weights *ws;
    /* without an index: every model*.safetensors */
    assert_int_equal(mlxc_weights_open(dir, &ws, &e), 0);
    assert_int_equal(ws->ntensors, 2);
    assert_non_null(mlxc_weights_get(ws, "b"));
    mlxc_weights_close(ws);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    touch(path, "{\"metadata\": {}, \"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\", "
                "\"b\": \"model-00002-of-00002.safetensors\"}}");
    assert_int_equal(mlxc_weights_open(dir, &ws, &e), 0);
    assert_int_equal(memcmp(mlxc_weights_get(ws, "b")->data, "xyz", 3), 0);
    mlxc_weights_close(ws);
    touch(path, "{\"weight_map\": {\"a\": \"model-00002-of-00002.safetensors\"}}");
    assert_int_not_equal(mlxc_weights_open(dir, &ws, &e), 0);
    assert_str_contains(e.msg, "lists tensor 'a' in 'model-00002-of-00002.safetensors'");
    touch(path, "{\"weight_map\": {\"a\": \"../../etc/passwd\"}}");
    assert_int_not_equal(mlxc_weights_open(dir, &ws, &e), 0);
    assert_str_contains(e.msg, "not a plain file name");
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    assert_int_equal(mlxc_weights_open(dir, &ws, &e), MLXC_ENOTFOUND);
    assert_str_contains(e.msg, "no safetensors found in");
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama_defaults),   cmocka_unit_test(test_family_rules),
        cmocka_unit_test(test_more_families),    cmocka_unit_test(test_moe_families),
        cmocka_unit_test(test_text_config_and_rope), cmocka_unit_test(test_eos),
        cmocka_unit_test(test_quantization),     cmocka_unit_test(test_bad_configs),
        cmocka_unit_test(test_model_dir_hf_cache), cmocka_unit_test(test_sharded_weights),
        cmocka_unit_test(test_weights_lock),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}

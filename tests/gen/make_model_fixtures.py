#!/usr/bin/env python3
"""Reference fixtures for the llama-family forward pass, from Hugging Face transformers in float32.

Each fixture is a tiny random model (2-3 layers) with a real tokenizer's vocabulary. Its weights are not
committed: tests/gen/fixture_weights.py defines them exactly and tests/model_fixture.c regenerates the same
bytes (spot-checked). Committed per fixture, under tests/data/models/<name>/:
  config.json     the Hugging Face config the model was built from
  tensors.json    names, shapes, (base, scale) and spot checks of every tensor
  reference.json  per prompt: input ids, top-5 logprobs of the first generated token, 32 greedy tokens
                  and each step's top-two logit gap (transformers, float32, eager attention, TF32 off,
                  incremental decoding with its KV cache as mlx_lm and mlxc do)

Usage (on a machine with torch + transformers + tokenizers):
  python3 tests/gen/make_model_fixtures.py --tokenizers DIR --out tests/data/models
where DIR holds <tok>/tokenizer.json for tok in llama3, qwen3, llama2, gemma3, gptoss (build/tests/data/tok,
where the build unpacks tests/data/tok's compressed files, or tests/unpack_data.sh tests/data OUT).
gpt_oss_mxfp4 is gpt_oss with its experts stored as Hugging Face's MXFP4 checkpoints store them
(gate_up_proj_blocks/_scales, down_proj_blocks/_scales: the float experts quantized with MLX's CPU
algorithm, tests/gen/make_quant_cases.py fp_quantize); transformers dequantizes them on load.
Run only some fixtures with --only NAME...
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import fixture_weights as fw  # noqa: E402

TEXT = (
    "The quick brown fox jumps over the lazy dog. In the beginning God created the heaven and the earth. "
    "A language model reads a sequence of tokens and predicts the next one, one step at a time; "
    "caches of keys and values make each new step cheap. Numbers like 3.14159, 2025 and 42 appear, "
    "as do symbols: {}, [], (), <>, #, @, and unicode such as caf\u00e9, na\u00efve, \u4f60\u597d, "
    "\u0645\u0631\u062d\u0628\u0627 and emoji \U0001F600. "
)
PROMPTS = {"short": "Hello, my name is", "medium": TEXT[:300], "long": (TEXT * 6)[:1500]}

BASE = dict(hidden_size=64, intermediate_size=128, num_attention_heads=4, num_key_value_heads=2,
            rms_norm_eps=1e-5, max_position_embeddings=4096, torch_dtype="float32")

FIXTURES = {
    # llama with llama3 RoPE scaling, tied head, Llama 3 vocabulary
    "llama3": dict(tok="llama3", config=dict(BASE, model_type="llama", architectures=["LlamaForCausalLM"],
                   num_hidden_layers=2, vocab_size=128256, rope_theta=500000.0, max_position_embeddings=131072, tie_word_embeddings=True,
                   bos_token_id=128000, eos_token_id=128001,
                   rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                 "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})),
    # llama with linear scaling, untied head, attention and MLP biases, explicit head_dim
    "llama_linear": dict(tok="llama2", config=dict(BASE, model_type="llama", architectures=["LlamaForCausalLM"],
                         num_hidden_layers=3, vocab_size=32000, rope_theta=10000.0, tie_word_embeddings=False,
                         attention_bias=True, mlp_bias=True, head_dim=16, bos_token_id=1, eos_token_id=2,
                         rope_scaling={"type": "linear", "factor": 2.0})),
    # llama with dynamic NTK scaling that kicks in past 128 positions
    "llama_dynamic": dict(tok="llama2", config=dict(BASE, model_type="llama", architectures=["LlamaForCausalLM"],
                          num_hidden_layers=2, vocab_size=32000, rope_theta=10000.0, tie_word_embeddings=True,
                          max_position_embeddings=128, bos_token_id=1, eos_token_id=2,
                          rope_scaling={"type": "dynamic", "factor": 2.0})),
    # mistral: llama.py in mlx_lm; untied head; sliding_window is ignored
    "mistral": dict(tok="llama2", config=dict(BASE, model_type="mistral", architectures=["MistralForCausalLM"],
                    num_hidden_layers=2, vocab_size=32000, rope_theta=1000000.0, tie_word_embeddings=False,
                    sliding_window=4096, bos_token_id=1, eos_token_id=2)),
    # qwen2: q/k/v biases, tied head
    "qwen2": dict(tok="qwen3", config=dict(BASE, model_type="qwen2", architectures=["Qwen2ForCausalLM"],
                  num_hidden_layers=2, vocab_size=151936, rope_theta=1000000.0, tie_word_embeddings=True,
                  use_sliding_window=False, eos_token_id=151645)),
    # qwen3: q/k norms, head_dim 32 (q width 128 != hidden 64), untied head
    "qwen3": dict(tok="qwen3", config=dict(BASE, model_type="qwen3", architectures=["Qwen3ForCausalLM"],
                  num_hidden_layers=2, vocab_size=151936, head_dim=32, rope_theta=1000000.0,
                  tie_word_embeddings=False, attention_bias=False, eos_token_id=151645)),
    # gemma2: (1+w) sandwich norms, tanh GELU, sqrt(hidden) embedding scale, query_pre_attn_scalar,
    # attention and final logit softcaps (small caps so tanh bends the values); the window exceeds every
    # prompt (mlx_lm does not implement gemma2's alternating window)
    "gemma2": dict(tok="gemma3", config=dict(BASE, model_type="gemma2", architectures=["Gemma2ForCausalLM"],
                   num_hidden_layers=2, vocab_size=262144, head_dim=16, rms_norm_eps=1e-6,
                   hidden_activation="gelu_pytorch_tanh", hidden_act="gelu_pytorch_tanh",
                   query_pre_attn_scalar=24, attn_logit_softcapping=3.0, final_logit_softcapping=2.0,
                   sliding_window=4096, rope_theta=10000.0, tie_word_embeddings=True,
                   bos_token_id=2, eos_token_id=1, pad_token_id=0)),
    # gemma3_text: layer 0 local (sliding window 16, RoPE base 10000), layer 1 global (RoPE 1e6 with
    # linear scaling 8), (1+w) q/k norms, head_dim 32 (q width 128 != hidden)
    "gemma3_text": dict(tok="gemma3", config=dict(BASE, model_type="gemma3_text", architectures=["Gemma3ForCausalLM"],
                        num_hidden_layers=2, vocab_size=262144, head_dim=32, rms_norm_eps=1e-6,
                        hidden_activation="gelu_pytorch_tanh", query_pre_attn_scalar=32, sliding_window=16,
                        sliding_window_pattern=2, layer_types=["sliding_attention", "full_attention"],
                        rope_theta=1000000.0, rope_local_base_freq=10000.0,
                        rope_scaling={"rope_type": "linear", "factor": 8.0},
                        final_logit_softcapping=None, attn_logit_softcapping=None, tie_word_embeddings=True,
                        bos_token_id=2, eos_token_id=1, pad_token_id=0)),
    # phi3: fused qkv_proj and gate_up_proj, partial rotary (12 of 16 dims), longrope ("su") scaling with
    # mscale; short == long factors because transformers picks the short ones below the original
    # length while mlx_lm always takes the long ones
    "phi3": dict(tok="llama2", config=dict(BASE, model_type="phi3", architectures=["Phi3ForCausalLM"],
                 num_hidden_layers=2, vocab_size=32064, rope_theta=10000.0, partial_rotary_factor=0.75,
                 max_position_embeddings=131072, original_max_position_embeddings=4096,
                 rope_scaling={"type": "longrope", "short_factor": [1.0, 1.25, 1.5, 2.0, 3.0, 5.0],
                               "long_factor": [1.0, 1.25, 1.5, 2.0, 3.0, 5.0]},
                 sliding_window=None, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2)),
    # smollm3: llama with NoPE layers (interval 2: layer 1 has no RoPE)
    "smollm3": dict(tok="llama3", config=dict(BASE, model_type="smollm3", architectures=["SmolLM3ForCausalLM"],
                    num_hidden_layers=2, vocab_size=128256, rope_theta=5000000.0, no_rope_layer_interval=2,
                    use_sliding_window=False, tie_word_embeddings=True, bos_token_id=128000,
                    eos_token_id=128001)),
    # olmo2: no pre-norms, post norms on both sub-block outputs, q/k RMSNorm over the whole projection
    "olmo2": dict(tok="llama2", config=dict(BASE, model_type="olmo2", architectures=["Olmo2ForCausalLM"],
                  num_hidden_layers=2, vocab_size=32000, rope_theta=500000.0, rms_norm_eps=1e-6,
                  attention_bias=False, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2)),
    # starcoder2: LayerNorm with bias, biases everywhere, non-gated c_fc/c_proj MLP with exact GELU (mlx_lm
    # uses nn.gelu whatever hidden_act says, so the reference is made with "gelu")
    "starcoder2": dict(tok="llama2", config=dict(BASE, model_type="starcoder2", architectures=["Starcoder2ForCausalLM"],
                       num_hidden_layers=2, vocab_size=32000, rope_theta=100000.0, norm_epsilon=1e-5,
                       use_bias=True, hidden_act="gelu", sliding_window=None, tie_word_embeddings=True,
                       bos_token_id=1, eos_token_id=2)),
    # --- MoE families ---
    # mixtral: 4 experts, top-2 of the raw router logits then softmax over those two
    "mixtral": dict(tok="llama2", config=dict(BASE, model_type="mixtral", architectures=["MixtralForCausalLM"],
                    num_hidden_layers=2, vocab_size=32000, rope_theta=1000000.0, num_local_experts=4,
                    num_experts_per_tok=2, sliding_window=None, tie_word_embeddings=False, bos_token_id=1,
                    eos_token_id=2)),
    # qwen3_moe: layer 0 dense (mlp_only_layers), layer 1 MoE: softmax over all 4 experts, top-2,
    # renormalised (norm_topk_prob)
    "qwen3_moe": dict(tok="qwen3", config=dict(BASE, model_type="qwen3_moe", architectures=["Qwen3MoeForCausalLM"],
                      num_hidden_layers=2, vocab_size=151936, head_dim=32, rope_theta=1000000.0,
                      num_experts=4, num_experts_per_tok=2, moe_intermediate_size=64, decoder_sparse_step=1,
                      mlp_only_layers=[0], norm_topk_prob=True, tie_word_embeddings=False,
                      attention_bias=False, use_sliding_window=False, eos_token_id=151645)),
    # gpt_oss: sinks, biases, alternating sliding (16) / full layers, yarn RoPE, clipped SwiGLU experts.
    # truncate=True: mlx_lm's YarnRoPE always floors/ceils the correction range (transformers only when
    # truncate is true; real gpt-oss configs say false, where mlx_lm and transformers differ slightly)
    "gpt_oss": dict(tok="gptoss", config=dict(BASE, model_type="gpt_oss", architectures=["GptOssForCausalLM"],
                    num_hidden_layers=2, vocab_size=201088, head_dim=16, num_local_experts=4,
                    num_experts_per_tok=2, experts_per_token=2, intermediate_size=64, sliding_window=16,
                    layer_types=["sliding_attention", "full_attention"], attention_bias=True, swiglu_limit=7.0,
                    rope_theta=150000.0, max_position_embeddings=131072, initial_context_length=4096,
                    rope_scaling={"rope_type": "yarn", "factor": 32.0, "beta_fast": 32.0, "beta_slow": 1.0,
                                  "truncate": True, "original_max_position_embeddings": 4096},
                    tie_word_embeddings=False, eos_token_id=200002, pad_token_id=199999)),
}


FIXTURES["gpt_oss_mxfp4"] = dict(tok="gptoss", mxfp4=True, config=dict(
    FIXTURES["gpt_oss"]["config"], quantization_config={
        "quant_method": "mxfp4", "modules_to_not_convert": ["model.layers.*.self_attn", "model.layers.*.mlp.router",
                                                            "model.embed_tokens", "lm_head"]}))


def tensor_list(cfg):
    """(name, shape) of every weight, Hugging Face names, in a fixed order."""
    D, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    H, KV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    mt = cfg["model_type"]
    hd = cfg.get("head_dim") if mt not in ("qwen2", "phi3", "olmo2", "starcoder2", "smollm3") else None
    hd = hd or D // H
    if mt == "gpt_oss":
        hd = cfg["head_dim"]
    qkv_bias = mt in ("qwen2", "starcoder2") or cfg.get("attention_bias", False)
    o_bias = mt == "starcoder2" or (mt != "qwen2" and cfg.get("attention_bias", False))
    mlp_bias = cfg.get("mlp_bias", False)
    gemma = mt in ("gemma2", "gemma3_text")
    out = [("model.embed_tokens.weight", (V, D))]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        if mt == "olmo2":
            norms = ["post_attention_layernorm", "post_feedforward_layernorm"]
        elif gemma:
            norms = ["input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                     "post_feedforward_layernorm"]
        else:
            norms = ["input_layernorm", "post_attention_layernorm"]
        for n in norms:
            out.append((p + n + ".weight", (D,)))
            if mt == "starcoder2":
                out.append((p + n + ".bias", (D,)))
        if mt == "phi3":
            out.append((p + "self_attn.qkv_proj.weight", ((H + 2 * KV) * hd, D)))
        else:
            for name, rows in (("q_proj", H * hd), ("k_proj", KV * hd), ("v_proj", KV * hd)):
                out.append((p + f"self_attn.{name}.weight", (rows, D)))
                if qkv_bias:
                    out.append((p + f"self_attn.{name}.bias", (rows,)))
        out.append((p + "self_attn.o_proj.weight", (D, H * hd)))
        if o_bias:
            out.append((p + "self_attn.o_proj.bias", (D,)))
        if mt in ("qwen3", "gemma3_text", "qwen3_moe"):
            out += [(p + "self_attn.q_norm.weight", (hd,)), (p + "self_attn.k_norm.weight", (hd,))]
        if mt == "olmo2":
            out += [(p + "self_attn.q_norm.weight", (H * hd,)), (p + "self_attn.k_norm.weight", (KV * hd,))]
        if mt == "gpt_oss":
            E = cfg["num_local_experts"]
            out += [(p + "self_attn.sinks", (H,)), (p + "mlp.router.weight", (E, D)), (p + "mlp.router.bias", (E,)),
                    (p + "mlp.experts.gate_up_proj", (E, D, 2 * I)), (p + "mlp.experts.gate_up_proj_bias", (E, 2 * I)),
                    (p + "mlp.experts.down_proj", (E, I, D)), (p + "mlp.experts.down_proj_bias", (E, D))]
            continue
        if mt == "mixtral":
            E = cfg["num_local_experts"]
            out.append((p + "block_sparse_moe.gate.weight", (E, D)))
            for e in range(E):
                for w, shape in (("w1", (I, D)), ("w2", (D, I)), ("w3", (I, D))):
                    out.append((p + f"block_sparse_moe.experts.{e}.{w}.weight", shape))
            continue
        if mt == "qwen3_moe" and i not in cfg["mlp_only_layers"] and (i + 1) % cfg["decoder_sparse_step"] == 0:
            E, MI = cfg["num_experts"], cfg["moe_intermediate_size"]
            out.append((p + "mlp.gate.weight", (E, D)))
            for e in range(E):
                for w, shape in (("gate_proj", (MI, D)), ("up_proj", (MI, D)), ("down_proj", (D, MI))):
                    out.append((p + f"mlp.experts.{e}.{w}.weight", shape))
            continue
        if mt == "phi3":
            mlp = (("gate_up_proj", (2 * I, D)), ("down_proj", (D, I)))
        elif mt == "starcoder2":
            mlp = (("c_fc", (I, D)), ("c_proj", (D, I)))
            mlp_bias = True
        else:
            mlp = (("gate_proj", (I, D)), ("up_proj", (I, D)), ("down_proj", (D, I)))
        for name, shape in mlp:
            out.append((p + f"mlp.{name}.weight", shape))
            if mlp_bias:
                out.append((p + f"mlp.{name}.bias", (shape[0],)))
    out.append(("model.norm.weight", (D,)))
    if mt == "starcoder2":
        out.append(("model.norm.bias", (D,)))
    if not cfg["tie_word_embeddings"]:
        out.append(("lm_head.weight", (V, D)))
    return out


def mxfp4_blocks(arr):
    """HF gpt-oss float experts (E, in, out) -> MXFP4 checkpoint tensors: blocks (E, out, in/32, 16) u8 (two
    E2M1 codes a byte, the even element in the low nibble) and scales (E, out, in/32) u8 (E8M0), as MLX's
    CPU algorithm quantizes the rows of the transposed (E, out, in) matrix."""
    import make_quant_cases as mq
    E, K, N = arr.shape
    rows = np.ascontiguousarray(arr.transpose(0, 2, 1)).reshape(E * N, K)
    codes, sb = mq.fp_quantize(rows, "mxfp4", "F32")
    packed = (codes[:, 0::2] | (codes[:, 1::2] << 4)).astype(np.uint8)
    return packed.reshape(E, N, K // 32, 16), sb.reshape(E, N, K // 32)


def build_tensors(cfg, mxfp4=False):
    tensors, meta = [], []
    for name, shape in tensor_list(cfg):
        base, scale = fw.role_of(name, shape)
        arr = fw.tensor(name, shape, base, scale)
        if mxfp4 and name.endswith(("experts.gate_up_proj", "experts.down_proj")):
            src = {"of": name, "shape": list(shape), "base": base, "scale": scale}
            for part, q in zip(("blocks", "scales"), mxfp4_blocks(arr)):
                tensors.append((f"{name}_{part}", q))
                meta.append({"name": f"{name}_{part}", "shape": list(q.shape), "dtype": "U8",
                             "mxfp4": dict(src, part=part), "check": fw.spot_checks(q)})
            continue
        tensors.append((name, arr))
        meta.append({"name": name, "shape": list(shape), "base": base, "scale": scale, "check": fw.spot_checks(arr)})
    return tensors, meta


def reference(model_dir, tok_path, steps=32):
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    extra = {}
    if json.load(open(os.path.join(model_dir, "config.json"))).get("quantization_config"):
        from transformers import Mxfp4Config
        extra["quantization_config"] = Mxfp4Config(dequantize=True)
    model, info = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager",
                                                       output_loading_info=True, **extra)
    model = model.float().to(dev).eval()  # mxfp4 experts come dequantized (to bf16, exactly)
    bad = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    if bad:  # randomly initialised weights would make the reference meaningless
        print("  model expects:", {k: tuple(v.shape) for k, v in model.state_dict().items() if "layers.0." in k})
        raise RuntimeError(f"loading {model_dir}: {bad}")
    tok = Tokenizer.from_file(tok_path)
    hf = model.config.to_dict()
    print("  hf config:", {k: hf.get(k) for k in ("layer_types", "rope_parameters", "rope_scaling", "sliding_window",
                                                 "no_rope_layers", "hidden_act", "hidden_activation",
                                                 "partial_rotary_factor", "tie_word_embeddings")}, flush=True)
    out = {}
    for pname, text in PROMPTS.items():
        ids = tok.encode(text, add_special_tokens=True).ids
        inp = torch.tensor([ids], device=dev)
        greedy, gaps, top5 = [], [], None
        with torch.no_grad():
            res = model(inp, use_cache=True)
            past = res.past_key_values
            for step in range(steps):
                logits = res.logits[0, -1].double()
                logp = torch.log_softmax(logits, dim=-1)
                vals, idx = torch.topk(logits, 2)
                if step == 0:
                    lv, li = torch.topk(logp, 5)
                    top5 = [[int(i), float(v)] for v, i in zip(lv.tolist(), li.tolist())]
                nxt = int(idx[0])
                greedy.append(nxt)
                gaps.append(float(vals[0] - vals[1]))
                res = model(torch.tensor([[nxt]], device=dev), past_key_values=past, use_cache=True)
                past = res.past_key_values
        out[pname] = {"text": text, "input_ids": ids, "top5_logprobs": top5, "greedy": greedy, "top2_gap": gaps}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokenizers", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--scratch", default="/tmp/mlxc-fixtures")
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args()
    import transformers
    for name, fx in FIXTURES.items():
        if args.only and name not in args.only:
            continue
        try:
            make_one(args, name, fx)
        except Exception as ex:  # one family's failure must not lose the others
            import traceback
            traceback.print_exc()
            print(name, "FAILED", ex, flush=True)


def make_one(args, name, fx):
    import transformers
    cfg = fx["config"]
    tensors, meta = build_tensors(cfg, fx.get("mxfp4", False))
    mdir = os.path.join(args.scratch, name)
    os.makedirs(mdir, exist_ok=True)
    with open(os.path.join(mdir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    fw.write_safetensors(os.path.join(mdir, "model.safetensors"), tensors, {"format": "pt"})
    ref = reference(mdir, os.path.join(args.tokenizers, fx["tok"], "tokenizer.json"))
    odir = os.path.join(args.out, name)
    os.makedirs(odir, exist_ok=True)
    with open(os.path.join(odir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(odir, "tensors.json"), "w") as f:
        json.dump({"seed": fw.SEED, "tokenizer": fx["tok"], "tensors": meta}, f)
    with open(os.path.join(odir, "reference.json"), "w") as f:
        json.dump({"made_by": f"transformers {transformers.__version__}, float32, eager attention",
                   "prompts": ref}, f)
    print(name, {k: (len(v["input_ids"]), v["greedy"][:4], min(v["top2_gap"])) for k, v in ref.items()},
          flush=True)


if __name__ == "__main__":
    main()

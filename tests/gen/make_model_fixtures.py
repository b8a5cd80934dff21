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
where DIR holds <tok>/tokenizer.json for tok in llama3, qwen3, llama2.
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
}


def tensor_list(cfg):
    """(name, shape) of every weight, Hugging Face names, in a fixed order."""
    D, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    H, KV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    mt = cfg["model_type"]
    hd = cfg.get("head_dim") if mt != "qwen2" else None
    hd = hd or D // H
    qkv_bias = mt == "qwen2" or cfg.get("attention_bias", False)
    o_bias = mt != "qwen2" and cfg.get("attention_bias", False)
    mlp_bias = cfg.get("mlp_bias", False)
    out = [("model.embed_tokens.weight", (V, D))]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        out += [(p + "input_layernorm.weight", (D,)), (p + "post_attention_layernorm.weight", (D,))]
        for name, rows in (("q_proj", H * hd), ("k_proj", KV * hd), ("v_proj", KV * hd)):
            out.append((p + f"self_attn.{name}.weight", (rows, D)))
            if qkv_bias:
                out.append((p + f"self_attn.{name}.bias", (rows,)))
        out.append((p + "self_attn.o_proj.weight", (D, H * hd)))
        if o_bias:
            out.append((p + "self_attn.o_proj.bias", (D,)))
        if mt == "qwen3":
            out += [(p + "self_attn.q_norm.weight", (hd,)), (p + "self_attn.k_norm.weight", (hd,))]
        for name, shape in (("gate_proj", (I, D)), ("up_proj", (I, D)), ("down_proj", (D, I))):
            out.append((p + f"mlp.{name}.weight", shape))
            if mlp_bias:
                out.append((p + f"mlp.{name}.bias", (shape[0],)))
    out.append(("model.norm.weight", (D,)))
    if not cfg["tie_word_embeddings"]:
        out.append(("lm_head.weight", (V, D)))
    return out


def build_tensors(cfg):
    tensors, meta = [], []
    for name, shape in tensor_list(cfg):
        base, scale = fw.role_of(name, shape)
        arr = fw.tensor(name, shape, base, scale)
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
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32,
                                                 attn_implementation="eager").to(dev).eval()
    tok = Tokenizer.from_file(tok_path)
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
        cfg = fx["config"]
        tensors, meta = build_tensors(cfg)
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

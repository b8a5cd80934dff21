#!/usr/bin/env python3
"""Perplexity references from Hugging Face transformers (float32, eager attention, TF32 off) for
mlxc-perplexity's tests and the default model's card.

The windows are mlxc-perplexity's (core/app_perplexity.h), written out here independently: the text's
tokens are encode(text) with the tokenizer's special tokens (BOS); window w covers tokens
[w*stride, w*stride + L) for every window that fits whole (the first --num-samples of them when given);
in each window the token at position t is scored by the logits at t-1 unless an earlier window already
scored it. Perplexity = exp(mean loss); its standard error = ppl * std(losses, ddof=1) / sqrt(n)
(mlx_lm.perplexity's delta method).

Modes (any together):
  --fixtures DIR   the fixture models (tests/gen/make_model_fixtures.py: llama3, qwen3) on DIR/sample.txt;
                   writes DIR/reference.json
  --model M --text FILE --json OUT   a Hugging Face model folder on a text (bf16 weights: computed in
                   float32, then also in bfloat16, and with the weights quantized and dequantized as MLX's
                   affine quantization does (group 64; 8 and 4 bits), the embedding and every linear layer)
                   --settings L:stride:num_samples,... picks the windows.
Without transformers (a CPU box with Debian's python3-torch), --model uses the Llama of
tools/train-default-model/train.py and $MLXC_TOKENIZE (mlxc-tokenize) for the ids: that made the
default_model_cpu entry of tests/data/perplexity/reference.json:
  MLXC_TOKENIZE=build/cmd/mlxc-tokenize python3 tests/gen/make_perplexity_reference.py --model HF_DIR \
    --text tests/data/perplexity/sample.txt --json OUT --settings 128:128:-1,64:64:2,32:32:2 --no-bf16
The GPU entries (fixtures, default_model) come from tools/train-default-model/run_gpu.sh.
"""
import argparse
import hashlib
import json
import math
import os
import sys

SETTINGS = [(64, 64), (64, 16), (128, 128)]  # (sequence length, stride) for the fixtures


def windows(n, L, stride, num_samples=-1):
    """[(begin, first scored position)] as documented above."""
    out, scored_to, b = [], 1, 0
    while b + L <= n and (num_samples < 0 or len(out) < num_samples):
        first = max(b + 1, scored_to)
        out.append((b, first))
        scored_to = b + L
        b += stride
    return out


def perplexity(model, ids, L, stride, num_samples=-1, dtype=None):
    import torch
    dev = next(model.parameters()).device
    losses = []
    for b, first in windows(len(ids), L, stride, num_samples):
        x = torch.tensor([ids[b:b + L]], device=dev)
        with torch.no_grad():
            logits = model(x).logits[0].double()
        lp = torch.log_softmax(logits, dim=-1)
        rows = torch.arange(first - b - 1, L - 1, device=dev)
        tgt = torch.tensor(ids[first:b + L], device=dev)
        losses.extend((-lp[rows, tgt]).tolist())
    n = len(losses)
    if n < 2:
        raise SystemExit("too few tokens scored")
    mean = sum(losses) / n
    var = sum((l - mean) ** 2 for l in losses) / (n - 1)
    ppl = math.exp(mean)
    return {"sequence_length": L, "stride": stride, "num_samples": num_samples,
            "windows": len(windows(len(ids), L, stride, num_samples)), "scored_tokens": n,
            "mean_loss": mean, "perplexity": ppl, "standard_error": ppl * math.sqrt(var) / math.sqrt(n)}


class _Out:
    def __init__(self, logits):
        self.logits = logits


class _TrainLlama:
    """Without transformers: the Llama of tools/train-default-model/train.py (Hugging Face's names and
    maths; its perplexities equal transformers' to 1e-6 on the default model), llama models only."""

    def __init__(self, model_dir, dtype):
        import numpy as np
        import torch
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "train-default-model")
        sys.path.insert(0, root)
        import train
        cfg = json.load(open(os.path.join(model_dir, "config.json")))
        raw = open(os.path.join(model_dir, "model.safetensors"), "rb").read()
        n = int.from_bytes(raw[:8], "little")
        header = json.loads(raw[8:8 + n])
        sd = {}
        for k, v in header.items():
            if k != "__metadata__":
                a, b = v["data_offsets"]
                if v["dtype"] != "BF16":
                    raise SystemExit("only bf16 weights here")
                t = torch.from_numpy(np.frombuffer(raw[8 + n + a:8 + n + b], dtype=np.int16).copy())
                sd[k] = t.view(torch.bfloat16).to(dtype).reshape(v["shape"])
        self.m = train.Llama(cfg).to(dtype)
        self.m.load_state_dict(sd)
        self.m.eval()
        self.config = type("C", (), {"tie_word_embeddings": cfg["tie_word_embeddings"]})

    def __call__(self, x):
        return _Out(self.m(x))

    def parameters(self):
        return self.m.parameters()


def load(model_dir, dtype):
    import torch
    try:
        from transformers import AutoModelForCausalLM
    except ImportError:
        return _TrainLlama(model_dir, dtype)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    return AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype, attn_implementation="eager").to(dev).eval()


def mlx_affine_qdq(w, bits, group=64):
    """MLX's affine quantize (edge-based scale and bias, float32, rint) then dequantize; scales and biases
    are rounded to w's dtype (bf16) as MLX stores them."""
    import torch
    shape, dt = w.shape, w.dtype
    g = w.float().reshape(-1, group)
    n_bins = float(2 ** bits - 1)
    wmin, wmax = g.min(dim=1).values, g.max(dim=1).values
    mask = wmin.abs() > wmax.abs()
    scale = torch.clamp((wmax - wmin) / n_bins, min=1e-7)
    scale = torch.where(mask, scale, -scale)
    edge = torch.where(mask, wmin, wmax)
    q0 = torch.round(edge / scale)  # torch.round is half to even, as rint
    nz = q0 != 0
    scale = torch.where(nz, edge / torch.where(nz, q0, torch.ones_like(q0)), scale)
    bias = torch.where(nz, edge, torch.zeros_like(edge))
    q = torch.clamp(torch.round((g - bias[:, None]) / scale[:, None]), 0, n_bins)
    s16, b16 = scale.to(dt).float(), bias.to(dt).float()
    return (q * s16[:, None] + b16[:, None]).reshape(shape)


def quantized_copy(model, bits):
    import copy
    import torch
    m = copy.deepcopy(model)
    if isinstance(m, _TrainLlama):  # its head is the embedding itself
        with torch.no_grad():
            for mod in m.m.modules():
                if isinstance(mod, (torch.nn.Linear, torch.nn.Embedding)) and mod.weight.shape[-1] % 64 == 0:
                    mod.weight.data = mlx_affine_qdq(mod.weight.data.to(torch.bfloat16), bits)
        return m
    with torch.no_grad():
        for name, mod in m.named_modules():
            if isinstance(mod, (torch.nn.Linear, torch.nn.Embedding)) and mod.weight.shape[-1] % 64 == 0:
                if isinstance(mod, torch.nn.Linear) and name.endswith("lm_head") and m.config.tie_word_embeddings:
                    continue  # tied: the head is the (quantized) embedding
                mod.weight.data = mlx_affine_qdq(mod.weight.data.to(torch.bfloat16), bits)
    if m.config.tie_word_embeddings:
        m.lm_head.weight = m.model.embed_tokens.weight
    return m


def tokenizer_class():
    """Hugging Face tokenizers, or mlxc-tokenize ($MLXC_TOKENIZE, same ids) where it is not installed."""
    try:
        from tokenizers import Tokenizer
        return Tokenizer
    except ImportError:
        import subprocess

        class Encoding:
            def __init__(self, ids):
                self.ids = ids

        class MlxcTokenizer:
            @staticmethod
            def from_file(path):
                return MlxcTokenizer(os.path.dirname(path))

            def __init__(self, d):
                self.d = d

            def encode(self, text, add_special_tokens=True):
                args = [os.environ["MLXC_TOKENIZE"], "--tokenizer", self.d, "--json"]
                if not add_special_tokens:
                    args.append("--no-special")
                out = subprocess.run(args, input=text, capture_output=True, text=True, check=True).stdout
                return Encoding(json.loads(out)["ids"])
        return MlxcTokenizer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixtures")
    ap.add_argument("--tokenizers", help="folder with <tok>/tokenizer.json (build/tests/data/tok: unpacked)")
    ap.add_argument("--scratch", default="/tmp/mlxc-ppl-fixtures")
    ap.add_argument("--model")
    ap.add_argument("--text")
    ap.add_argument("--json")
    ap.add_argument("--settings", default="512:512:-1,512:512:64,512:256:64",
                    help="L:stride:num_samples,...")
    ap.add_argument("--no-bf16", action="store_true", help="skip the bfloat16-compute variant")
    args = ap.parse_args()
    import torch
    try:
        import transformers
        made_by = "transformers %s, torch %s, float32, eager attention, TF32 off" % (transformers.__version__,
                                                                                    torch.__version__)
    except ImportError:
        made_by = "torch %s, float32, tools/train-default-model/train.py's Llama (no transformers)" % torch.__version__
    Tokenizer = tokenizer_class()
    if args.fixtures:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import fixture_weights as fw
        import make_model_fixtures as mf
        text = open(os.path.join(args.fixtures, "sample.txt"), encoding="utf-8").read()
        out = {"made_by": made_by, "text": "sample.txt", "models": {}}
        for name in ("llama3", "qwen3"):
            fx = mf.FIXTURES[name]
            cfg = fx["config"]
            tensors, _ = mf.build_tensors(cfg)
            mdir = os.path.join(args.scratch, name)
            os.makedirs(mdir, exist_ok=True)
            with open(os.path.join(mdir, "config.json"), "w") as f:
                json.dump(cfg, f, indent=2)
            fw.write_safetensors(os.path.join(mdir, "model.safetensors"), tensors, {"format": "pt"})
            tok = Tokenizer.from_file(os.path.join(args.tokenizers, fx["tok"], "tokenizer.json"))
            ids = tok.encode(text, add_special_tokens=True).ids
            model = load(mdir, torch.float32)
            res = [perplexity(model, ids, L, s) for L, s in SETTINGS]
            out["models"][name] = {"tokens": len(ids), "ids_sha256": hashlib.sha256(
                json.dumps(ids).encode()).hexdigest(), "results": res}
            print(name, len(ids), [(r["sequence_length"], r["stride"], r["perplexity"]) for r in res], flush=True)
        with open(os.path.join(args.fixtures, "reference.json"), "w") as f:
            json.dump(out, f, indent=1)
    if args.model:
        text = open(args.text, encoding="utf-8").read()
        tok = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
        ids = tok.encode(text, add_special_tokens=True).ids
        settings = [tuple(int(v) for v in s.split(":")) for s in args.settings.split(",")]
        out = {"made_by": made_by, "text": os.path.basename(args.text), "tokens": len(ids),
               "ids_sha256": hashlib.sha256(json.dumps(ids).encode()).hexdigest(), "results": {}}
        f32 = load(args.model, torch.float32)
        variants = {"bf16 weights, f32 compute": f32, "mlx affine 8-bit (group 64)": quantized_copy(f32, 8),
                    "mlx affine 4-bit (group 64)": quantized_copy(f32, 4)}
        for vname, model in variants.items():
            out["results"][vname] = [perplexity(model, ids, L, s, n) for L, s, n in settings]
            print(vname, [(r["num_samples"], r["stride"], round(r["perplexity"], 4)) for r in out["results"][vname]],
                  flush=True)
            del model
        if not args.no_bf16:
            bf = load(args.model, torch.bfloat16)
            out["results"]["bf16 compute"] = [perplexity(bf, ids, L, s, n) for L, s, n in settings]
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()

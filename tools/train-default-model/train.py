#!/usr/bin/env python3
"""Trains mlxc's default model: a small Llama (about 25 M parameters) on the corpus of build_corpus.py,
then a short instruction stage on its question/answer pairs rendered with the model's chat template.

Runs on one CUDA GPU (bf16 autocast, fp32 master weights) or, slowly, on the CPU for a smoke test. Needs
torch and numpy; tokenizes with Hugging Face `tokenizers` when it is installed, else with the project's
own `mlxc-tokenize` (give its path in $MLXC_TOKENIZE), which produces the same ids.

Writes to --out a Hugging Face model folder: config.json (model_type llama), model.safetensors (bf16, Hugging
Face names, the head tied to the embedding), tokenizer.json and tokenizer_config.json (Mistral's 32k
vocabulary from tests/data/tok/llama2, with the chat template added), generation_config.json; and
train_log.json: every hyperparameter, the loss curve (training loss every 10 steps, held-out loss every
eval_every steps), timings and greedy samples.

Usage:
  python3 train.py --corpus DIR --tokenizer build/tests/data/tok/llama2 --out DIR [--pretrain-steps N] [--sft-steps N]
(the build unpacks tests/data/tok/llama2/tokenizer.json.gz there; so does tests/unpack_data.sh tests/data OUT)
"""
import argparse
import json
import math
import os
import random
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 384,
    "intermediate_size": 1024,
    "num_hidden_layers": 8,
    "num_attention_heads": 6,
    "num_key_value_heads": 2,
    "head_dim": 64,
    "hidden_act": "silu",
    "max_position_embeddings": 1024,
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "tie_word_embeddings": True,
    "vocab_size": 32000,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "attention_bias": False,
    "mlp_bias": False,
    "initializer_range": 0.02,
    "torch_dtype": "bfloat16",
}

# Zephyr's layout of a ChatML-like template, with the vocabulary's own </s> ending every turn, so the
# model stops on its EOS token. add_generation_prompt opens the assistant's turn.
CHAT_TEMPLATE = ("{{ bos_token }}{% for message in messages %}"
                 "{{ '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' }}"
                 "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}")


def render_chat(messages, add_generation_prompt):
    """CHAT_TEMPLATE rendered in Python (checked against jinja2 by check_template.py)."""
    s = "<s>"
    for m in messages:
        s += "<|" + m["role"] + "|>\n" + m["content"] + "</s>\n"
    if add_generation_prompt:
        s += "<|assistant|>\n"
    return s


# ---------------------------------------------------------------- model (Hugging Face Llama, written out)
class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        dt = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dt)


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        D, H, KV, hd = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
        self.H, self.KV, self.hd = H, KV, hd
        self.q_proj = nn.Linear(D, H * hd, bias=False)
        self.k_proj = nn.Linear(D, KV * hd, bias=False)
        self.v_proj = nn.Linear(D, KV * hd, bias=False)
        self.o_proj = nn.Linear(H * hd, D, bias=False)

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.H, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.KV, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.KV, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.H // self.KV  # query head h reads key/value head h // rep (transformers' repeat_kv)
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        if hasattr(F, "scaled_dot_product_attention"):
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            s = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd)
            mask = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
            o = s.masked_fill(mask, float("-inf")).softmax(-1) @ v
        return self.o_proj(o.transpose(1, 2).reshape(B, T, self.H * self.hd))


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        D, I = c["hidden_size"], c["intermediate_size"]
        self.gate_proj = nn.Linear(D, I, bias=False)
        self.up_proj = nn.Linear(D, I, bias=False)
        self.down_proj = nn.Linear(I, D, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.self_attn = Attention(c)
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.mlp = MLP(c)

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class Inner(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList(Block(c) for _ in range(c["num_hidden_layers"]))
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])


class Llama(nn.Module):
    """state_dict() names are Hugging Face's (model.embed_tokens.weight, model.layers.N.self_attn.q_proj...)."""

    def __init__(self, c):
        super().__init__()
        self.c = c
        self.model = Inner(c)
        hd = c["head_dim"]
        inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        self.register_buffer("inv_freq", inv, persistent=False)
        std = c["initializer_range"]
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, mean=0.0, std=std)

    def forward(self, ids):
        T = ids.shape[1]
        pos = torch.arange(T, device=ids.device, dtype=torch.float32)
        f = torch.outer(pos, self.inv_freq)
        emb = torch.cat((f, f), dim=-1)
        x = self.model.embed_tokens(ids)
        cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
        for layer in self.model.layers:
            x = layer(x, cos, sin)
        x = self.model.norm(x)
        return x @ self.model.embed_tokens.weight.t().to(x.dtype)


def write_safetensors(path, tensors):
    """bf16 tensors in name order, as safetensors' own writer lays them out (8-byte aligned header)."""
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(tensors):
        t = tensors[name]
        data = t.view(torch.int16).numpy().tobytes()
        header[name] = {"dtype": "BF16", "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(len(h).to_bytes(8, "little"))
        f.write(h)
        for b in blobs:
            f.write(b)


def n_params(model):
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------- tokenization
class Tok:
    def __init__(self, tokdir):
        self.path = os.path.join(tokdir, "tokenizer.json")
        try:
            from tokenizers import Tokenizer
            self.hf = Tokenizer.from_file(self.path)
            self.how = "tokenizers"
        except ImportError:
            self.hf = None
            self.cmd = os.environ.get("MLXC_TOKENIZE")
            if not self.cmd:
                raise SystemExit("no `tokenizers` module and no $MLXC_TOKENIZE")
            self.how = "mlxc-tokenize"

    def encode_batch(self, texts, add_special):
        if self.hf:
            return [e.ids for e in self.hf.encode_batch(texts, add_special_tokens=add_special)]
        args = [self.cmd, "--tokenizer", os.path.dirname(self.path), "--jsonl"] + ([] if add_special else ["--no-special"])
        inp = "".join(json.dumps(t) + "\n" for t in texts)
        out = subprocess.run(args, input=inp, capture_output=True, text=True, check=True).stdout
        return [json.loads(l) for l in out.splitlines()]


def stream_of(docs_ids, bos, eos):
    """Documents as one stream: each is its encoding with BOS (tokenizer's post-processor), then EOS."""
    total = sum(len(d) + 1 for d in docs_ids)
    out = np.empty(total, dtype=np.int32)
    i = 0
    for d in docs_ids:
        out[i:i + len(d)] = d
        out[i + len(d)] = eos
        i += len(d) + 1
    return out


def sft_stream(tok, pairs):
    """Rendered conversations back to back; mask is 1 on the tokens the loss is taken on (the answer and
    its </s>)."""
    fulls = [render_chat([{"role": "user", "content": p["q"]}, {"role": "assistant", "content": p["a"]}], False)
             for p in pairs]
    prompts = [render_chat([{"role": "user", "content": p["q"]}], True) for p in pairs]
    fi = tok.encode_batch(fulls, False)
    pi = tok.encode_batch(prompts, False)
    ids, mask, skipped = [], [], 0
    for f, p in zip(fi, pi):
        # the prompt must be a token prefix; the answer ends at the last </s> (then the "\n", which the
        # legacy Metaspace normalizer tokenizes as "▁", "\n")
        end = len(f) - 1 - f[::-1].index(2) if 2 in f[len(p):] else -1
        if f[:len(p)] != p or end < len(p):
            skipped += 1
            continue
        ids.extend(f)
        mask.extend([0] * len(p) + [1] * (end + 1 - len(p)) + [0] * (len(f) - end - 1))
    return np.array(ids, dtype=np.int32), np.array(mask, dtype=np.bool_), skipped, len(fi)


# ---------------------------------------------------------------- training
def lr_at(step, total, peak, warmup, floor):
    if step < warmup:
        return peak * (step + 1) / warmup
    p = (step - warmup) / max(1, total - warmup)
    return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, p)))


def loss_fn(model, x, y, dev, amp):
    with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=amp):
        logits = model(x)
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=-100)


@torch.no_grad()
def evaluate(model, stream, L, n, dev, amp):
    model.eval()
    tot, cnt = 0.0, 0
    for i in range(n):
        s = i * L
        if s + L + 1 > len(stream):
            break
        w = torch.from_numpy(stream[s:s + L + 1].astype(np.int64)).to(dev)
        loss = loss_fn(model, w[None, :-1], w[None, 1:], dev, amp)
        tot += loss.item()
        cnt += 1
    model.train()
    return tot / max(1, cnt)


@torch.no_grad()
def greedy(model, tok, text, dev, amp, max_new=60):
    model.eval()
    ids = tok.encode_batch([text], False)[0]
    out = []
    for _ in range(max_new):
        x = torch.tensor([ids + out], device=dev)
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=amp):
            nxt = int(model(x)[0, -1].float().argmax())
        if nxt == 2:
            break
        out.append(nxt)
    model.train()
    if tok.hf:
        return tok.hf.decode(out)
    return out


def main():
    ap = argparse.ArgumentParser(description="train mlxc's default model")
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--seq-len", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--pretrain-steps", type=int, default=1500)
    ap.add_argument("--pretrain-lr", type=float, default=2e-3)
    ap.add_argument("--sft-steps", type=int, default=300)
    ap.add_argument("--sft-lr", type=float, default=5e-4)
    ap.add_argument("--sft-pretrain-mix", type=float, default=0.25, help="share of pretraining rows in SFT batches")
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--eval-windows", type=int, default=64)
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--small", action="store_true", help="a tiny model and corpus slice (CPU smoke test)")
    args = ap.parse_args()
    t_start = time.time()
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    amp = dev.type == "cuda"
    if amp:
        torch.backends.cuda.matmul.allow_tf32 = True
    cfg = dict(CONFIG)
    if args.small:
        cfg.update(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
                   num_key_value_heads=1, head_dim=32)
    log = {"hyperparameters": vars(args), "config": cfg, "device": str(dev),
           "torch": torch.__version__, "curve": {"train": [], "eval": [], "sft_train": [], "sft_eval": []}}
    if amp:
        log["gpu"] = torch.cuda.get_device_name()

    # data
    tok = Tok(args.tokenizer)
    log["tokenizer_impl"] = tok.how
    with open(os.path.join(args.corpus, "pretrain.jsonl"), encoding="utf-8") as f:
        docs = [json.loads(l)["text"] for l in f]
    with open(os.path.join(args.corpus, "sft.jsonl"), encoding="utf-8") as f:
        pairs = [json.loads(l) for l in f]
    with open(os.path.join(args.corpus, "heldout.txt"), encoding="utf-8") as f:
        heldout = f.read()
    if args.small:
        docs, pairs, heldout = docs[:60], pairs[:400], heldout[:60000]
    t0 = time.time()
    train = stream_of(tok.encode_batch(docs, True), 1, 2)
    held = np.array(tok.encode_batch([heldout], True)[0], dtype=np.int32)
    sft_ids, sft_mask, skipped, n_pairs = sft_stream(tok, pairs)
    log["data"] = {"pretrain_docs": len(docs), "pretrain_tokens": int(len(train)), "heldout_tokens": int(len(held)),
                   "sft_pairs": n_pairs, "sft_pairs_skipped": skipped, "sft_tokens": int(len(sft_ids)),
                   "sft_loss_tokens": int(sft_mask.sum()), "tokenize_s": round(time.time() - t0, 1)}
    print(json.dumps(log["data"]), flush=True)
    n_sft_held = max(1, len(sft_ids) // 50)  # the last 2% of the SFT stream: its held-out loss
    sft_held_ids, sft_held_mask = sft_ids[-n_sft_held:], sft_mask[-n_sft_held:]
    sft_ids, sft_mask = sft_ids[:-n_sft_held], sft_mask[:-n_sft_held]

    model = Llama(cfg).to(dev)
    log["parameters"] = n_params(model)
    print("parameters", log["parameters"], flush=True)
    fwd = torch.compile(model) if args.compile else model
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.pretrain_lr, betas=(0.9, 0.95), eps=1e-8, **({"fused": True} if amp else {}))
    rng = np.random.default_rng(args.seed)
    L, B = args.seq_len, args.batch

    def pretrain_batch(b):
        offs = rng.integers(0, len(train) - L - 1, size=b)
        w = np.stack([train[o:o + L + 1] for o in offs]).astype(np.int64)
        return torch.from_numpy(w[:, :-1]), torch.from_numpy(w[:, 1:])

    def step(x, y, lr):
        for g in opt.param_groups:
            g["lr"] = lr
        loss = loss_fn(fwd, x.to(dev, non_blocking=True), y.to(dev, non_blocking=True), dev, amp)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    # stage 1: language model
    t0 = time.time()
    acc = []
    best = (float("inf"), 0, None)
    for s in range(args.pretrain_steps):
        lr = lr_at(s, args.pretrain_steps, args.pretrain_lr, args.warmup, args.pretrain_lr * 0.1)
        acc.append(step(*pretrain_batch(B), lr))
        if (s + 1) % 10 == 0:
            tl = float(torch.stack(acc).detach().mean())
            acc = []
            log["curve"]["train"].append([s + 1, round(tl, 4)])
        if (s + 1) % args.eval_every == 0 or s + 1 == args.pretrain_steps:
            el = evaluate(fwd, held, L, args.eval_windows, dev, amp)
            log["curve"]["eval"].append([s + 1, round(el, 4)])
            if el < best[0]:  # keep the weights with the best held-out loss (the corpus is seen many times)
                best = (el, s + 1, {k: v.detach().clone() for k, v in model.state_dict().items()})
            print(json.dumps({"stage": "pretrain", "step": s + 1, "lr": lr, "train": log["curve"]["train"][-1][1],
                              "heldout": round(el, 4), "s": round(time.time() - t0, 1)}), flush=True)
    if amp:
        torch.cuda.synchronize()
    log["pretrain_s"] = round(time.time() - t0, 1)
    log["pretrain_best"] = {"step": best[1], "heldout_loss": best[0]}
    if best[2] is not None and best[1] != args.pretrain_steps:
        model.load_state_dict(best[2])
        log["pretrain_best"]["restored"] = True
        print("restored the weights of step", best[1], flush=True)
    best = None
    log["pretrain_tokens_seen"] = args.pretrain_steps * B * L

    # stage 2: instructions (loss on the answers only), mixed with some pretraining rows
    sft_pos = 0
    n_sft_rows = max(1, int(round(B * (1 - args.sft_pretrain_mix))))

    def sft_batch():
        nonlocal sft_pos
        xs, ys = [], []
        for _ in range(n_sft_rows):
            if sft_pos + L + 1 > len(sft_ids):
                sft_pos = 0
            w = sft_ids[sft_pos:sft_pos + L + 1].astype(np.int64)
            m = sft_mask[sft_pos + 1:sft_pos + L + 1]
            y = w[1:].copy()
            y[~m] = -100
            xs.append(w[:-1])
            ys.append(y)
            sft_pos += L
        x, y = torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))
        if B - n_sft_rows > 0:
            px, py = pretrain_batch(B - n_sft_rows)
            x, y = torch.cat([x, px]), torch.cat([y, py])
        return x, y

    def sft_eval():
        tot, cnt = 0.0, 0
        fwd.eval()
        with torch.no_grad():
            for s in range(0, len(sft_held_ids) - L - 1, L):
                w = sft_held_ids[s:s + L + 1].astype(np.int64)
                y = w[1:].copy()
                y[~sft_held_mask[s + 1:s + L + 1]] = -100
                if (y != -100).sum() == 0:
                    continue
                tot += loss_fn(fwd, torch.from_numpy(w[None, :-1]).to(dev), torch.from_numpy(y[None]).to(dev),
                               dev, amp).item()
                cnt += 1
        fwd.train()
        return tot / max(1, cnt)

    log["sft_epochs"] = round(args.sft_steps * n_sft_rows * L / max(1, len(sft_ids)), 2)
    t0 = time.time()
    acc = []
    log["curve"]["sft_eval"].append([0, round(sft_eval(), 4)])
    for s in range(args.sft_steps):
        lr = lr_at(s, args.sft_steps, args.sft_lr, min(20, args.sft_steps // 10 + 1), 0.0)
        acc.append(step(*sft_batch(), lr))
        if (s + 1) % 10 == 0:
            log["curve"]["sft_train"].append([s + 1, round(float(torch.stack(acc).detach().mean()), 4)])
            acc = []
        if (s + 1) % args.eval_every == 0 or s + 1 == args.sft_steps:
            se = sft_eval()
            log["curve"]["sft_eval"].append([s + 1, round(se, 4)])
            print(json.dumps({"stage": "sft", "step": s + 1, "lr": lr, "sft_heldout": round(se, 4),
                              "s": round(time.time() - t0, 1)}), flush=True)
    log["sft_s"] = round(time.time() - t0, 1)
    log["final_heldout_loss"] = evaluate(fwd, held, L, args.eval_windows, dev, amp)

    # samples
    words = open(os.path.join(args.corpus, "heldout_words.txt")).read().split()
    prompts = ["What does the word harbor mean?", "What does the word %s mean?" % words[len(words) // 3],
               "What does the word %s mean?" % words[len(words) // 2], "What does Genesis 1:3 say?",
               "Tell me a fortune.", "What is a decorator in Python?", "In the beginning God created"]
    log["samples"] = {p: greedy(model, tok, render_chat([{"role": "user", "content": p}], True), dev, amp)
                      for p in prompts}
    log["samples_raw"] = {p: greedy(model, tok, "<s>" + p, dev, amp) for p in ["The ship sailed", "Python is"]}
    for k, v in list(log["samples"].items()) + list(log["samples_raw"].items()):
        print(repr(k), "->", repr(v), flush=True)

    # write the model folder
    os.makedirs(args.out, exist_ok=True)
    sd = {k: v.detach().to(torch.bfloat16).contiguous().cpu() for k, v in model.state_dict().items()}
    write_safetensors(os.path.join(args.out, "model.safetensors"), sd)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(args.out, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": 1, "eos_token_id": 2}, f, indent=2)
    with open(os.path.join(args.tokenizer, "tokenizer.json"), "rb") as f:
        tj = f.read()
    with open(os.path.join(args.out, "tokenizer.json"), "wb") as f:
        f.write(tj)
    with open(os.path.join(args.tokenizer, "tokenizer_config.json")) as f:
        tc = json.load(f)
    tc["chat_template"] = CHAT_TEMPLATE
    tc["model_max_length"] = cfg["max_position_embeddings"]
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        json.dump(tc, f, indent=2)
    log["total_s"] = round(time.time() - t_start, 1)
    with open(os.path.join(args.out, "train_log.json"), "w") as f:
        json.dump(log, f, indent=1)
    print(json.dumps({k: log[k] for k in ("parameters", "pretrain_s", "sft_s", "final_heldout_loss", "total_s")}),
          flush=True)


if __name__ == "__main__":
    sys.exit(main())

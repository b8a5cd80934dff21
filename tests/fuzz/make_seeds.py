#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora (tests/fuzz/corpus/<target>/) from the fixtures in tests/data.

Seeds are small on purpose: libFuzzer grows its own corpus from them at run time (tests/fuzz/run.sh keeps
that in the build folder). Run from the source root: python3 tests/fuzz/make_seeds.py
"""
import glob
import gzip
import json
import os
import shutil
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
DATA = os.path.join(ROOT, "tests", "data")
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")


def target(name):
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def put(d, name, data):
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def safetensors():
    d = target("safetensors")
    for p in sorted(glob.glob(os.path.join(DATA, "safetensors", "*", "*.safetensors"))):
        if os.path.getsize(p) <= 4096:
            shutil.copy(p, os.path.join(d, os.path.basename(p)))


def config():
    d = target("config")
    for p in sorted(glob.glob(os.path.join(DATA, "models", "*", "config.json"))):
        put(d, os.path.basename(os.path.dirname(p)) + ".json", open(p, "rb").read())
    cfg = json.load(open(os.path.join(DATA, "models", "qwen3", "config.json")))
    cfg["quantization"] = {"group_size": 64, "bits": 4, "mode": "affine",
                           "model.layers.0.mlp.down_proj": {"group_size": 32, "bits": 8},
                           "lm_head": False}
    put(d, "quantized.json", json.dumps(cfg))
    put(d, "with_generation.json", json.dumps({**cfg, "eos_token_id": [1, 2]}) + "\0" +
        json.dumps({"eos_token_id": [3, 4, 5]}))
    put(d, "text_config.json", json.dumps({"model_type": "llama", "text_config": cfg}))


def read_text(path):
    """A file of tests/data, or its FILE.gz (tests/data/tok commits its files over 64 KB compressed)."""
    if path.endswith(".gz") or not os.path.exists(path):
        return gzip.open(path if path.endswith(".gz") else path + ".gz", "rt", encoding="utf-8").read()
    return open(path, encoding="utf-8").read()


def tiny_tokenizer(path, keep=300, nmerges=150):
    """The tokenizer's own components with its vocabulary cut to the first `keep` ids."""
    j = json.loads(read_text(path))
    m = j["model"]
    vocab = {k: v for k, v in m["vocab"].items() if v < keep}
    merges = []
    for mg in m.get("merges", []):
        a, b = mg if isinstance(mg, list) else mg.split(" ", 1)
        if a in vocab and b in vocab and a + b in vocab:
            merges.append(mg)
            if len(merges) >= nmerges:
                break
    m["vocab"] = vocab
    m["merges"] = merges
    j["added_tokens"] = j.get("added_tokens", [])[:12]
    return json.dumps(j, ensure_ascii=False)


def tok_load():
    d = target("tok_load")
    for p in sorted(glob.glob(os.path.join(DATA, "tok", "*", "tokenizer.json*"))):
        name = os.path.basename(os.path.dirname(p))
        text = tiny_tokenizer(p)
        cfgp = os.path.join(os.path.dirname(p), "tokenizer_config.json")
        cfg = {}
        if os.path.exists(cfgp) or os.path.exists(cfgp + ".gz"):
            full = json.loads(read_text(cfgp))
            cfg = {k: full[k] for k in ("bos_token", "eos_token", "add_bos_token", "add_eos_token") if k in full}
        put(d, name + ".json", text + "\0" + json.dumps(cfg))


def tok_names():
    return sorted(n for n in os.listdir(os.path.join(DATA, "tok")) if os.path.isdir(os.path.join(DATA, "tok", n)))


def goldens():
    """(tokenizer index, golden case) for a few cases of each tokenizer."""
    out = []
    for i, n in enumerate(tok_names()):
        lines = read_text(os.path.join(DATA, "tok", n, "golden.jsonl")).split("\n")
        for k, line in enumerate([x for x in lines if x][:: max(1, len(lines) // 6)][:6]):
            out.append((i, n, k, json.loads(line)))
    return out


def tok_encode():
    d = target("tok_encode")
    for i, n, k, c in goldens():
        text = c["in"].encode()[:2000]
        put(d, "%s_%d" % (n, k), bytes([i, k & 1]) + text)


def tok_decode():
    d = target("tok_decode")
    for i, n, k, c in goldens():
        ids = c["ids"][:300]
        put(d, "%s_%d" % (n, k), bytes([i, k & 5]) + struct.pack("<%dI" % len(ids), *ids))


def jinja():
    d = target("jinja")
    for p in sorted(glob.glob(os.path.join(DATA, "templates", "*.jinja"))):
        put(d, os.path.basename(p), open(p, "rb").read())
    lines = open(os.path.join(DATA, "templates", "snippets.jsonl"), encoding="utf-8").read().split("\n")
    for k, line in enumerate(x for x in lines if x):
        c = json.loads(line)
        put(d, "snippet_%03d" % k, c["source"] + "\0" + c.get("context_json", "{}"))


def chat_template():
    d = target("chat_template")
    names = sorted(os.path.basename(p) for p in glob.glob(os.path.join(DATA, "templates", "*.jinja")))
    seen = set()
    for line in open(os.path.join(DATA, "templates", "cases.jsonl"), encoding="utf-8"):
        c = json.loads(line)
        key = c["messages_json"]
        if key in seen:
            continue
        seen.add(key)
        i = names.index(c["template"])
        flags = (1 if c.get("add_generation_prompt") else 0) | (2 if c.get("continue_final_message") else 0) \
            | (4 if c.get("tools_json") else 0)
        data = bytes([i, flags]) + key.encode()
        if c.get("extra_json"):
            data += b"\0" + c["extra_json"].encode()
        put(d, "case_%03d" % len(seen), data)


if __name__ == "__main__":
    for f in (safetensors, config, tok_load, tok_encode, tok_decode, jinja, chat_template):
        f()

#!/usr/bin/python3
"""The expected output of `mlxc-tokenize --chat FILE --render` for one request with tools, rendered by
jinja2 in transformers' environment (make_template_cases.environment) with the Qwen3 tokenizer's own
chat template and special tokens. Run: /usr/bin/python3 tests/gen/make_cli_chat_case.py"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_template_cases as m  # noqa: E402

DATA = os.path.join(HERE, "..", "data")
REQUEST = {
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Zürich?\nPlease."},
        {"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Zürich"}}}]},
        {"role": "tool", "content": "{\"temp\": 21}"},
    ],
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Current weather",
               "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
    "add_generation_prompt": True,
    "enable_thinking": False,
}

cfg = json.load(open(os.path.join(DATA, "tok", "qwen3", "tokenizer_config.json")))
env = m.environment()
tmpl = env.from_string(cfg["chat_template"])
ctx = dict(REQUEST)
ctx.setdefault("documents", None)
for k in ("bos_token", "eos_token", "unk_token", "pad_token"):
    if isinstance(cfg.get(k), str):
        ctx[k] = cfg[k]
out = tmpl.render(**ctx)
with open(os.path.join(DATA, "cli", "chat_request.json"), "w") as f:
    json.dump(REQUEST, f, ensure_ascii=False)
with open(os.path.join(DATA, "cli", "chat_request.expected"), "w") as f:
    f.write(out)

#!/usr/bin/env python3
"""Checks that train.py's render_chat() gives exactly what jinja2 renders from CHAT_TEMPLATE, the way
transformers' apply_chat_template calls it (bos_token, eos_token, add_generation_prompt). Needs jinja2
and torch/numpy importable (train.py imports them); no GPU."""
import os
import sys

import jinja2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train  # noqa: E402

env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)  # as transformers compiles templates
tmpl = env.from_string(train.CHAT_TEMPLATE)
cases = [
    [{"role": "user", "content": "What does the word harbor mean?"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi\nthere"},
     {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Define cat."}],
]
bad = 0
for msgs in cases:
    for agp in (False, True):
        want = tmpl.render(messages=msgs, bos_token="<s>", eos_token="</s>", add_generation_prompt=agp)
        got = train.render_chat(msgs, agp)
        if want != got:
            bad += 1
            print("MISMATCH", repr(want), repr(got))
print("%d passed, %d failed" % (2 * len(cases) - bad, bad))
sys.exit(1 if bad else 0)

#!/bin/sh
# mlxc-generate as a pipeline tool: only the continuation on stdout, the rules and mlx_lm's three stats
# lines on stderr, stdin prompts, quiet SIGPIPE, clear errors with non-zero exits.
. "$(dirname "$0")/tap.sh"
B=${MLXC_BUILD:?}
G=$B/cmd/mlxc-generate
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
MLXC_TEST_DATA=${MLXC_TEST_DATA:?} "$B/tests/mlxc-fixture" qwen3 BF16 "$T/m" || { echo "Bail out! fixture"; exit 1; }

echo "some text" | "$G" --model "$T/m" -p - --verbose false -m 8 >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 0 ] && [ -s "$T/out" ] && ! grep -q '==========' "$T/out" && [ ! -s "$T/err" ]; then
  ok "stdin prompt with --verbose false prints only the continuation"
else
  fail "stdin prompt with --verbose false prints only the continuation" "rc=$rc err=$(cat "$T/err")"
fi
[ "$(tail -c 1 "$T/out" | od -An -c | tr -d ' ')" = '\n' ] && ok "the continuation ends with a newline" || fail "the continuation ends with a newline"

"$G" --model "$T/m" -p "hello" -m 8 >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 0 ] && ! grep -q '==========' "$T/out" && [ "$(grep -c '^==========$' "$T/err")" -eq 2 ]; then
  ok "verbose rules go to stderr"
else
  fail "verbose rules go to stderr" "$(cat "$T/err")"
fi
grep -Eq '^Prompt: [0-9]+ tokens, [0-9]+\.[0-9]{3} tokens-per-sec$' "$T/err" && ok "Prompt stats line" || fail "Prompt stats line" "$(cat "$T/err")"
grep -Eq '^Generation: 8 tokens, [0-9]+\.[0-9]{3} tokens-per-sec$' "$T/err" && ok "Generation stats line" || fail "Generation stats line" "$(cat "$T/err")"
grep -Eq '^Peak memory: [0-9]+\.[0-9]{3} GB$' "$T/err" && ok "Peak memory line" || fail "Peak memory line"

"$G" --model "$T/m" -p "hello" -m 5 --output-format jsonl --top-logprobs 3 >"$T/out" 2>"$T/err"
if [ "$(wc -l <"$T/out")" -eq 6 ] && tail -n 1 "$T/out" | grep -q '"finish_reason": "length", "prompt_tokens": [0-9]*, "generation_tokens": 5' \
   && head -n 1 "$T/out" | grep -Eq '^\{"token": [0-9]+, "logprob": -?[0-9.e-]+, "top_logprobs": \[\[[0-9]+, -?[0-9.e-]+\], \[' ; then
  ok "jsonl: one object per token and a summary"
else
  fail "jsonl: one object per token and a summary" "$(cat "$T/out")"
fi

# SIGPIPE: the reader goes away early; mlxc ends quietly (no error message)
"$G" --model "$T/m" -p "hello" -m 500 --verbose false 2>"$T/err" | head -c 1 >/dev/null
if ! grep -q "error" "$T/err"; then ok "SIGPIPE ends it quietly"; else fail "SIGPIPE ends it quietly" "$(cat "$T/err")"; fi

printf 'bad \377 utf8' | "$G" --model "$T/m" -p - >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 1 ] && grep -q "^mlxc-generate: error: the prompt read from stdin is not valid UTF-8" "$T/err"; then
  ok "invalid UTF-8 on stdin is one clear error"
else
  fail "invalid UTF-8 on stdin is one clear error" "rc=$rc $(cat "$T/err")"
fi
"$G" --model "$T/nope" -p hi >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 1 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "^mlxc-generate: error: model '.*nope' not found" "$T/err"; then
  ok "a missing model is one error line, exit 1"
else
  fail "a missing model is one error line, exit 1" "rc=$rc $(cat "$T/err")"
fi
echo '{"model_type": "bert", "hidden_size": 8}' >"$T/m/config.json"
"$G" --model "$T/m" -p hi >"$T/out" 2>"$T/err"; rc=$?
grep -q "model type 'bert' is not supported (supported: llama, mistral, qwen2, qwen3" "$T/err" && [ $rc -eq 1 ] \
  && ok "an unknown architecture names itself and the supported ones" || fail "an unknown architecture names itself" "$(cat "$T/err")"
finish

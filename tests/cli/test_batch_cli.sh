#!/bin/sh
# mlxc-generate --batch: 50 prompts of mixed lengths through continuous batching give exactly the texts
# of 50 separate runs (temperature 0); one JSON line per request as soon as it finishes; error objects
# for bad lines while the rest go on; lines served as they arrive; jsonl events tagged with the id;
# head -n 3 and an empty stdin end it cleanly.
. "$(dirname "$0")/tap.sh"
B=${MLXC_BUILD:?}
G=$B/cmd/mlxc-generate
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
MLXC_TEST_DATA=${MLXC_TEST_DATA:?} "$B/tests/mlxc-fixture" qwen3 F32 "$T/m" || { echo "Bail out! fixture"; exit 1; }

# 50 requests: prompts of 2 to 26 words, max_tokens 1 to 6
words="the sea is wide and the wind blows over grey water while ships sail home to the old harbour at dusk again"
prompt_of() { echo "$(echo "$words" | cut -d' ' -f1-$(($1 % 25 + 1))) $1"; }
i=0
: >"$T/in"
while [ $i -lt 50 ]; do
  echo "{\"id\": $i, \"prompt\": \"$(prompt_of $i)\", \"max_tokens\": $((i % 6 + 1))}" >>"$T/in"
  i=$((i + 1))
done
"$G" --model "$T/m" -t 1 --batch --completion-batch-size 16 --prefill-batch-size 4 <"$T/in" >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 0 ] && [ "$(wc -l <"$T/out")" -eq 50 ] && grep -q '^Requests: 50$' "$T/err" &&
   grep -Eq '^Generation: [0-9]+ tokens, [0-9]+\.[0-9]{3} tokens-per-sec$' "$T/err" && grep -q '^Peak memory: ' "$T/err"; then
  ok "50 requests: 50 result lines, stats on stderr"
else
  fail "50 requests: 50 result lines, stats on stderr" "rc=$rc $(cat "$T/err")"
fi
if command -v jq >/dev/null 2>&1; then
  bad=0
  i=0
  while [ $i -lt 50 ]; do
    # sanitizer builds ($MLXC_TEST_QUICK): every fifth request
    if [ -n "${MLXC_TEST_QUICK:-}" ] && [ $((i % 5)) -ne 0 ]; then i=$((i + 1)); continue; fi
    "$G" --model "$T/m" -t 1 -p "$(prompt_of $i)" -m $((i % 6 + 1)) --verbose false >"$T/one" 2>/dev/null
    # the single run prints the text and a newline (nothing when there is no text)
    jq -j "select(.id == $i) | .text" "$T/out" >"$T/got"
    [ -s "$T/got" ] && echo >>"$T/got"
    cmp -s "$T/one" "$T/got" || { bad=$((bad + 1)); echo "# request $i differs: $(cat "$T/one") | $(cat "$T/got")"; }
    i=$((i + 1))
  done
  [ $bad -eq 0 ] && ok "every batched text equals its separate run (temp 0)" ||
    fail "every batched text equals its separate run (temp 0)" "$bad differ"
else
  _n=$((_n + 1)); echo "ok $_n - every batched text equals its separate run (temp 0) # SKIP no jq"
fi

printf '%s\n' 'plain text prompt' '{"id": "x", "prompt": 5}' '{not json' '{"id": 3, "prompt": "hi", "colour": 1}' '' \
  '{"id": "ok", "prompt": "hi", "max_tokens": 2}' '{"id": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}' |
  "$G" --model "$T/m" --batch -m 3 >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 0 ] && grep -q "^{\"id\": \"x\", \"error\": \"'prompt' must be a string\"}$" "$T/out" &&
   grep -q '^{"id": 3, "error": "line 3 is not a valid JSON object"}$' "$T/out" &&
   grep -q "^{\"id\": 3, \"error\": \"unknown key 'colour'\"}$" "$T/out" &&
   grep -q '^{"id": "ok", "text": ".*", "finish_reason": "length", "prompt_tokens": [0-9]*, "generation_tokens": 2}$' "$T/out" &&
   grep -q '^{"id": "m", .*"generation_tokens": 2}$' "$T/out" &&
   grep -q '^{"id": 1, .*"generation_tokens": 3}$' "$T/out" && [ "$(wc -l <"$T/out")" -eq 6 ]; then
  ok "bad lines give error objects, the others go on"
else
  fail "bad lines give error objects, the others go on" "rc=$rc $(cat "$T/out" "$T/err")"
fi

# a slow pipe: the second line is only written once the first result is out
{ echo '{"id": 1, "prompt": "first", "max_tokens": 2}'; n=0
  while [ ! -s "$T/slow" ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
  echo '{"id": 2, "prompt": "second", "max_tokens": 2}'; } | "$G" --model "$T/m" --batch >"$T/slow" 2>/dev/null
if [ "$(wc -l <"$T/slow")" -eq 2 ] && head -n 1 "$T/slow" | grep -q '"id": 1'; then
  ok "requests are served as lines arrive"
else
  fail "requests are served as lines arrive" "$(cat "$T/slow")"
fi

# --prompt-cache-file: every request starts from its own copy of the cached prefix, as a single run with
# the same cache does (plain text, JSON prompt and messages, the cut after the template prefix included)
"$B/cmd/mlxc-cache-prompt" --model "$T/m" --prompt "A long story about the sea, the wind and the ships." \
  --prompt-cache-file "$T/pc.safetensors" >/dev/null 2>&1
printf '%s\n' 'what happened next' '{"id": "p", "prompt": "who sailed", "max_tokens": 4}' \
  '{"id": "m", "messages": [{"role": "user", "content": "tell me more"}], "max_tokens": 5}' |
  "$G" --model "$T/m" -t 1 --batch -m 6 --prompt-cache-file "$T/pc.safetensors" >"$T/out" 2>"$T/err"; rc=$?
bad=0
for spec in '1|what happened next|6' 'p|who sailed|4' 'm|tell me more|5'; do
  id=${spec%%|*}; rest=${spec#*|}; p=${rest%|*}; m=${rest#*|}
  "$G" --model "$T/m" -t 1 --prompt-cache-file "$T/pc.safetensors" -p "$p" -m "$m" --verbose false >"$T/one" 2>/dev/null
  [ "$id" = 1 ] && sel=1 || sel="\"$id\""
  if command -v jq >/dev/null 2>&1; then
    jq -j "select(.id == $sel) | .text" "$T/out" >"$T/got"; [ -s "$T/got" ] && echo >>"$T/got"
    cmp -s "$T/one" "$T/got" || { bad=$((bad + 1)); echo "# $id: $(cat "$T/one") | $(cat "$T/got")"; }
  fi
done
if [ $rc -eq 0 ] && [ "$(wc -l <"$T/out")" -eq 3 ] && ! grep -q error "$T/out" && [ $bad -eq 0 ]; then
  ok "--prompt-cache-file: each request continues the cached prefix as a single run does"
else
  fail "--prompt-cache-file: each request continues the cached prefix as a single run does" "rc=$rc $(cat "$T/out" "$T/err")"
fi

# per-request penalties, logit bias, seed, stop strings and top_logprobs equal the single run's flags
req='{"id": 7, "prompt": "the sea", "max_tokens": 6, "temp": 0.9, "seed": 11, "repetition_penalty": 1.5, "repetition_context_size": 8, "presence_penalty": 0.3, "frequency_penalty": 0.2, "logit_bias": {"264": 2.5, "11": -1}, "top_logprobs": 2}'
printf '%s\n' "$req" | "$G" --model "$T/m" -t 1 --batch --output-format jsonl >"$T/out" 2>/dev/null
"$G" --model "$T/m" -t 1 -p "the sea" -m 6 --temp 0.9 --seed 11 --repetition-penalty 1.5 --repetition-context-size 8 \
  --presence-penalty 0.3 --frequency-penalty 0.2 --logit-bias 264=2.5,11=-1 --top-logprobs 2 --output-format jsonl \
  >"$T/one" 2>/dev/null
# (the texts of the last token differ by design: the batch puts the tail in the request's last line)
grep '"token"' "$T/out" | sed 's/^{"id": 7, /{/; s/, "text": .*//' >"$T/got"
grep '"token"' "$T/one" | sed 's/, "text": .*//' >"$T/want"
if [ -s "$T/want" ] && cmp -s "$T/want" "$T/got" && grep -q '"top_logprobs": \[\[[0-9]*, [-0-9.e]*\], \[' "$T/got"; then
  ok "per-request penalties, logit_bias, seed and top_logprobs give the single run's tokens"
else
  fail "per-request penalties, logit_bias, seed and top_logprobs give the single run's tokens" "$(cat "$T/want" "$T/got")"
fi
printf '%s\n' '{"id": 9, "prompt": "x", "logit_bias": {"abc": 1}}' '{"id": 10, "prompt": "x", "top_logprobs": -1}' \
  '{"id": 11, "prompt": "x", "logit_bias": {"99999999": 1}}' '{"id": 12, "prompt": "x", "repetition_penalty": -2}' |
  "$G" --model "$T/m" -t 1 --batch >"$T/out" 2>/dev/null
if grep -q "^{\"id\": 9, \"error\": \"'logit_bias': 'abc' is not a token id" "$T/out" &&
   grep -q "^{\"id\": 10, \"error\": \"'top_logprobs' must be an integer" "$T/out" &&
   grep -q "^{\"id\": 11, \"error\": \"'logit_bias': '99999999' is not a token id" "$T/out" &&
   grep -q "^{\"id\": 12, \"error\": \"'repetition_penalty' must be a number" "$T/out"; then
  ok "bad per-request values give error objects"
else
  fail "bad per-request values give error objects" "$(cat "$T/out")"
fi
# a per-request stop string: a piece of what the request generates without it
if command -v jq >/dev/null 2>&1; then
  "$G" --model "$T/m" -t 1 -p "the sea" -m 6 --temp 0.9 --seed 11 --output-format jsonl >"$T/one" 2>/dev/null
  stop=$(jq -r 'select(.token) | .text' "$T/one" | sed -n '2,5p' | grep -m 1 '..')
  "$G" --model "$T/m" -t 1 -p "the sea" -m 6 --temp 0.9 --seed 11 --stop "$stop" --verbose false >"$T/one" 2>/dev/null
  jq -nc --arg s "$stop" '{id: 8, prompt: "the sea", max_tokens: 6, temp: 0.9, seed: 11, stop: [$s]}' |
    "$G" --model "$T/m" -t 1 --batch >"$T/out" 2>/dev/null
  jq -j .text "$T/out" >"$T/got"; [ -s "$T/got" ] && echo >>"$T/got"
  if [ -n "$stop" ] && grep -q '"finish_reason": "stop"' "$T/out" && cmp -s "$T/one" "$T/got"; then
    ok "a per-request stop string ends the request as --stop ends a single run"
  else
    fail "a per-request stop string ends the request as --stop ends a single run" "stop=$stop $(cat "$T/one" "$T/out")"
  fi
else
  _n=$((_n + 1)); echo "ok $_n - a per-request stop string ends the request as --stop ends a single run # SKIP no jq"
fi

printf '{"id": "a", "prompt": "hi", "max_tokens": 3}\n' | "$G" --model "$T/m" --batch --output-format jsonl >"$T/out" 2>/dev/null
if [ "$(grep -c '^{"id": "a", "token": [0-9]*, "logprob": ' "$T/out")" -eq 3 ] &&
   tail -n 1 "$T/out" | grep -q '^{"id": "a", "finish_reason": "length", "text": ".*", "prompt_tokens": [0-9]*, "generation_tokens": 3}$'; then
  ok "jsonl: per-token events tagged with the id, then the end"
else
  fail "jsonl: per-token events tagged with the id, then the end" "$(cat "$T/out")"
fi

# the reader goes away after 3 results: a quiet end
i=0
: >"$T/in"
while [ $i -lt 12 ]; do echo "{\"id\": $i, \"prompt\": \"go $i\", \"max_tokens\": $((2 + i * 20))}" >>"$T/in"; i=$((i + 1)); done
"$G" --model "$T/m" --batch <"$T/in" 2>"$T/err" | head -n 3 >"$T/out"
if [ "$(wc -l <"$T/out")" -eq 3 ] && ! grep -q error "$T/err"; then ok "head -n 3 ends it quietly"; else fail "head -n 3 ends it quietly" "$(cat "$T/err")"; fi

"$G" --model "$T/m" --batch </dev/null >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 0 ] && [ ! -s "$T/out" ] && ok "empty stdin: nothing to do" || fail "empty stdin: nothing to do" "rc=$rc"
"$G" --model "$T/m" --batch --prefill-batch-size 8 --completion-batch-size 4 </dev/null >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "must be at least --prefill-batch-size" "$T/err" && ok "completion < prefill batch size is a usage error" ||
  fail "completion < prefill batch size is a usage error" "rc=$rc $(cat "$T/err")"
finish

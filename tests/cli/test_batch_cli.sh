#!/bin/sh
# mlxc-generate --batch: 50 prompts of mixed lengths through continuous batching give exactly the texts
# of 50 separate runs (temperature 0); one JSON line per request as soon as it finishes; error objects
# for bad lines while the rest go on; lines served as they arrive; jsonl events tagged with the id;
# head -n 3 and closed stdin end it cleanly.
. "$(dirname "$0")/tap.sh"
B=${MLXC_BUILD:?}
G=$B/cmd/mlxc-generate
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
MLXC_TEST_DATA=${MLXC_TEST_DATA:?} "$B/tests/mlxc-fixture" qwen3 F32 "$T/m" || { echo "Bail out! fixture"; exit 1; }

# 50 requests: prompts of 1 to 25 words, max_tokens 1 to 6
words="the sea is wide and the wind blows over grey water while ships sail home to the old harbour at dusk again"
i=0
: >"$T/in"
while [ $i -lt 50 ]; do
  nw=$((i % 25 + 1)) m=$((i % 6 + 1))
  p=$(echo "$words" | cut -d' ' -f1-$nw)
  echo "{\"id\": $i, \"prompt\": \"$p $i\", \"max_tokens\": $m}" >>"$T/in"
  i=$((i + 1))
done
"$G" --model "$T/m" --batch --completion-batch-size 16 --prefill-batch-size 4 <"$T/in" >"$T/out" 2>"$T/err"; rc=$?
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
    nw=$((i % 25 + 1)) m=$((i % 6 + 1))
    p=$(echo "$words" | cut -d' ' -f1-$nw)
    "$G" --model "$T/m" -p "$p $i" -m $m --verbose false >"$T/one" 2>/dev/null
    # the single run prints the text and a newline (none when there is no text)
    jq -j "select(.id == $i) | .text" "$T/out" >"$T/got"
    [ -s "$T/got" ] && echo >>"$T/got"
    cmp -s "$T/one" "$T/got" || { bad=$((bad + 1)); echo "# request $i differs: $(cat "$T/one") | $(cat "$T/got")"; }
    i=$((i + 1))
  done
  [ $bad -eq 0 ] && ok "every batched text equals its separate run (temp 0)" || fail "every batched text equals its separate run (temp 0)" "$bad differ"
else
  skip "every batched text equals its separate run (temp 0)" "no jq"
fi

printf 'plain text prompt\n{"id": "x", "prompt": 5}\n{not json\n{"id": 3, "prompt": "hi", "colour": 1}\n\n{"id": "ok", "prompt": "hi", "max_tokens": 2}\n{"id": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}\n' |
  "$G" --model "$T/m" --batch -m 3 >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 0 ] && grep -q '^{"id": "x", "error": "'"'"'prompt'"'"' must be a string"}$' "$T/out" &&
   grep -q '^{"id": 3, "error": "line 3 is not a valid JSON object"}$' "$T/out" &&
   grep -q '^{"id": 3, "error": "unknown key '"'"'colour'"'"'"}$' "$T/out" &&
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
[ $rc -eq 2 ] && grep -q "must be at least --prefill-batch-size" "$T/err" && ok "completion < prefill batch size is a usage error" || fail "completion < prefill batch size is a usage error" "rc=$rc $(cat "$T/err")"
done_testing

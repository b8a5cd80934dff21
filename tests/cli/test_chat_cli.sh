#!/bin/sh
# mlxc-chat's plain view as scripts drive it (stdin not a terminal): one turn per line, replies on stdout,
# one stats line per reply on stderr. Checks mlx_lm.chat's semantics: each turn prefills only its own
# rendered [system?] + [user] tokens on top of the cache (counted independently with mlxc-tokenize), the
# reply stays in the cache; sessions saved with /save resume to the same greedy continuation; /undo,
# multi-line input, --system-prompt @FILE, the context limit, Ctrl-C (SIGINT) during a reply.
. "$(dirname "$0")/tap.sh"
B=${MLXC_BUILD:?}
C=$B/cmd/mlxc-chat
TOK=$B/cmd/mlxc-tokenize
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
MLXC_TEST_DATA=${MLXC_TEST_DATA:?} "$B/tests/mlxc-fixture" qwen3 F32 "$T/m" || { echo "Bail out! fixture"; exit 1; }
M=$T/m

# Expected prompt sizes, counted independently of the chat code: Qwen3's template (enable_thinking on,
# as mlx_lm passes it when the vocabulary has <think>) renders a turn as written here, and one
# mlxc-tokenize --jsonl call encodes every text (special tokens are matched as added tokens).
S='<|im_start|>system\nYou are terse.<|im_end|>\n'
turn() { printf '"%s<|im_start|>user\\n%s<|im_end|>\\n<|im_start|>assistant\\n"\n' "$1" "$2"; }
{ turn '' hi; turn '' bye; turn "$S" hi; turn "$S" bye; turn '' 'how are you'; turn '' '/x'
  turn '' 'line a\n/not a command'; turn '' 'first\nsecond'; turn '' two
  printf '"Summarize it.<|im_end|>\\n<|im_start|>assistant\\n"\n"hello"\n'; } >"$T/texts"
"$TOK" --model "$M" --jsonl --no-special <"$T/texts" >"$T/ids"
awk -F, '{print NF}' "$T/ids" >"$T/counts"
[ "$(wc -l <"$T/counts")" -eq 11 ] || { echo "Bail out! mlxc-tokenize"; exit 1; }
count() { sed -n "${1}p" "$T/counts"; }
N_HI=$(count 1) N_BYE=$(count 2) N_SHI=$(count 3) N_SBYE=$(count 4) N_HOW=$(count 5) N_X=$(count 6)
N_BLOCK=$(count 7) N_CONT=$(count 8) N_TWO=$(count 9) N_SUFFIX=$(count 10)
HELLO_ID=$(sed -n 11p "$T/ids" | tr -d '[]')

# the Nth stats line's prompt tokens, generated tokens, context positions (other stderr lines skipped)
stat() { grep '^\[' "$2" | sed -n "${1}p"; }
prompt_of() { stat "$1" "$2" | sed -n 's/.*prompt \([0-9]*\) tokens.*/\1/p'; }
gen_of() { stat "$1" "$2" | sed -n 's/^\[\([0-9]*\) tokens.*/\1/p'; }
ctx_of() { stat "$1" "$2" | sed -n 's/.*context \([0-9]*\)\/.*/\1/p'; }

# two turns answered, exit 0
printf 'hi\nbye\n' | "$C" --model "$M" -m 8 >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 0 ] && [ "$(grep -c '^\[8 tokens · ' "$T/err")" -eq 2 ] && [ -s "$T/out" ]; then
  ok "two lines piped in are both answered, exit 0"
else
  fail "two lines piped in are both answered, exit 0" "rc=$rc $(cat "$T/err")"
fi
grep -Eq '^\[8 tokens · [0-9.]+ tok/s · prompt [0-9]+ tokens, [0-9.]+ tok/s · peak [0-9.]+ GB · context [0-9]+/4096\]$' "$T/err" \
  && ok "stats line format" || fail "stats line format" "$(cat "$T/err")"
# each turn prefills only its own tokens; the reply (8 tokens, fed back) stays in the cache
p1=$(prompt_of 1 "$T/err") p2=$(prompt_of 2 "$T/err") c1=$(ctx_of 1 "$T/err") c2=$(ctx_of 2 "$T/err")
if [ "$p1" = "$N_HI" ] && [ "$p2" = "$N_BYE" ] && [ "$c1" -eq $((N_HI + 8)) ] && [ "$c2" -eq $((N_HI + 8 + N_BYE + 8)) ]; then
  ok "the second turn prefills only its $N_BYE new tokens (context $c1 then $c2)"
else
  fail "the second turn prefills only its new tokens" "expected $N_HI/$N_BYE, got prompt $p1/$p2 context $c1/$c2"
fi

# --system-prompt @FILE: the system message comes with every turn (mlx_lm renders [system, user] per turn)
printf 'You are terse.\n' >"$T/sys.txt"
printf 'hi\nbye\n' | "$C" --model "$M" -m 4 --system-prompt "@$T/sys.txt" >"$T/out" 2>"$T/err"
if [ "$(prompt_of 1 "$T/err")" = "$N_SHI" ] && [ "$(prompt_of 2 "$T/err")" = "$N_SBYE" ]; then
  ok "--system-prompt @FILE is read from the file and rendered with each turn"
else
  fail "--system-prompt @FILE" "expected $N_SHI/$N_SBYE: $(cat "$T/err")"
fi
"$C" --model "$M" --system-prompt "@$T/nope" </dev/null >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "^mlxc-chat: error: cannot open '.*nope'" "$T/err" \
  && ok "a missing @FILE is one error line" || fail "a missing @FILE is one error line" "rc=$rc $(cat "$T/err")"

# /save then --resume gives the same next greedy reply as going on without saving
printf 'hi\n/save %s\nhow are you\n' "$T/s" | "$C" --model "$M" -m 12 2>/dev/null | awk 'f; /^saved /{f=1}' >"$T/cont"
printf 'how are you\n' | "$C" --resume "$T/s" -m 12 >"$T/resumed" 2>"$T/err"; rc=$?
if [ $rc -eq 0 ] && [ -s "$T/cont" ] && cmp -s "$T/cont" "$T/resumed" && [ -f "$T/s.safetensors" ]; then
  ok "/save then --resume (model from the file) continues with the same greedy reply"
else
  fail "/save then --resume continues with the same greedy reply" "rc=$rc $(cat "$T/err")"
fi
[ "$(prompt_of 1 "$T/err")" = "$N_HOW" ] && [ "$(ctx_of 1 "$T/err")" -eq $((N_HI + 12 + N_HOW + 12)) ] \
  && ok "--resume restores the cache and prefills only the new turn" || fail "--resume prefills only the new turn" "$(cat "$T/err")"
# sampled (temp > 0): the session keeps the sampler's random state, so a resumed chat draws the same
# tokens as the uninterrupted one; --seed given with --resume starts a fresh stream instead (the check
# that the state matters)
printf 'hi\n/save %s\nhow are you\n' "$T/r" | "$C" --model "$M" -m 12 --temp 1.5 2>/dev/null | awk 'f; /^saved /{f=1}' >"$T/rcont"
printf 'how are you\n' | "$C" --resume "$T/r" -m 12 --temp 1.5 >"$T/rres" 2>"$T/err"; rc=$?
printf 'how are you\n' | "$C" --resume "$T/r" -m 12 --temp 1.5 --seed 0 >"$T/rseed" 2>/dev/null
if [ $rc -eq 0 ] && [ -s "$T/rcont" ] && cmp -s "$T/rcont" "$T/rres" && ! cmp -s "$T/rcont" "$T/rseed"; then
  ok "a sampled chat resumed from /save continues with the same tokens (the random state is in the session)"
else
  fail "a sampled chat resumed from /save continues with the same tokens" "rc=$rc $(cat "$T/rcont"; echo ---; cat "$T/rres"; echo ---; cat "$T/rseed" "$T/err")"
fi
grep -aq '"1.rng":"[0-9]* [0-9]*"' "$T/r.safetensors" && ok "the session file holds the random state (\"rng\")" \
  || fail "the session file holds the random state" "$(head -c 2000 "$T/r.safetensors" | tr -c '[:print:]' ' ')"
# the file is mlx_lm's prompt-cache layout with the messages in its metadata
head -c 4096 "$T/s.safetensors" >"$T/head"
if grep -aq '"1.messages":"\[{\\"role\\": \\"user\\", \\"content\\": \\"hi\\"}, {\\"role\\": \\"assistant\\"' "$T/head" \
   && grep -aq '"2.0":"KVCache"' "$T/head" && grep -aq '"1.model":"' "$T/head" && grep -aq '"1.tokenizer_config":"' "$T/head"; then
  ok "the session file holds the messages, model and cache classes in its metadata"
else
  fail "the session file holds the messages in its metadata" "$(tr -c '[:print:]' ' ' <"$T/head" | head -c 800)"
fi
printf '/load %s\nhow are you\n' "$T/s" | "$C" --model "$M" -m 12 2>"$T/err" | awk 'f; /^restored /{f=1}' >"$T/loaded"
cmp -s "$T/cont" "$T/loaded" && ok "/load FILE restores the session too" || fail "/load FILE restores the session too" "$(cat "$T/cont"; echo ---; cat "$T/loaded" "$T/err")"

# /undo drops the last exchange: the same message again gives the same reply at the same context
printf '/undo\none\ntwo\n/undo\ntwo\n' | "$C" --model "$M" -m 6 >"$T/out" 2>"$T/err"; rc=$?
if [ "$(ctx_of 2 "$T/err")" = "$(ctx_of 3 "$T/err")" ] && grep -q '^dropped the last exchange' "$T/out" \
   && [ "$(sed -n 2p "$T/out")" = "$(sed -n 4p "$T/out")" ]; then
  ok "/undo trims the cache back to where the exchange started"
else
  fail "/undo trims the cache back" "$(cat "$T/out" "$T/err")"
fi
[ $rc -eq 1 ] && grep -q '^mlxc-chat: error: nothing to undo$' "$T/err" \
  && ok "/undo with nothing to undo is an error (exit 1 at the end of a script)" || fail "/undo with nothing to undo" "rc=$rc $(cat "$T/err")"

# commands, multi-line input, reset
printf 'h\n/help\n/nope\n//x\n"""\nline a\n/not a command\n"""\nfirst\\\nsecond\n/load %s\nr\ntwo\n/reset\n/stats\n' "$T/none" \
  | "$C" --model "$M" -m 3 >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && [ "$(grep -c '^  /undo ' "$T/out")" -eq 2 ] && grep -q "^mlxc-chat: error: unknown command '/nope'" "$T/err" \
  && ok "h and /help print the commands, an unknown command is an error" || fail "commands" "rc=$rc $(cat "$T/out" "$T/err")"
[ "$(prompt_of 1 "$T/err")" = "$N_X" ] && ok "//x sends the message /x" || fail "//x sends the message /x" "expected $N_X: $(cat "$T/err")"
[ "$(prompt_of 2 "$T/err")" = "$N_BLOCK" ] && [ "$(prompt_of 3 "$T/err")" = "$N_CONT" ] \
  && ok "a \"\"\" block and a backslash continuation are one message each (a block is never a command)" \
  || fail "multi-line input" "expected $N_BLOCK/$N_CONT: $(cat "$T/err")"
grep -q "^mlxc-chat: error: loading '.*none'" "$T/err" && [ "$(grep -c '^\[' "$T/err")" -eq 4 ] \
  && ok "a failed /load is an error and the chat goes on" || fail "a failed /load" "$(cat "$T/err")"
[ "$(ctx_of 4 "$T/err")" = "$((N_TWO + 3))" ] && [ "$(grep -c '^context cleared$' "$T/out")" -eq 2 ] \
  && grep -q '^context     0 of 4096 positions' "$T/out" && ok "r and /reset clear the context" \
  || fail "r and /reset clear the context" "$(cat "$T/out" "$T/err")"

# the context limit: say so and what can be done, then go on
printf 'hi\nhello again\n/undo\nbye\n' | "$C" --model "$M" -m 10 --max-context 25 >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 0 ] && grep -q "^mlxc-chat: the context is full: $((N_HI + 10)) of 25 positions are used and this message needs .* more; /undo drops the last exchange, /reset starts over, and --max-kv-size N" "$T/err" \
   && [ "$(grep -c '^\[' "$T/err")" -eq 2 ]; then
  ok "a full context is reported with what can be done, and the chat goes on"
else
  fail "a full context is reported" "rc=$rc $(cat "$T/err")"
fi
printf 'hi\n' | "$C" --model "$M" -m 100 --max-context $((N_HI + 5)) >"$T/out" 2>"$T/err"
grep -q "^\[5 tokens · .*context $((N_HI + 5))/$((N_HI + 5))\]$" "$T/err" && grep -q 'the context is full (.*): the reply stopped there' "$T/err" \
  && ok "a reply stops at the context limit and says so" || fail "a reply stops at the context limit" "$(cat "$T/err")"

# --render conversation: the whole conversation is rendered; only what the cache lacks is prefilled
printf 'hi\nbye\n/save %s\nok\n' "$T/c" | "$C" --model "$M" -m 6 --render conversation 2>"$T/err" | awk 'f; /^saved /{f=1}' >"$T/cont"
printf 'ok\n' | "$C" --resume "$T/c" -m 6 --render conversation >"$T/resumed" 2>"$T/err2"
p2=$(prompt_of 2 "$T/err") c1=$(ctx_of 1 "$T/err") c2=$(ctx_of 2 "$T/err")
if [ "$(prompt_of 1 "$T/err")" = "$N_HI" ] && [ "$c2" -eq $((c1 + p2 + 6)) ] && [ "$p2" -le $((N_BYE + 2)) ] \
   && cmp -s "$T/cont" "$T/resumed" && [ "$(prompt_of 1 "$T/err2")" = "$(prompt_of 3 "$T/err")" ]; then
  ok "--render conversation prefills only the suffix the cache lacks, and resumes the same"
else
  fail "--render conversation" "$(cat "$T/err" "$T/err2")"
fi

# Ctrl-C (SIGINT) during a reply stops it (what was generated stays); the chat goes on with the next line.
# The lines go through a FIFO so each signal is sent once its reply is streaming.
# poll TENTHS CMD...: retries CMD every 0.1 s
poll() { n=$1; shift; while [ "$n" -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done; return 1; }
size_above() { [ "$(wc -c <"$1")" -gt "$2" ]; }
stats_are() { [ "$(grep -c '^\[' "$2")" -eq "$1" ]; }
mkfifo "$T/fifo"
"$C" --model "$M" -m 100000 <"$T/fifo" >"$T/out" 2>"$T/err" &
pid=$!
exec 3>"$T/fifo"
echo 'go on forever' >&3
poll 600 size_above "$T/out" 0 && kill -INT $pid
poll 600 stats_are 1 "$T/err"
size=$(wc -c <"$T/out")
echo 'after' >&3
poll 600 size_above "$T/out" "$size" && kill -INT $pid
poll 600 stats_are 2 "$T/err"
exec 3>&-
wait $pid; rc=$?
g1=$(gen_of 1 "$T/err")
if [ $rc -eq 0 ] && [ "$(grep -c '· interrupted\]$' "$T/err")" -eq 2 ] && [ "${g1:-100000}" -lt 100000 ] \
   && [ "$(ctx_of 2 "$T/err")" -eq $(($(prompt_of 1 "$T/err") + g1 + $(prompt_of 2 "$T/err") + $(gen_of 2 "$T/err"))) ]; then
  ok "SIGINT stops a reply, which stays in the context, and the next line is answered"
else
  fail "SIGINT stops a reply" "rc=$rc $(cat "$T/err")"
fi

# a cached prompt (mlxc-cache-prompt) as the prefix: the first turn sends only what follows the start of
# the user's content (mlx_lm's "<query>" cut), and the reply is mlxc-generate's with the same cache
"$B/cmd/mlxc-cache-prompt" --model "$M" --prompt "Here is a long document about cats and dogs." \
  --prompt-cache-file "$T/pc.safetensors" >/dev/null 2>&1
"$B/cmd/mlxc-generate" --prompt-cache-file "$T/pc.safetensors" -p "Summarize it." -m 10 --verbose false >"$T/gen" 2>/dev/null
printf 'Summarize it.\n/save %s\n/reset\n/stats\n' "$T/pcs" | "$C" --prompt-cache-file "$T/pc.safetensors" -m 10 \
  >"$T/out" 2>"$T/err"; rc=$?
p1=$(prompt_of 1 "$T/err") c1=$(ctx_of 1 "$T/err")
if [ $rc -eq 0 ] && [ -s "$T/gen" ] && [ "$(head -n "$(wc -l <"$T/gen")" "$T/out")" = "$(cat "$T/gen")" ] && [ "$p1" = "$N_SUFFIX" ] \
   && grep -q "^context     $((c1 - N_SUFFIX - 10)) of 4096 positions (.*), 0 exchanges after a cached prompt$" "$T/out"; then
  ok "--prompt-cache-file: the first turn continues the cached prompt as mlxc-generate does; /reset goes back to it"
else
  fail "--prompt-cache-file" "rc=$rc $(cat "$T/gen"; echo ---; cat "$T/out" "$T/err")"
fi
printf '/undo\nSummarize it.\n' | "$C" --resume "$T/pcs" -m 10 2>/dev/null | awk 'f; /^dropped /{f=1}' >"$T/out"
cmp -s "$T/out" "$T/gen" && ok "a session saved after a cached prompt resumes, and /undo goes back to the prompt" \
  || fail "a session after a cached prompt" "$(cat "$T/gen"; echo ---; cat "$T/out")"

# the cache kinds and generate's sampling flags through the chat (skipped in sanitizer builds, where they
# cost most of the time: the cache and logits code has tests of its own)
if [ -n "${MLXC_TEST_QUICK-}" ]; then
  for name in "--max-kv-size" "--kv-bits session" "--logit-bias" "--stop" "penalties" "--logit-bias beyond the vocabulary"; do
    _n=$((_n + 1)); echo "ok $_n - $name # SKIP quick mode (sanitizer build)"
  done
else
# a rotating cache (--max-kv-size) never fills up; once it has wrapped /undo says why it cannot cut back
printf 'one\ntwo\nthree\n/undo\n' | "$C" --model "$M" -m 10 --max-kv-size 20 >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 1 ] && stat 3 "$T/err" | grep -q "· context $((3 * (N_TWO + 10)))\]$" \
   && grep -q '^mlxc-chat: error: the rotating cache has wrapped, so it cannot be cut back: /reset starts over$' "$T/err"; then
  ok "--max-kv-size: a rotating cache keeps going; /undo after it wrapped is refused with the reason"
else
  fail "--max-kv-size" "rc=$rc $(cat "$T/err")"
fi
# a quantized KV cache saves and resumes like a plain one
printf 'one\n/save %s\ntwo\n' "$T/q" | "$C" --model "$M" -m 10 --kv-bits 4 --kv-group-size 32 --quantized-kv-start 8 2>/dev/null \
  | awk 'f; /^saved /{f=1}' >"$T/cont"
printf 'two\n' | "$C" --resume "$T/q" -m 10 >"$T/resumed" 2>/dev/null
[ -s "$T/cont" ] && cmp -s "$T/cont" "$T/resumed" && grep -aq '"2.0":"QuantizedKVCache"' "$T/q.safetensors" \
  && ok "--kv-bits: a quantized session resumes to the same reply" || fail "--kv-bits session" "$(cat "$T/cont" "$T/resumed")"

# sampling and stopping flags of generate: logit bias, stop strings, penalties
printf 'hi\n' | "$C" --model "$M" -m 5 --logit-bias "$HELLO_ID=100" >"$T/out" 2>"$T/err"
[ "$(cat "$T/out")" = "hellohellohellohellohello" ] && ok "--logit-bias" || fail "--logit-bias" "$(cat "$T/out" "$T/err")"
printf 'hi\n' | "$C" --model "$M" -m 8 >"$T/plain" 2>/dev/null
word=$(head -n 1 "$T/plain" | grep -o '[A-Za-z]\{3,\}' | sed -n 2p)
printf 'hi\n' | "$C" --model "$M" -m 8 --stop "$word" >"$T/out" 2>"$T/err"
before=$(head -n 1 "$T/plain")
if [ -n "$word" ] && [ "$(cat "$T/out")" = "${before%%"$word"*}" ] && grep -q '^\[[0-7] tokens · ' "$T/err"; then
  ok "--stop ends the reply before the stop string"
else
  fail "--stop ends the reply before the stop string" "word=$word $(cat "$T/plain" "$T/out" "$T/err")"
fi
printf 'hi\n' | "$C" --model "$M" -m 16 --repetition-penalty 3 --presence-penalty 0.5 >"$T/pen" 2>/dev/null
printf 'hi\n' | "$C" --model "$M" -m 16 >"$T/plain" 2>/dev/null
! cmp -s "$T/pen" "$T/plain" && ok "penalties change the reply" || fail "penalties change the reply"
printf 'hi\n' | "$C" --model "$M" --logit-bias 99999999=1 >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "^mlxc-chat: error: --logit-bias: '99999999=1' is not ID=VALUE with an id in the vocabulary" "$T/err" \
  && ok "a --logit-bias id beyond the vocabulary is an error" || fail "--logit-bias beyond the vocabulary" "rc=$rc $(cat "$T/err")"

fi

# errors: one line, exit 1
"$C" --model "$T/nope" </dev/null >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "^mlxc-chat: error: model '.*nope' not found" "$T/err" \
  && ok "a missing model is one error line, exit 1" || fail "a missing model is one error line" "rc=$rc $(cat "$T/err")"
printf 'x' >"$T/bad.safetensors"
"$C" --model "$M" --resume "$T/bad.safetensors" </dev/null >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "^mlxc-chat: error: .*bad.safetensors" "$T/err" \
  && ok "a broken session file is one error line" || fail "a broken session file is one error line" "rc=$rc $(cat "$T/err")"
"$C" --model "$M" --chat-template-config '[1]' </dev/null >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "chat-template-config is not a JSON object" "$T/err" && ok "a bad --chat-template-config is an error" \
  || fail "bad --chat-template-config" "rc=$rc $(cat "$T/err")"
finish

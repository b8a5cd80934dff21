#!/bin/sh
# mlxc-perplexity as a program: mlx_lm's result lines on stdout, --data or stdin, jsonl, clear errors;
# and the shipped default model (no --model) with the default (AVX2) kernels against torch within
# 1%: those kernels round activations to int8, about 0.5% at 4 bits here (tests/core/test_perplexity.c
# checks the f32-activation kernels within 0.5%).
. "$(dirname "$0")/tap.sh"
B=${MLXC_BUILD:?}
P=$B/cmd/mlxc-perplexity
D=${MLXC_TEST_DATA:?}
S=$D/perplexity/sample.txt
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# torch, the shipped weights quantized as MLX does, two windows of 64 (perplexity/reference.json,
# default_model_cpu)
WANT=20.293069

"$P" --data "$S" --sequence-length 64 --num-samples 2 >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 0 ] && grep -q '^Model: .*models/mlxc-tiny$' "$T/out" \
   && grep -q '^Tokens: 430 in the text, 2 windows of 64 (stride 64), 126 scored$' "$T/out" \
   && grep -Eq '^Perplexity: [0-9]+\.[0-9]{3} ± [0-9]+\.[0-9]{3}$' "$T/out" \
   && grep -Eq '^Evaluation time: [0-9]+\.[0-9]{2} seconds$' "$T/out" && grep -Eq '^Tokens per second: [0-9]+$' "$T/out"; then
  ok "the default model: mlx_lm's result lines"
else
  fail "the default model: mlx_lm's result lines" "rc=$rc $(cat "$T/out" "$T/err")"
fi
got=$(sed -n 's/^Perplexity: \([0-9.]*\) .*/\1/p' "$T/out")
if awk -v g="$got" -v w="$WANT" 'BEGIN { d = g / w - 1; if (d < 0) d = -d; exit !(d < 0.01) }'; then
  ok "the default model's perplexity is torch's within 1% ($got vs $WANT)"
else
  fail "the default model's perplexity is torch's within 1% ($got vs $WANT)"
fi

"$P" --sequence-length 64 --num-samples 2 <"$S" >"$T/stdin" 2>/dev/null
if [ "$(grep '^Perplexity' "$T/stdin")" = "$(grep '^Perplexity' "$T/out")" ]; then ok "stdin gives the same result"; else fail "stdin gives the same result" "$(cat "$T/stdin")"; fi

"$P" --data "$S" --sequence-length 32 --stride 8 --num-samples 3 --output-format jsonl >"$T/j" 2>/dev/null; rc=$?
if [ $rc -eq 0 ] && [ "$(wc -l <"$T/j")" -eq 4 ] && head -n 1 "$T/j" | grep -Eq '^\{"window": 0, "begin": 0, "scored": 31, "loss": [0-9.e+-]+\}$' \
   && sed -n 2p "$T/j" | grep -q '"begin": 8, "scored": 8,' \
   && tail -n 1 "$T/j" | grep -Eq '"perplexity": [0-9.e+-]+, "standard_error": [0-9.e+-]+, .*"windows": 3, "windows_total": 3, "scored_tokens": 47, "sequence_length": 32, "stride": 8'; then
  ok "jsonl: one object per window, then the result"
else
  fail "jsonl: one object per window, then the result" "rc=$rc $(cat "$T/j")"
fi

"$P" --data "$S" --stride 0 >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 1 ] && grep -q "error: --stride must be between 1 and the sequence length 512" "$T/err"; then ok "a bad --stride is one error line"; else fail "a bad --stride is one error line" "rc=$rc $(cat "$T/err")"; fi
"$P" --data "$S" --sequence-length 4096 >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 1 ] && grep -q "the text has 430 tokens: one window needs --sequence-length 4096" "$T/err"; then ok "a text shorter than a window is an error"; else fail "a text shorter than a window is an error" "rc=$rc $(cat "$T/err")"; fi
"$P" --data "$T/missing.txt" >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 1 ] && grep -q "missing.txt" "$T/err" && [ ! -s "$T/out" ]; then ok "a missing --data file is an error"; else fail "a missing --data file is an error" "rc=$rc $(cat "$T/err")"; fi
printf 'abc\377def' >"$T/bad.txt"
"$P" --data "$T/bad.txt" >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 1 ] && grep -q "is not UTF-8 text (byte 3)" "$T/err"; then ok "invalid UTF-8 is an error"; else fail "invalid UTF-8 is an error" "rc=$rc $(cat "$T/err")"; fi
"$P" --sequence-length abc >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 2 ] && grep -q "invalid int value: 'abc'" "$T/err"; then ok "a malformed flag exits 2"; else fail "a malformed flag exits 2" "rc=$rc"; fi
finish

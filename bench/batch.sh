#!/bin/sh
# Continuous batching throughput: aggregate generation tokens/s of `mlxc-generate --batch` with 1, 8 and
# 32 concurrent requests (short random-text prompts, EOS ignored), with peak memory, next to the
# model's prefill tokens/s from mlxc-bench. Targets (issue 14): 8 concurrent >= 2x one request;
# 32 concurrent >= 80% of prefill tokens/s.
# usage: bench/batch.sh [BUILD_DIR] [MODEL_DIR]   (default: the Llama-3.2-1B-shaped model, 4-bit,
#        built with make-random-model and mlxc-convert -q into a temporary folder)
#        GEN=N tokens per request (default 32), THREADS=N. A MODEL_DIR without tokenizer.json gets the
#        llama3 fixture's (Llama 3's tokenizer) copied into it.
set -eu
B=${1:-build}
GEN=${GEN:-32}
THREADS=${THREADS:-0}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
if [ -n "${2:-}" ]; then
  M=$2
else
  "$B/bench/make-random-model" "$T/bf16" BF16 >/dev/null
  "$B/cmd/mlxc-convert" --hf-path "$T/bf16" --mlx-path "$T/q4" -q >/dev/null
  rm -rf "$T/bf16"
  M=$T/q4
fi
if [ ! -f "$M/tokenizer.json" ]; then # random models have no tokenizer: Llama 3's, from the llama3 fixture
  MLXC_TEST_DATA=${MLXC_TEST_DATA:-$(dirname "$0")/../tests/data} "$B/tests/mlxc-fixture" llama3 F32 "$T/fx" >/dev/null
  cp "$T/fx"/tokenizer*.json "$M"/
fi
prefill=$("$B/cmd/mlxc-bench" --model "$M" -p 256 -g 1 -n 1 -t "$THREADS" --output-format jsonl 2>/dev/null | tail -n 1 |
          sed 's/.*"prompt_tps": \([0-9.]*\).*/\1/')
echo "model prefill: $prefill tokens/s (mlxc-bench, 256-token prompt)"
for n in 1 8 32; do
  i=0
  : >"$T/in"
  while [ $i -lt $n ]; do
    echo "{\"id\": $i, \"prompt\": \"Request $i: write a story about the number $i and the sea.\", \"max_tokens\": $GEN}" >>"$T/in"
    i=$((i + 1))
  done
  "$B/cmd/mlxc-generate" --model "$M" --batch --ignore-eos --ignore-chat-template -t "$THREADS" \
    --completion-batch-size 32 --prefill-batch-size 8 <"$T/in" >"$T/out" 2>"$T/err"
  done_n=$(grep -c '"finish_reason": "length"' "$T/out" || true)
  gen=$(sed -n 's/^Generation: \([0-9]*\) tokens, \([0-9.]*\) tokens-per-sec$/\2/p' "$T/err")
  peak=$(sed -n 's/^Peak memory: \([0-9.]*\) GB$/\1/p' "$T/err")
  printf '%2d concurrent: %2d finished, generation %8s tokens/s aggregate, peak memory %s GB\n' "$n" "$done_n" "$gen" "$peak"
done

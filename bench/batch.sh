#!/bin/sh
# Continuous batching throughput (issue 14): the aggregate generation tokens/s of `mlxc-generate --batch`
# with 1, 8 and 32 concurrent requests (short prompts, EOS ignored, every request the same number of
# tokens), each with its peak memory, next to the single-request prefill and decode tokens/s of
# mlxc-bench on the same model, and the two ratios the issue asks for:
#   8 concurrent / 1 concurrent generation tokens/s   >= 2
#   32 concurrent generation tokens/s / prefill tokens/s >= 0.8
# usage: bench/batch.sh [BUILD_DIR] [MODEL_DIR]
#   MODEL_DIR defaults to the Llama-3.2-1B-shaped 4-bit model that bench/llama1b.sh builds
#   (${TMPDIR:-/tmp}/mlxc-llama1b/q4). A model without tokenizer.json is used through a folder of links
#   plus Llama 3's tokenizer (the llama3 fixture's); the model folder itself is not touched.
# Environment: GEN tokens per request (64), PROMPT prefill tokens for mlxc-bench (512), TRIALS mlxc-bench
#   trials (1), CONC the concurrency levels ("1 8 32"), THREADS (0: every core).
# Small check run: GEN=4 PROMPT=64 bench/batch.sh build
set -eu
B=${1:-build}
M=${2:-${TMPDIR:-/tmp}/mlxc-llama1b/q4}
GEN=${GEN:-64}
PROMPT=${PROMPT:-512}
TRIALS=${TRIALS:-1}
CONC=${CONC:-1 8 32}
THREADS=${THREADS:-0}
if [ ! -f "$M/config.json" ]; then
  echo "bench/batch.sh: no model at '$M': build it with bench/llama1b.sh $B" >&2
  exit 1
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
D=$M
if [ ! -f "$M/tokenizer.json" ]; then # random models have no tokenizer: Llama 3's, beside links to the model
  D=$T/model
  mkdir "$D"
  Mabs=$(cd "$M" && pwd)
  for f in "$Mabs"/*; do ln -s "$f" "$D/"; done
  MLXC_TEST_DATA=${MLXC_TEST_DATA:-$B/tests/data} "$B/tests/mlxc-fixture" llama3 F32 "$T/fx" >/dev/null
  cp "$T/fx"/tokenizer*.json "$D"/
fi
echo "model: $M ($(du -shL "$M" | cut -f1)), $(nproc) cores, threads ${THREADS} (0: all), load average $(cut -d' ' -f1-3 /proc/loadavg)"

# single request: prefill and decode (mlxc-bench averages)
"$B/cmd/mlxc-bench" --model "$D" -p "$PROMPT" -g "$GEN" -n "$TRIALS" -t "$THREADS" --output-format jsonl \
  >"$T/bench" 2>/dev/null
last=$(tail -n 1 "$T/bench")
field() { echo "$last" | sed -n "s/.*\"$1\": \([0-9.e+-]*\).*/\1/p"; }
prefill=$(field prompt_tps)
decode=$(field generation_tps)
printf 'mlxc-bench, one request: prefill %s tokens/s (%s-token prompt), decode %s tokens/s, peak memory %s GB\n' \
  "$prefill" "$PROMPT" "$decode" "$(field peak_memory_gb)"

for n in $CONC; do
  i=0
  : >"$T/in"
  while [ "$i" -lt "$n" ]; do
    echo "{\"id\": $i, \"prompt\": \"Request $i: write a story about the number $i and the sea.\", \"max_tokens\": $GEN}" >>"$T/in"
    i=$((i + 1))
  done
  cb=$n
  [ "$cb" -lt 8 ] && cb=8
  "$B/cmd/mlxc-generate" --model "$D" --batch --ignore-eos --ignore-chat-template -t "$THREADS" \
    --completion-batch-size "$cb" --prefill-batch-size 8 <"$T/in" >"$T/out" 2>"$T/err"
  finished=$(grep -c '"finish_reason": "length"' "$T/out" || true)
  gen=$(sed -n 's/^Generation: [0-9]* tokens, \([0-9.]*\) tokens-per-sec$/\1/p' "$T/err")
  ptps=$(sed -n 's/^Prompt: [0-9]* tokens, \([0-9.]*\) tokens-per-sec$/\1/p' "$T/err")
  peak=$(sed -n 's/^Peak memory: \([0-9.]*\) GB$/\1/p' "$T/err")
  printf '%2d concurrent: %2d/%d finished, generation %9s tokens/s aggregate, prompt %9s tokens/s, peak memory %s GB\n' \
    "$n" "$finished" "$n" "$gen" "$ptps" "$peak"
  eval "gen_$n=\$gen"
done

# the issue's targets
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { printf "%.2f (target >= %s: %s)\n", r, t, (r >= t) ? "met" : "NOT met" }'; }
if [ -n "${gen_1:-}" ] && [ -n "${gen_8:-}" ]; then
  printf '8 concurrent / 1 concurrent generation: '
  verdict "$(awk -v a="$gen_8" -v b="$gen_1" 'BEGIN { print (b > 0 ? a / b : 0) }')" 2
fi
if [ -n "${gen_32:-}" ] && [ -n "$prefill" ]; then
  printf '32 concurrent generation / prefill:      '
  verdict "$(awk -v a="$gen_32" -v b="$prefill" 'BEGIN { print (b > 0 ? a / b : 0) }')" 0.8
fi

#!/bin/sh
# Peak memory stays flat with a rotating KV cache: generates 500 and 5,000 tokens with --max-kv-size 256
# (and, where head_dim allows a group of 32, with --kv-bits 4 too) on the llama3 and qwen3 fixtures, next
# to a plain cache, and prints peak memory for each run.
# usage: bench/kv_memory.sh [BUILD_DIR]
set -eu
B=${1:-build}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export MLXC_TEST_DATA=${MLXC_TEST_DATA:-$B/tests/data} # the build's: links, tokenizers unpacked
run() { # fixture tokens options...
  fx=$1 n=$2
  shift 2
  out=$("$B/cmd/mlxc-generate" --model "$T/$fx" --ignore-chat-template -p "Once upon a time" -m "$n" --ignore-eos \
        --output-format jsonl "$@" 2>/dev/null | tail -n 1)
  printf '%-8s %-72s %5s tokens  peak %s GB  KV cache %s bytes\n' "$fx" "${*:-plain}" \
    "$(echo "$out" | sed 's/.*"generation_tokens": \([0-9]*\).*/\1/')" \
    "$(echo "$out" | sed 's/.*"peak_memory_gb": \([0-9.]*\).*/\1/')" \
    "$(echo "$out" | sed 's/.*"kv_cache_bytes": \([0-9]*\).*/\1/')"
}
for fx in llama3 qwen3; do
  "$B/tests/mlxc-fixture" "$fx" F32 "$T/$fx"
  for n in 500 5000; do
    run "$fx" "$n"
    run "$fx" "$n" --max-kv-size 256
    # the llama3 fixture's head_dim (16) is below the smallest KV group size (32)
    [ "$fx" = qwen3 ] && run "$fx" "$n" --max-kv-size 256 --kv-bits 4 --kv-group-size 32 --quantized-kv-start 0
  done
done

#!/bin/sh
# Speed on a Llama-3.2-1B-shaped model (hidden 2048, 16 layers, 32 heads, 8 KV heads, MLP 8192, vocab
# 128256, tied): builds it with random bf16 weights, converts it with mlxc-convert to MLX 4-bit and
# 8-bit (group 64), and runs mlxc-bench on each: prefill and decode tokens/s, peak memory, the bytes
# one decoded token reads and the decode bound at the read bandwidth measured in the same run.
# usage: bench/llama1b.sh [BUILD_DIR] [WORK_DIR] [extra mlxc-bench flags, e.g. -p 512 -g 128 -n 3]
set -eu
B=${1:-build}
W=${2:-${TMPDIR:-/tmp}/mlxc-llama1b}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] && shift
mkdir -p "$W"
[ -f "$W/bf16/model.safetensors" ] || "$B/bench/make-random-model" "$W/bf16" BF16
[ -d "$W/q4" ] || "$B/cmd/mlxc-convert" --hf-path "$W/bf16" --mlx-path "$W/q4" -q --q-bits 4 --q-group-size 64
[ -d "$W/q8" ] || "$B/cmd/mlxc-convert" --hf-path "$W/bf16" --mlx-path "$W/q8" -q --q-bits 8 --q-group-size 64
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (the bench shares the machine; compare ratios)"
for m in q4 q8 bf16; do
  echo "== $m: $(du -sh "$W/$m" | cut -f1)"
  "$B/cmd/mlxc-bench" --model "$W/$m" "$@"
done

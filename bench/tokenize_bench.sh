#!/bin/sh
# Tokenizer speed: mlxc against Hugging Face tokenizers (Rust, single-threaded) on the same ~10 MB of
# English text (Debian's /usr/share/common-licenses repeated), for the committed tokenizers (as the
# build unpacks them into BUILD_DIR/tests/data/tok).
#
# usage: bench/tokenize_bench.sh [BUILD_DIR] [NODE_MODULES_DIR] [tokenizer...]
#   NODE_MODULES_DIR holds @anush008/tokenizers (npm install @anush008/tokenizers in a scratch folder);
#   without it only mlxc is timed.
# Prints tokens/s for both and the ratio. Timings exclude loading: mlxc's load time is measured on an
# empty input and subtracted; the HF side times encode() alone. Best of 3 runs each.
set -eu
B=${1:-build}
NM=${2:-}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] && shift
NAMES=${*:-llama3 qwen3}
SRC=$(cd "$(dirname "$0")/.." && pwd)
P="$B/cmd/mlxc-tokenize"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false

# ~10 MB of English text, made the same way every time
: >"$T/text"
while [ "$(wc -c <"$T/text")" -lt 10000000 ]; do
  for f in $(ls /usr/share/common-licenses/ | sort); do cat "/usr/share/common-licenses/$f" >>"$T/text"; done
done
head -c 10000000 "$T/text" >"$T/bench.txt"
echo "input: $(wc -c <"$T/bench.txt") bytes"

now() { date +%s.%N; }
best_time() { # best_time FILE: best of 3 wall times of mlxc-tokenize --count on FILE, count in $T/count
  best=
  for _ in 1 2 3; do
    t0=$(now); "$P" --tokenizer "$dir" --count <"$1" >"$T/count"; t1=$(now)
    best=$(echo "$t0 $t1 ${best:-1e9}" | awk '{d = $2 - $1; print (d < $3 ? d : $3)}')
  done
  echo "$best"
}

for name in $NAMES; do
  dir="$B/tests/data/tok/$name" # the build's test data: the tokenizers unpacked
  : >"$T/empty"
  load=$(best_time "$T/empty")
  total=$(best_time "$T/bench.txt")
  n=$(cat "$T/count")
  secs=$(echo "$total $load" | awk '{print $1 - $2}')
  mlxc_tps=$(echo "$n $secs" | awk '{printf "%.0f", $1 / $2}')
  printf '%-12s mlxc: %9s tokens in %.3f s (load %.3f s excluded): %s tokens/s\n' "$name" "$n" "$secs" "$load" "$mlxc_tps"
  if [ -n "$NM" ]; then
    set -- $(node "$SRC/bench/tokenize_bench.mjs" "$NM" "$dir/tokenizer.json" "$T/bench.txt" 3)
    hf_tps=$(echo "$1 $2" | awk '{printf "%.0f", $1 / $2}')
    [ "$1" = "$n" ] || echo "  warning: HF made $1 tokens, mlxc $n"
    printf '%-12s HF:   %9s tokens in %.3f s: %s tokens/s; mlxc/HF = %s\n' "$name" "$1" "$2" "$hf_tps" \
      "$(echo "$mlxc_tps $hf_tps" | awk '{printf "%.2fx", $1 / $2}')"
  fi
done

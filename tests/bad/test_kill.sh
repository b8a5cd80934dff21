#!/bin/sh
# Nothing lost: writers killed with SIGKILL at random moments leave the old file or the new one, never
# a broken one. mlxc-convert: the output folder is absent or complete (byte-identical to an
# uninterrupted conversion). --save-prompt-cache over an existing cache: the file is the old cache or
# the new one, byte for byte. Temporary names (".NAME.tmp-XXXXXX" beside the target) may remain after a
# kill; they are never the target's name.
# Odd kills land anywhere in the run, even kills once the temporary file exists (while it is written,
# synced or renamed). MLXC_KILL_ITERS=N kills each writer N times (default 10); MLXC_KILL_SEED fixes
# the kill times.
. "$(dirname "$0")/../cli/tap.sh"
. "$(dirname "$0")/lib.sh"
B=${MLXC_BUILD:?}
G=$B/cmd/mlxc-generate
C=$B/cmd/mlxc-convert
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export MLXC_TEST_DATA=${MLXC_TEST_DATA:?}
N=${MLXC_KILL_ITERS:-10}
SEED=${MLXC_KILL_SEED:-$(date +%s)}
echo "# $N kills per writer, MLXC_KILL_SEED=$SEED"
"$B/tests/mlxc-fixture" qwen3 BF16 "$T/m" || { echo "Bail out! fixture"; exit 1; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# kill_at PID MS: SIGKILL after MS milliseconds (at once if the process is gone), then reap it
kill_at() { sleep "$(awk -v m="$2" 'BEGIN { printf "%.3f", m / 1000 }')"; kill -9 "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
# kill_in_write PID DIR PATTERN MS: waits until a temporary file matching PATTERN appears in DIR (the
# writing has begun), then SIGKILL after MS milliseconds
kill_in_write() {
  while kill -0 "$1" 2>/dev/null && ! ls -A "$2" | grep -q -E "$3"; do sleep 0.005; done
  kill_at "$1" "$4"
}
same_tree() { [ -z "$(cd "$1" && find . -type f | sort | while read -r f; do cmp -s "$f" "$2/$f" || echo "$f"; done)" ] &&
              [ "$(cd "$1" && find . | sort)" = "$(cd "$2" && find . | sort)" ]; }

# ---- mlxc-convert (quantizing, so the writing takes a while) ----
# the reference is made at the path the killed runs write to (its README names the path)
t0=$(now_ms)
mkdir -p "$T/k"
"$C" --hf-path "$T/m" --mlx-path "$T/k/out" -q >/dev/null 2>&1 || { echo "Bail out! reference conversion"; exit 1; }
dur=$(($(now_ms) - t0))
mv "$T/k/out" "$T/ref"
echo "# an uninterrupted conversion takes $dur ms"
complete=0 absent=0 broken=0
i=0
while [ $i -lt "$N" ]; do
  i=$((i + 1))
  mkdir -p "$T/k"; rm -rf "$T/k/out"
  "$C" --hf-path "$T/m" --mlx-path "$T/k/out" -q >/dev/null 2>&1 &
  # odd kills: any time in the run; even kills: while the temporary folder is being written
  if [ $((i % 2)) -eq 1 ]; then
    kill_at $! "$(rand "$((SEED + i))" "$((dur * 12 / 10 + 1))")"
  else
    kill_in_write $! "$T/k" '^\.out\.tmp-' "$(rand "$((SEED + i))" "$((dur / 2 + 1))")"
  fi
  if [ ! -e "$T/k/out" ]; then
    absent=$((absent + 1))
  elif same_tree "$T/ref" "$T/k/out"; then
    complete=$((complete + 1))
  else
    broken=$((broken + 1)); echo "# kill $i (seed $SEED): a partial folder: $(ls "$T/k/out" | tr '\n' ' ')"
  fi
  ls -A "$T/k" | grep -v -E '^(out|\.out\.tmp-[A-Za-z0-9]{6})$' | sed 's/^/# unexpected file: /'
  rm -rf "$T/k"
done
echo "# convert: $complete complete, $absent absent"
[ $broken -eq 0 ] && ok "mlxc-convert killed $N times: the folder is absent or complete" || fail "mlxc-convert killed $N times: $broken partial folders"
"$G" --model "$T/ref" -p hi -m 2 --verbose false >/dev/null 2>&1 && ok "the complete folder loads and generates" || fail "the complete folder loads and generates"

# ---- --save-prompt-cache over an existing cache (a long prompt makes a large file) ----
seq 1 300 | tr '\n' ' ' >"$T/prompt"
"$G" --model "$T/m" -p hi -m 2 --verbose false --save-prompt-cache "$T/old.cache" >/dev/null 2>&1 || { echo "Bail out! old cache"; exit 1; }
t0=$(now_ms)
"$G" --model "$T/m" -p - -m 2 --verbose false --save-prompt-cache "$T/new.cache" <"$T/prompt" >/dev/null 2>&1 || { echo "Bail out! new cache"; exit 1; }
dur=$(($(now_ms) - t0))
echo "# an uninterrupted run with its save takes $dur ms ($(size "$T/new.cache") bytes)"
old=0 new=0 broken=0
i=0
while [ $i -lt "$N" ]; do
  i=$((i + 1))
  mkdir -p "$T/k"; cp "$T/old.cache" "$T/k/c.cache"
  "$G" --model "$T/m" -p - -m 2 --verbose false --save-prompt-cache "$T/k/c.cache" <"$T/prompt" >/dev/null 2>&1 &
  if [ $((i % 2)) -eq 1 ]; then
    kill_at $! "$(rand "$((SEED + 1000 + i))" "$((dur * 12 / 10 + 1))")"
  else
    kill_in_write $! "$T/k" '^\.c\.cache\.tmp-' "$(rand "$((SEED + 1000 + i))" 30)"
  fi
  if cmp -s "$T/k/c.cache" "$T/old.cache"; then old=$((old + 1))
  elif cmp -s "$T/k/c.cache" "$T/new.cache"; then new=$((new + 1))
  else broken=$((broken + 1)); echo "# kill $i (seed $SEED): the cache is neither the old nor the new one"; fi
  ls -A "$T/k" | grep -v -E '^(c\.cache|\.c\.cache\.tmp-[A-Za-z0-9]{6})$' | sed 's/^/# unexpected file: /'
  rm -rf "$T/k"
done
echo "# prompt cache: $old old, $new new"
[ $broken -eq 0 ] && ok "--save-prompt-cache killed $N times: the old cache or the new one" || fail "--save-prompt-cache killed $N times: $broken broken files"
finish

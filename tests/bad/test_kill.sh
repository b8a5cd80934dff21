#!/bin/sh
# Nothing lost: writers killed with SIGKILL at random moments leave the old file or the new one, never
# a broken one. mlxc-convert: the output folder is absent or complete (byte-identical to an
# uninterrupted conversion). Over an existing file, byte for byte the old file or the new one:
# mlxc-generate --save-prompt-cache, mlxc-cache-prompt, and mlxc-chat's /save (a session).
# Temporary names (".NAME.tmp-PID-XXXXXX" beside the target) may remain after a kill; they are never
# the target's name, and the next writer of the same target removes those whose process is gone.
# Odd kills land anywhere in the run, even kills once the temporary file exists (while it is written,
# synced or renamed). MLXC_KILL_ITERS=N kills each writer N times (default 10); MLXC_KILL_SEED fixes
# the kill times.
. "$(dirname "$0")/../cli/tap.sh"
. "$(dirname "$0")/lib.sh"
B=${MLXC_BUILD:?}
G=$B/cmd/mlxc-generate
C=$B/cmd/mlxc-convert
CP=$B/cmd/mlxc-cache-prompt
CHAT=$B/cmd/mlxc-chat
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
  ls -A "$T/k" | grep -v -E '^(out|\.out\.tmp-[0-9]+-[A-Za-z0-9]{6})$' | sed 's/^/# unexpected file: /'
  rm -rf "$T/k"
done
echo "# convert: $complete complete, $absent absent"
[ $broken -eq 0 ] && ok "mlxc-convert killed $N times: the folder is absent or complete" || fail "mlxc-convert killed $N times: $broken partial folders"
"$G" --model "$T/ref" -p hi -m 2 --verbose false >/dev/null 2>&1 && ok "the complete folder loads and generates" || fail "the complete folder loads and generates"

# ---- convert again after a kill: the stale temporary folder goes, others stay ----
mkdir -p "$T/k"
"$C" --hf-path "$T/m" --mlx-path "$T/k/out" -q >/dev/null 2>&1 &
pid=$!
kill_in_write $pid "$T/k" '^\.out\.tmp-' 0
stale=$(ls -A "$T/k" | grep -E "^\.out\.tmp-$pid-[A-Za-z0-9]{6}\$")
mkdir "$T/k/.out.tmp-$$-live00" "$T/k/.out.tmp-$pid-sub000" "$T/k/.out.tmp-$pid-xyz" "$T/k/.other.tmp-$pid-abcdef"
mkdir "$T/k/.out.tmp-$pid-sub000/inner"
"$C" --hf-path "$T/m" --mlx-path "$T/k/out" -q >"$T/log" 2>&1
left=$(ls -A "$T/k" | sort | tr '\n' ' ')
# sorted the same way: whether $$ or $pid comes first depends on their digits
want=$(printf '%s\n' ".other.tmp-$pid-abcdef" ".out.tmp-$$-live00" ".out.tmp-$pid-sub000" ".out.tmp-$pid-xyz" out | sort | tr '\n' ' ')
if [ -n "$stale" ] && [ ! -e "$T/k/$stale" ] && same_tree "$T/ref" "$T/k/out" && grep -q "^\[INFO\] Removed 1 temporary folder left by an interrupted conversion to '$T/k/out'$" "$T/log" \
   && [ "$left" = "$want" ]; then
  ok "the next conversion to the same path removes the killed one's temporary folder (and nothing else)"
else
  fail "the next conversion removes the killed one's temporary folder" "stale '$stale', left: $left; $(cat "$T/log")"
fi
rm -rf "$T/k"

# ---- files written over an existing one: the old file or the new one, byte for byte ----
# kill_file NAME FILE SEED_OFFSET OLD NEW COMMAND...: runs COMMAND (it writes $T/k/FILE) N times over a
# copy of OLD, killing it as above; NEW is what an uninterrupted run writes.
kill_file() {
  _wn=$1 _file=$2 _off=$3 _old=$4 _new=$5
  shift 5
  _tmp="^\\.$(printf '%s' "$_file" | sed 's/\./\\./g')\\.tmp-" # its temporary names begin so (a regex)
  # how long an uninterrupted run takes
  mkdir -p "$T/k"; cp "$_old" "$T/k/$_file"
  _t0=$(now_ms)
  "$@" >/dev/null 2>&1 || { fail "$_wn: an uninterrupted run"; rm -rf "$T/k"; return; }
  _dur=$(($(now_ms) - _t0))
  cmp -s "$T/k/$_file" "$_new" || { fail "$_wn: an uninterrupted run writes the new file"; rm -rf "$T/k"; return; }
  rm -rf "$T/k"
  echo "# $_wn: an uninterrupted run takes $_dur ms ($(size "$_new") bytes)"
  _old_n=0 _new_n=0 _bad_n=0 _i=0
  while [ $_i -lt "$N" ]; do
    _i=$((_i + 1))
    mkdir -p "$T/k"; cp "$_old" "$T/k/$_file"
    "$@" >/dev/null 2>&1 &
    if [ $((_i % 2)) -eq 1 ]; then
      kill_at $! "$(rand "$((SEED + _off + _i))" "$((_dur * 12 / 10 + 1))")"
    else
      kill_in_write $! "$T/k" "$_tmp" "$(rand "$((SEED + _off + _i))" 30)"
    fi
    if cmp -s "$T/k/$_file" "$_old"; then _old_n=$((_old_n + 1))
    elif cmp -s "$T/k/$_file" "$_new"; then _new_n=$((_new_n + 1))
    else _bad_n=$((_bad_n + 1)); echo "# $_wn kill $_i (seed $SEED): the file is neither the old nor the new one"; fi
    ls -A "$T/k" | grep -v -F -x "$_file" | grep -v -E "$_tmp[0-9]+-[A-Za-z0-9]{6}\$" | sed 's/^/# unexpected file: /'
    rm -rf "$T/k"
  done
  echo "# $_wn: $_old_n old, $_new_n new"
  [ $_bad_n -eq 0 ] && ok "$_wn killed $N times: the old file or the new one" || fail "$_wn killed $N times: $_bad_n broken files"
  # the next run removes temporaries of the same file whose process is gone (a real one is there
  # for a few milliseconds only: these are made), and nothing else
  true &
  _dead=$!
  wait $_dead
  mkdir -p "$T/k"; cp "$_old" "$T/k/$_file"
  for _x in ".$_file.tmp-$_dead-aB3xYz" ".$_file.tmp-$$-live00" ".$_file.tmp-$_dead-toolong" ".x$_file.tmp-$_dead-aB3xYz"; do
    echo partial >"$T/k/$_x"
  done
  "$@" >/dev/null 2>&1
  _left=$(ls -A "$T/k" | sort | tr '\n' ' ')
  if [ "$_left" = "$(printf '%s\n' ".$_file.tmp-$$-live00" ".$_file.tmp-$_dead-toolong" ".x$_file.tmp-$_dead-aB3xYz" "$_file" | sort | tr '\n' ' ')" ] \
     && cmp -s "$T/k/$_file" "$_new"; then
    ok "$_wn: the next run removes the temporary file of a writer that is gone"
  else
    fail "$_wn: the next run removes the temporary file of a writer that is gone" "left: $_left"
  fi
  rm -rf "$T/k"
}

# --save-prompt-cache (a long prompt makes a large file)
seq 1 300 | tr '\n' ' ' >"$T/prompt"
"$G" --model "$T/m" -p hi -m 2 --verbose false --save-prompt-cache "$T/old.cache" >/dev/null 2>&1 || { echo "Bail out! old cache"; exit 1; }
"$G" --model "$T/m" -p - -m 2 --verbose false --save-prompt-cache "$T/new.cache" <"$T/prompt" >/dev/null 2>&1 || { echo "Bail out! new cache"; exit 1; }
kill_file "--save-prompt-cache" c.cache 1000 "$T/old.cache" "$T/new.cache" \
  sh -c 'exec "$1" --model "$2" -p - -m 2 --verbose false --save-prompt-cache "$3" <"$4"' sh "$G" "$T/m" "$T/k/c.cache" "$T/prompt"

# mlxc-cache-prompt
"$CP" --model "$T/m" --prompt hi --prompt-cache-file "$T/old.safetensors" >/dev/null 2>&1 || { echo "Bail out! old cache-prompt"; exit 1; }
"$CP" --model "$T/m" --prompt - --prompt-cache-file "$T/new.safetensors" <"$T/prompt" >/dev/null 2>&1 || { echo "Bail out! new cache-prompt"; exit 1; }
kill_file "mlxc-cache-prompt" p.safetensors 2000 "$T/old.safetensors" "$T/new.safetensors" \
  sh -c 'exec "$1" --model "$2" --prompt - --prompt-cache-file "$3" <"$4"' sh "$CP" "$T/m" "$T/k/p.safetensors" "$T/prompt"

# mlxc-chat's /save over an earlier session (the turn is the long prompt, the session file is large)
printf 'hi\n/save %s\n' "$T/sold" | "$CHAT" --model "$T/m" -m 2 >/dev/null 2>&1 || { echo "Bail out! old session"; exit 1; }
{ cat "$T/prompt"; echo; echo "/save $T/snew"; } >"$T/chat.in"
"$CHAT" --model "$T/m" -m 2 <"$T/chat.in" >/dev/null 2>&1 || { echo "Bail out! new session"; exit 1; }
{ cat "$T/prompt"; echo; echo "/save $T/k/s"; } >"$T/chat.k"
kill_file "mlxc-chat /save" s.safetensors 3000 "$T/sold.safetensors" "$T/snew.safetensors" \
  sh -c 'exec "$1" --model "$2" -m 2 <"$3"' sh "$CHAT" "$T/m" "$T/chat.k"
finish

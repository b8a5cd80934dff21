#!/bin/sh
# Runs libFuzzer targets for a given time each and reports their executions and findings.
# usage: tests/fuzz/run.sh [-j JOBS] BUILD_DIR SECONDS [TARGET...]
#   BUILD_DIR  a build configured with -Dfuzz=true (see tests/fuzz/README.md)
#   SECONDS    time per target; TARGETs default to all of them (names without the fuzz_ prefix)
#   -j JOBS    targets run at once (default 1)
# Each target's growing corpus, log and findings stay in BUILD_DIR/fuzz/TARGET/ (the committed seeds in
# tests/fuzz/corpus/TARGET/ are read, never written). Exit status 1 when any target found a crash, a
# leak, a hang (timeout) or a sanitizer report; the findings are listed with the command that replays them.
set -u
jobs=1
if [ "${1-}" = "-j" ]; then jobs=$2; shift 2; fi
[ $# -ge 2 ] || { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
B=$1 secs=$2
shift 2
src=$(cd "$(dirname "$0")" && pwd)
if [ $# -eq 0 ]; then
  for f in "$B"/tests/fuzz/fuzz_*; do
    [ -f "$f" ] && [ -x "$f" ] && set -- "$@" "${f##*/fuzz_}"
  done
fi
[ $# -gt 0 ] || { echo "no fuzz targets in '$B/tests/fuzz': configure with -Dfuzz=true (tests/fuzz/README.md)" >&2; exit 2; }
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

run_one() {
  t=$1
  exe="$B/tests/fuzz/fuzz_$t"
  w="$B/fuzz/$t"
  mkdir -p "$w/corpus" "$w/findings"
  [ -x "$exe" ] || { echo "$t: no executable '$exe'" >"$w/summary"; return; }
  seeds="$src/corpus/$t"
  [ -d "$seeds" ] || seeds=""
  # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: 2 GiB is an out-of-memory finding
  "$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$w/findings/" "$w/corpus" $seeds >"$w/log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$w/log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$w/log" | tail -n 1 | sed 's/cov: //')
  total=$(cat "$w/total_execs" 2>/dev/null || echo 0)
  total=$((total + ${execs:-0}))
  echo "$total" >"$w/total_execs"
  nfind=$(ls "$w/findings" | wc -l)
  echo "$t: ${execs:-0} executions in ${secs} s (all runs: $total), coverage ${cov:-?} edges, exit $rc, findings $nfind" >"$w/summary"
}

running=0
for t in "$@"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait; running=0; fi
done
wait

status=0
for t in "$@"; do
  w="$B/fuzz/$t"
  cat "$w/summary"
  for f in "$w"/findings/*; do
    [ -e "$f" ] || continue
    status=1
    echo "  finding: $f   (replay: $B/tests/fuzz/fuzz_$t $f)"
  done
  if grep -q -E '^==[0-9]+==ERROR|runtime error:|^SUMMARY:|failed to allocate' "$w/log"; then
    status=1
    grep -m 3 -E '^==[0-9]+==ERROR|runtime error:|^SUMMARY:|failed to allocate' "$w/log" | sed 's/^/  /'
  fi
done
exit $status

#!/bin/bash
# Runs packed fuzzers on another machine, several processes per target at once, and packs the results.
# usage: tests/fuzz/pack/run_pack.sh PACK SECONDS OUT TARGET:PROCESSES...
#   PACK      a folder with p.tar.xz as make_pack.sh writes it (p/bin/fuzz_all, p/lib)
#   SECONDS   time each process runs (-max_total_time)
#   OUT       where results.tar.gz goes: out/TARGET/{log.N, findings/, corpus/} and out/summary
# A corpus grown by an earlier run on the same machine (TMPDIR/mlxc-fuzz-pack/out/TARGET/corpus) is
# gone on from.
# Run from the repository root (the committed seeds of tests/fuzz/corpus and tests/data are read).
# The processes of one target share one growing corpus folder (libFuzzer reloads what the others add),
# as `-jobs` does; each prints its own final stats, which the summary adds up.
set -u
[ $# -ge 4 ] || { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
P=$(cd "$1" && pwd) secs=$2 OUTDIR=$3
shift 3
R=$(pwd)
W=${TMPDIR:-/tmp}/mlxc-fuzz-pack
rm -rf "$W/p" "$W"/out/*/log.* "$W/out/summary"
mkdir -p "$W"
tar xJf "$P/p.tar.xz" -C "$W" || exit 1
export LD_LIBRARY_PATH=$W/p/lib
export MLXC_TEST_DATA=$R/tests/data
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
echo "# $(nproc) cores, $(ldd --version | head -n 1), $(date -u +%FT%TZ)"
ldconfig -p | grep -E 'libpcre2-8|libutf8proc|libcjson' | sed 's/^/# has /'
for spec in "$@"; do
  t=${spec%%:*} n=${spec##*:}
  o=$W/out/$t
  mkdir -p "$o/corpus" "$o/findings"
  i=0
  while [ $i -lt "$n" ]; do
    i=$((i + 1))
    MLXC_FUZZ_TARGET=$t "$W/p/bin/fuzz_all" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$o/findings/" "$o/corpus" "$R/tests/fuzz/corpus/$t" >"$o/log.$i" 2>&1 &
  done
done
wait
{
  for spec in "$@"; do
    t=${spec%%:*} n=${spec##*:}
    o=$W/out/$t
    execs=0 cov=0
    for l in "$o"/log.*; do
      e=$(sed -n 's/^stat::number_of_executed_units: *//p' "$l" | tail -n 1)
      c=$(grep -o 'cov: [0-9]*' "$l" | tail -n 1 | sed 's/cov: //')
      execs=$((execs + ${e:-0}))
      [ "${c:-0}" -gt "$cov" ] && cov=$c
    done
    reports=$(cat "$o"/log.* | grep -c -E "^==[0-9]+==ERROR|runtime error:|^SUMMARY:|deadly signal|ERROR: libFuzzer")
    echo "$t: $n processes x $secs s: $execs executions, coverage $cov edges, corpus $(ls "$o/corpus" | wc -l) files, findings $(ls "$o/findings" | wc -l), sanitizer lines $reports"
  done
} | tee "$W/out/summary"
tar czf "$OUTDIR/results.tar.gz" -C "$W" out

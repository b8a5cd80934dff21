#!/bin/bash
# Runs packed fuzzers on another machine, several processes per target at once, and packs the results.
# usage: tests/fuzz/pack/run_pack.sh PACK SECONDS OUT TARGET:PROCESSES...
#   PACK      a folder with p.tar.xz as make_pack.sh writes it (p/bin/fuzz_all, p/lib)
#   SECONDS   time each process runs (-max_total_time)
#   OUT       where results.tar.gz goes: out/TARGET/{log.N, time.N, findings/, corpus/} and out/summary
# Environment: MLXC_FUZZ_CORPORA=FILE, a results.tar.gz of an earlier round (on another machine): its
#   corpora are gone on from; MLXC_FUZZ_MERGE=1 minimizes each grown corpus (libFuzzer -merge=1, for
#   at most MLXC_FUZZ_MERGE_S seconds, default 120, else it stays as it grew) before packing. A corpus
#   grown by an earlier run on the same machine (TMPDIR/mlxc-fuzz-pack/out/TARGET/corpus) is gone on
#   from too.
# Run from the repository root (the committed seeds of tests/fuzz/corpus and tests/data are read; the
# compressed tokenizers of tests/data are unpacked into TMPDIR/mlxc-fuzz-pack/data by
# tests/unpack_data.sh, which needs gzip).
# The processes of one target share one growing corpus folder (libFuzzer reloads what the others add),
# as `-jobs` does; each prints its own final stats, which the summary adds up (fuzzing time from
# libFuzzer's "Done N runs in S second(s)", absent when a process stopped at a finding), and time.N holds
# its running time in seconds, loading included.
set -u
[ $# -ge 4 ] || { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
P=$(cd "$1" && pwd) secs=$2 OUTDIR=$3
shift 3
R=$(pwd)
W=${TMPDIR:-/tmp}/mlxc-fuzz-pack
rm -rf "$W/p" "$W"/out/*/log.* "$W"/out/*/time.* "$W"/out/*/merge.log "$W/out/summary"
mkdir -p "$W"
tar xJf "$P/p.tar.xz" -C "$W" || exit 1
if [ -n "${MLXC_FUZZ_CORPORA:-}" ]; then
  tar xzf "$MLXC_FUZZ_CORPORA" -C "$W" --wildcards 'out/*/corpus' || exit 1
fi
"$R/tests/unpack_data.sh" "$R/tests/data" "$W/data" || exit 1
export LD_LIBRARY_PATH=$W/p/lib
export MLXC_TEST_DATA=$W/data
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
    (
      t0=$(date +%s)
      MLXC_FUZZ_TARGET=$t "$W/p/bin/fuzz_all" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$o/findings/" "$o/corpus" "$R/tests/fuzz/corpus/$t" >"$o/log.$i" 2>&1
      echo $(($(date +%s) - t0)) >"$o/time.$i"
    ) &
  done
done
wait
if [ "${MLXC_FUZZ_MERGE:-0}" = 1 ]; then
  for spec in "$@"; do
    t=${spec%%:*}
    o=$W/out/$t
    (
      rm -rf "$o/corpus.min" && mkdir "$o/corpus.min" &&
        MLXC_FUZZ_TARGET=$t timeout "${MLXC_FUZZ_MERGE_S:-120}" "$W/p/bin/fuzz_all" -merge=1 -timeout=10 \
          -rss_limit_mb=2048 -artifact_prefix="$o/findings/merge-" "$o/corpus.min" "$o/corpus" >"$o/merge.log" 2>&1 &&
        rm -rf "$o/corpus" && mv "$o/corpus.min" "$o/corpus"
    ) &
  done
  wait
fi
{
  for spec in "$@"; do
    t=${spec%%:*} n=${spec##*:}
    o=$W/out/$t
    execs=0 cov=0 fz=0 core=0
    for l in "$o"/log.*; do
      e=$(sed -n 's/^stat::number_of_executed_units: *//p' "$l" | tail -n 1)
      c=$(grep -o 'cov: [0-9]*' "$l" | tail -n 1 | sed 's/cov: //')
      d=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$l" | tail -n 1) # fuzzing time
      execs=$((execs + ${e:-0}))
      [ "${c:-0}" -gt "$cov" ] && cov=$c
      fz=$((fz + ${d:-0}))
      core=$((core + $(cat "${l%/log.*}/time.${l##*.}" 2>/dev/null || echo 0)))
    done
    reports=$(cat "$o"/log.* | grep -c -E "^==[0-9]+==ERROR|runtime error:|^SUMMARY:|deadly signal|ERROR: libFuzzer|failed to allocate")
    echo "$t: $n processes x $secs s: $execs executions in $fz core-seconds of fuzzing ($core with loading)," \
      "coverage $cov edges," \
      "corpus $(ls "$o/corpus" | wc -l) files ($(du -sk "$o/corpus" | cut -f1) KiB)," \
      "findings $(ls "$o/findings" | wc -l), sanitizer lines $reports"
  done
} | tee "$W/out/summary"
tar czf "$OUTDIR/results.tar.gz" -C "$W" out

#!/bin/sh
# Every program: --help lists each flag with its default, --version works, bad flags exit 2 with a usage
# line (as argparse does), unique prefixes of long flags are accepted.
. "$(dirname "$0")/tap.sh"
B=${MLXC_BUILD:?}/cmd
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

for p in $("$B/gen_shell" list | sed 's/^mlxc-//'); do
  exe="$B/mlxc-$p"
  "$exe" --help >"$T/help" 2>&1; rc=$?
  if [ $rc -eq 0 ] && grep -q "^usage: mlxc-$p" "$T/help"; then ok "$p --help"; else fail "$p --help" "$(cat "$T/help")"; fi
  "$exe" --version >"$T/ver" 2>&1
  if grep -q "^mlxc-$p [0-9]" "$T/ver"; then ok "$p --version"; else fail "$p --version" "$(cat "$T/ver")"; fi
  "$exe" --no-such-flag >"$T/out" 2>"$T/err"; rc=$?
  if [ $rc -eq 2 ] && grep -q "^usage: mlxc-$p" "$T/err" && grep -q "error: unrecognized arguments: --no-such-flag" "$T/err"; then
    ok "$p rejects an unknown flag with exit 2"
  else
    fail "$p rejects an unknown flag with exit 2" "rc=$rc $(cat "$T/err")"
  fi
  "$exe" stray >"$T/out" 2>"$T/err"; rc=$?
  if [ $rc -eq 2 ] && grep -q "unrecognized arguments: stray" "$T/err"; then ok "$p rejects a positional argument"; else fail "$p rejects a positional argument" "rc=$rc"; fi
  # every option line that takes a value shows its default
  if grep -E '^  (-., )?--' "$T/help" | grep -v -e '--help' -e '--version' | grep -v 'default:' \
       | grep -v -E -- '--(ignore-chat-template|ignore-eos|quantize|dequantize|count|json|jsonl|decode|no-special|render|plain|trust-remote-code)' \
       >"$T/nodef"; then
    fail "$p --help shows every default" "$(cat "$T/nodef")"
  else
    ok "$p --help shows every default"
  fi
done

"$B/mlxc-generate" --max-tokens abc >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 2 ] && grep -q "argument --max-tokens: invalid int value: 'abc'" "$T/err"; then ok "malformed int exits 2"; else fail "malformed int exits 2" "rc=$rc $(cat "$T/err")"; fi
"$B/mlxc-generate" --temp >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 2 ] && grep -q "expected one argument" "$T/err"; then ok "missing value exits 2"; else fail "missing value exits 2" "rc=$rc $(cat "$T/err")"; fi
"$B/mlxc-generate" --max-tok 5 --help >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 0 ]; then ok "unique prefix of a long flag is accepted"; else fail "unique prefix of a long flag is accepted" "$(cat "$T/err")"; fi
grep -q -- "--max-tokens N" "$T/out" && grep -q "(default: 100)" "$T/out" && ok "generate --max-tokens defaults to 100" || fail "generate --max-tokens defaults to 100"
"$B/mlxc-chat" --help | grep -- "--max-tokens" | grep -q "default: 256" && ok "chat --max-tokens defaults to 256" || fail "chat --max-tokens defaults to 256"
finish

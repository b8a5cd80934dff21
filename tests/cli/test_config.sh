#!/bin/sh
# The defaults file and the terminal conventions as the programs show them: a model named in the file is
# the one used and a flag overrides it; a bad file is one error line naming file and line, status 2, yet
# --help and --version still work; MLXC_NO_CONFIG; --color takes auto|always|never in every program.
. "$(dirname "$0")/tap.sh"
B=${MLXC_BUILD:?}/cmd
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
unset MLXC_NO_CONFIG
export MLXC_CONFIG="$T/config"

printf '# mine\n[generate]\nmodel = %s/from-config\n' "$T" >"$T/config"
"$B/mlxc-generate" --prompt hi >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 1 ] && grep -q "model '$T/from-config' not found" "$T/err"; then ok "the model comes from the defaults file"; else fail "the model comes from the defaults file" "rc=$rc $(cat "$T/err")"; fi
"$B/mlxc-generate" --prompt hi --model "$T/from-argv" >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 1 ] && grep -q "model '$T/from-argv' not found" "$T/err"; then ok "a flag overrides the defaults file"; else fail "a flag overrides the defaults file" "rc=$rc $(cat "$T/err")"; fi
MLXC_NO_CONFIG=1 "$B/mlxc-generate" --prompt hi >"$T/out" 2>"$T/err"; rc=$?
if ! grep -q "from-config" "$T/err"; then ok "MLXC_NO_CONFIG=1 ignores the file"; else fail "MLXC_NO_CONFIG=1 ignores the file" "rc=$rc $(cat "$T/err")"; fi

printf 'temp = 0.5\n\n[chat]\ntopp = 0.9\n' >"$T/config"
for p in generate chat convert; do
  "$B/mlxc-$p" >"$T/out" 2>"$T/err"; rc=$?
  if [ $rc -eq 2 ] && [ ! -s "$T/out" ] && [ "$(cat "$T/err")" = "mlxc-$p: error: $T/config:4: unknown key 'topp' for mlxc-chat" ]; then
    ok "$p: a bad defaults file is one error naming file and line, status 2"
  else
    fail "$p: a bad defaults file is one error naming file and line, status 2" "rc=$rc $(cat "$T/err")"
  fi
done
"$B/mlxc-generate" --help >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 0 ] && grep -q "^usage: mlxc-generate" "$T/out" && grep -q "topp" "$T/err"; then ok "--help works with a bad defaults file, and tells about it"; else fail "--help works with a bad defaults file, and tells about it" "rc=$rc"; fi
"$B/mlxc-generate" --version >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 0 ] && grep -q "^mlxc-generate [0-9]" "$T/out"; then ok "--version works with a bad defaults file"; else fail "--version works with a bad defaults file" "rc=$rc"; fi
MLXC_CONFIG="$T/missing" "$B/mlxc-generate" >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 2 ] && grep -q "cannot open defaults file '$T/missing'" "$T/err"; then ok "MLXC_CONFIG naming a missing file is an error"; else fail "MLXC_CONFIG naming a missing file is an error" "rc=$rc $(cat "$T/err")"; fi

# --color in every program
export MLXC_NO_CONFIG=1
for p in $("$B/gen_shell" list); do
  bad=""
  for w in auto always never; do "$B/$p" --color=$w --version >/dev/null 2>&1 || bad="$bad $w"; done
  "$B/$p" --color=sometimes --version >"$T/out" 2>"$T/err"; rc=$?
  if [ -z "$bad" ] && [ $rc -eq 2 ] && grep -q "argument --color: invalid choice: 'sometimes'" "$T/err"; then
    ok "$p --color takes auto, always, never and nothing else"
  else
    fail "$p --color takes auto, always, never and nothing else" "bad:$bad rc=$rc $(cat "$T/err")"
  fi
done
finish

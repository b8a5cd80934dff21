# Helpers for the hostile-input tests (sourced after tests/cli/tap.sh).

# A sanitizer report, a crash or an abort in a stderr file: never acceptable, whatever the exit status.
sanitizer_report() { grep -q -E '^==[0-9]+==|runtime error:|^SUMMARY: |Assertion .* failed' "$1"; }

# expect NAME STATUS PATTERN COMMAND...: passes when COMMAND exits with STATUS and writes exactly one
# line to stderr, matching the extended regex PATTERN (stdout is ignored).
expect() {
  _name=$1 _want=$2 _pat=$3
  shift 3
  "$@" >"$T/out" 2>"$T/err"
  _rc=$?
  if [ "$_rc" -eq "$_want" ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q -E -- "$_pat" "$T/err" && ! sanitizer_report "$T/err"; then
    ok "$_name"
  else
    fail "$_name" "exit $_rc (want $_want), stderr: $(head -c 2000 "$T/err")"
  fi
}

# expect_warning NAME STATUS PATTERN COMMAND...: COMMAND exits with STATUS and one stderr line (of any
# number) matches PATTERN; no sanitizer report.
expect_warning() {
  _name=$1 _want=$2 _pat=$3
  shift 3
  "$@" >"$T/out" 2>"$T/err"
  _rc=$?
  if [ "$_rc" -eq "$_want" ] && grep -q -E -- "$_pat" "$T/err" && ! sanitizer_report "$T/err"; then
    ok "$_name"
  else
    fail "$_name" "exit $_rc (want $_want), stderr: $(head -c 2000 "$T/err")"
  fi
}

# variant NAME: a fresh copy of the fixture model $T/m as $T/NAME
variant() { rm -rf "$T/$1"; cp -r "$T/m" "$T/$1"; }

# size FILE
size() { wc -c <"$1" | tr -d ' '; }

# poke FILE OFFSET BYTE: writes one byte (decimal value) at OFFSET, in place
poke() { printf "\\$(printf '%03o' "$3")" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null; }

# peek FILE OFFSET: the decimal value of the byte at OFFSET
peek() { od -An -tu1 -j "$2" -N 1 "$1" | tr -d ' '; }

# header_len FILE: the safetensors header length (the first 8 bytes, little-endian; small files only)
header_len() { od -An -tu4 -N 4 "$1" | tr -d ' '; }

# tensor_begin FILE NAME: the absolute offset of a tensor's data, from its data_offsets in the header
tensor_begin() {
  _h=$(header_len "$1")
  _b=$(dd if="$1" bs=1 skip=8 count="$_h" 2>/dev/null | tr '}' '\n' | grep -F "\"$2\"" |
       sed 's/.*"data_offsets":\[\([0-9]*\),.*/\1/')
  echo $((8 + _h + _b))
}

# Random numbers that repeat from run to run: rand SEED MAX prints an integer in [0, MAX).
rand() { awk -v s="$1" -v m="$2" 'BEGIN { srand(s); print int(rand() * m) }'; }

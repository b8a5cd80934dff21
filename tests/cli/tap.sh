# Minimal TAP helpers for the shell tests (sourced). ok/fail print a TAP line; finish prints the plan.
_n=0
_failed=0
ok() { _n=$((_n + 1)); echo "ok $_n - $1"; }
fail() { _n=$((_n + 1)); _failed=$((_failed + 1)); echo "not ok $_n - $1"; [ -n "${2-}" ] && printf '%s\n' "$2" | sed 's/^/# /'; }
# check NAME COMMAND...: passes when the command exits 0
check() { _name=$1; shift; if "$@" >/dev/null 2>&1; then ok "$_name"; else fail "$_name"; fi; }
finish() { echo "1..$_n"; [ "$_failed" -eq 0 ]; }

#!/bin/sh
# mlxc-tokenize end to end on a committed tokenizer (Mistral's vocabulary, tests/data/tok/llama2; the expected
# ids are HF tokenizers' own, see tests/data/tok/README.md): output
# formats, stdin, decode, and the errors (exit 1 with one "mlxc-tokenize: error:" line; usage errors 2).
. "$MLXC_SOURCE/tests/cli/tap.sh"
P=${MLXC_BUILD:?}/cmd/mlxc-tokenize
TOK=${MLXC_TEST_DATA:?}/tok/llama2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# expect NAME WANT COMMAND...: stdout must equal WANT and the exit status 0
expect() {
  _name=$1 _want=$2; shift 2
  _got=$("$@" 2>"$T/err"); _rc=$?
  if [ $_rc -eq 0 ] && [ "$_got" = "$_want" ]; then ok "$_name"; else fail "$_name" "rc=$_rc got: $_got want: $_want $(cat "$T/err")"; fi
}
# expect_fail NAME RC PATTERN COMMAND...: exit status RC and stderr matching PATTERN
expect_fail() {
  _name=$1 _rc_want=$2 _pat=$3; shift 3
  "$@" >"$T/out" 2>"$T/err"; _rc=$?
  if [ $_rc -eq "$_rc_want" ] && grep -q -- "$_pat" "$T/err" && [ ! -s "$T/out" ]; then ok "$_name"; else fail "$_name" "rc=$_rc $(cat "$T/err")"; fi
}

expect "ids, space separated, with BOS" "1 22557 1526" "$P" --tokenizer "$TOK" --text "Hello world"
expect "--model works as --tokenizer" "1 22557 1526" "$P" --model "$TOK" --text "Hello world"
expect "--no-special drops BOS" "22557 1526" "$P" --tokenizer "$TOK" --text "Hello world" --no-special
expect "--count" "3" "$P" --tokenizer "$TOK" --text "Hello world" --count
expect "--json" '{"ids":[1,22557,1526],"tokens":["<s>","▁Hello","▁world"]}' "$P" --tokenizer "$TOK" --text "Hello world" --json
printf 'Hello world' >"$T/in"
expect "text from stdin" "1 22557 1526" sh -c '"$0" --tokenizer "$1" <"$2"' "$P" "$TOK" "$T/in"
printf 'Hello world\n' >"$T/in2"
expect "stdin keeps its newline" "1 22557 1526 13" sh -c '"$0" --tokenizer "$1" <"$2"' "$P" "$TOK" "$T/in2"
expect "--decode" "<s> Hello world" sh -c 'echo "1 22557 1526" | "$0" --tokenizer "$1" --decode' "$P" "$TOK"
expect "--decode with commas" "<s> Hello world" sh -c 'echo "1,22557, 1526" | "$0" --tokenizer "$1" --decode' "$P" "$TOK"
expect "--decode --no-special skips special tokens" "Hello world" sh -c 'echo "1 22557 1526" | "$0" --tokenizer "$1" --decode --no-special' "$P" "$TOK"
printf '"Hello world"\n\n"<s>x"\n"tab\\there"\n' >"$T/jl"
expect "--jsonl" "$(printf '[1,22557,1526]\n[1,1,1318]\n[1,7683,12,7750]')" sh -c '"$0" --tokenizer "$1" --jsonl <"$2"' "$P" "$TOK" "$T/jl"

expect_fail "missing folder exits 1 with the path" 1 "^mlxc-tokenize: error: .*tokenizer.json" "$P" --tokenizer "$T/none" --text x
mkdir -p "$T/broken" && printf '{"model": ' >"$T/broken/tokenizer.json"
expect_fail "broken tokenizer.json exits 1" 1 "^mlxc-tokenize: error: .*bad JSON" "$P" --tokenizer "$T/broken" --text x
expect_fail "no --model or --tokenizer exits 2" 2 "required" "$P" --text x
printf 'a\377b' >"$T/bad"
expect_fail "invalid UTF-8 exits 1" 1 "^mlxc-tokenize: error: input is not valid UTF-8 at byte 1$" sh -c '"$0" --tokenizer "$1" <"$2"' "$P" "$TOK" "$T/bad"
expect_fail "a bad id in --decode exits 1" 1 "bad token id 'x7'" sh -c 'echo "1 x7" | "$0" --tokenizer "$1" --decode' "$P" "$TOK"
expect_fail "--decode with --count exits 2" 2 "not allowed" "$P" --tokenizer "$TOK" --decode --count --text 1
printf '"ok"\n42\n' >"$T/jl2"
expect_fail "--jsonl line that is not a string exits 1" 1 "line 2: not a JSON string" sh -c '"$0" --tokenizer "$1" --jsonl <"$2"' "$P" "$TOK" "$T/jl2"
# --chat: the Qwen3 chat template over a request with tools, byte for byte as jinja2 renders it in
# transformers' environment (tests/gen/make_cli_chat_case.py)
Q=$MLXC_TEST_DATA/tok/qwen3
"$P" --tokenizer "$Q" --chat "$MLXC_TEST_DATA/cli/chat_request.json" --render >"$T/render" 2>"$T/rerr"
if cmp -s "$T/render" "$MLXC_TEST_DATA/cli/chat_request.expected"; then ok "--chat --render equals jinja2"; else fail "--chat --render equals jinja2" "$(cat "$T/rerr")"; fi
"$P" --tokenizer "$Q" --chat "$MLXC_TEST_DATA/cli/chat_request.json" >"$T/ids"
"$P" --tokenizer "$Q" --no-special <"$MLXC_TEST_DATA/cli/chat_request.expected" >"$T/ids2"
if cmp -s "$T/ids" "$T/ids2" && [ -s "$T/ids" ]; then ok "--chat ids are the rendered text's ids"; else fail "--chat ids are the rendered text's ids"; fi
expect_fail "--render without --chat exits 2" 2 "only with --chat" "$P" --tokenizer "$Q" --render --text x
echo '{"tools": []}' >"$T/noreq"
expect_fail "a request without messages exits 1" 1 'has no "messages"' "$P" --tokenizer "$Q" --chat "$T/noreq"
n=$("$P" --tokenizer "$T/none" --text x 2>&1 | wc -l)
if [ "$n" -eq 1 ]; then ok "an error is one line"; else fail "an error is one line" "$n lines"; fi
finish

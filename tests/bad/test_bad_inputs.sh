#!/bin/sh
# The bad-input corpus: broken model folders, tokenizers, prompts, prompt caches, output folders, a full
# disk and signals, driven through the real programs. Each case names the exit status and the one
# error line (or warning) it must give; none may crash or leave a sanitizer report, and a failed write
# leaves no file behind (the final one or a temporary one).
. "$(dirname "$0")/../cli/tap.sh"
. "$(dirname "$0")/lib.sh"
B=${MLXC_BUILD:?}
G=$B/cmd/mlxc-generate
C=$B/cmd/mlxc-convert
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export MLXC_TEST_DATA=${MLXC_TEST_DATA:?}
"$B/tests/mlxc-fixture" qwen3 BF16 "$T/m" || { echo "Bail out! fixture"; exit 1; }
"$B/tests/mlxc-fixture" llama3 BF16 "$T/l3" || { echo "Bail out! fixture"; exit 1; }
ST=model.safetensors
gen() { "$G" --verbose false -m 2 -p hi "$@"; }

# ---- model folders ----
variant trunc; head -c $(($(size "$T/m/$ST") / 2)) "$T/m/$ST" >"$T/trunc/$ST"
expect "safetensors truncated in the data" 1 "^mlxc-generate: error: loading model '.*/trunc': '.*/model.safetensors': tensor '.*': 'data_offsets' \[[0-9]+, [0-9]+\] lie outside the [0-9]+-byte data section$" gen --model "$T/trunc"
variant trunch; head -c 100 "$T/m/$ST" >"$T/trunch/$ST"
expect "safetensors truncated in the header" 1 "'.*/model.safetensors': header length [0-9]+ runs past the end of the file \(100 bytes\)$" gen --model "$T/trunch"
variant empty; : >"$T/empty/$ST"
expect "empty safetensors" 1 "model.safetensors': .*too short" gen --model "$T/empty"
variant flip; poke "$T/flip/$ST" 8 65
expect "bit-flipped header start" 1 "'.*/model.safetensors': header is not valid JSON" gen --model "$T/flip"
variant flen; poke "$T/flen/$ST" 5 1
expect "bit-flipped header length" 1 "model.safetensors': header length [0-9]+ (exceeds|runs past)" gen --model "$T/flen"
# 40 random bit flips inside the header, one at a time: a clean error or a model that still loads
h=$(header_len "$T/m/$ST"); bad=0
variant flips
for i in $(seq 1 40); do
  off=$((8 + $(rand "$i" "$h"))); bit=$(( 1 << $(rand "$((i + 1000))" 8) ))
  cp "$T/m/$ST" "$T/flips/$ST"
  poke "$T/flips/$ST" "$off" $(( $(peek "$T/m/$ST" "$off") ^ bit ))
  gen --model "$T/flips" >/dev/null 2>"$T/err"; rc=$?
  if [ $rc -gt 1 ] || sanitizer_report "$T/err" || { [ $rc -eq 1 ] && [ "$(grep -c 'error: ' "$T/err")" -ne 1 ]; }; then
    bad=$((bad + 1)); echo "# flip at byte $off bit $bit: exit $rc: $(cat "$T/err")"
  fi
done
[ $bad -eq 0 ] && ok "40 single bit flips in the header: each a clean error or a working model" || fail "40 single bit flips in the header"
variant dims; sed 's/"hidden_size": 64/"hidden_size": 128/' "$T/m/config.json" >"$T/dims/config.json"
expect "config dimensions disagree with the weights" 1 "tensor 'model.embed_tokens.weight': expected shape \(151936, 128\), got \(151936, 64\)$" gen --model "$T/dims"
variant huge; sed 's/"hidden_size": 64/"hidden_size": 131072/; s/"num_hidden_layers": 2/"num_hidden_layers": 1024/; s/"intermediate_size": 128/"intermediate_size": 1048576/' "$T/m/config.json" >"$T/huge/config.json"
expect "config asking for ~10^12 parameters" 1 "expected shape \(151936, 131072\), got \(151936, 64\)$" gen --model "$T/huge"
variant caps; sed 's/"vocab_size": 151936/"vocab_size": 1000000000000/' "$T/m/config.json" >"$T/caps/config.json"
expect "config dimension over its cap" 1 "'vocab_size' is 1000000000000, outside 1\.\.8388608$" gen --model "$T/caps"
variant miss; perl -0777 -pi -e 's/"model\.norm\.weight"/"model.norX.weight"/' "$T/miss/$ST"
expect "missing tensor" 1 "loading model '.*/miss': missing tensor 'model.norm.weight'$" gen --model "$T/miss"
variant noweights; rm "$T/noweights/$ST"
expect "no weights at all" 1 "no safetensors found in '.*/noweights'$" gen --model "$T/noweights"
variant badcfg; echo '{"model_type": "qwen3", "hidden_size": ' >"$T/badcfg/config.json"
expect "config.json not JSON" 1 "config.json' is not a valid JSON object$" gen --model "$T/badcfg"
# NaN in a norm (bf16 0x7fc0): a warning at load, generation still ends normally
variant nan; o=$(tensor_begin "$T/nan/$ST" model.norm.weight); poke "$T/nan/$ST" "$o" 192; poke "$T/nan/$ST" $((o + 1)) 127
expect_warning "NaN weights: warning at load, no crash" 0 "^warning: weight 'model.norm.weight' holds NaN or Inf values" gen --model "$T/nan"
expect_warning "NaN weights: convert warns, writes the model" 0 "^warning: tensor 'model.norm.weight' holds 1 NaN or Inf values$" "$C" --hf-path "$T/nan" --mlx-path "$T/nan-out"
expect_warning "NaN weights: quantizing them does not crash" 0 "^warning: tensor 'model.norm.weight' holds 1 NaN or Inf values$" "$C" --hf-path "$T/nan" --mlx-path "$T/nan-q" -q

# ---- tokenizers ----
variant unkdec; perl -0777 -pi -e 's/"decoder":\{"type":"ByteLevel"/"decoder":{"type":"Foo"/' "$T/unkdec/tokenizer.json"
expect "tokenizer.json with an unknown decoder type" 1 "unknown decoder type 'Foo' in 'tokenizer.json'$" gen --model "$T/unkdec"
variant unkpre; perl -0777 -pi -e 's/"pre_tokenizer":\{"type":"Sequence"/"pre_tokenizer":{"type":"Bar"/' "$T/unkpre/tokenizer.json"
expect "tokenizer.json with an unknown pre-tokenizer type" 1 "unknown pre-tokenizer type 'Bar'" gen --model "$T/unkpre"
variant unkmodel; perl -0777 -pi -e 's/"model":\{"type":"BPE"/"model":{"type":"Unigram"/' "$T/unkmodel/tokenizer.json"
expect "tokenizer.json with an unsupported model type" 1 "Unigram" gen --model "$T/unkmodel"
variant toktrunc; head -c 100000 "$T/m/tokenizer.json" >"$T/toktrunc/tokenizer.json"
expect "tokenizer.json truncated" 1 "tokenizer.json': bad JSON near byte [0-9]+$" gen --model "$T/toktrunc"
variant tokutf8; printf '{"model": {"type": "BPE", "vocab": {"\377": 0}, "merges": []}}' >"$T/tokutf8/tokenizer.json"
expect "tokenizer.json not UTF-8" 1 "tokenizer.json' is not valid UTF-8 \(byte 37\)$" gen --model "$T/tokutf8"

# ---- prompts ----
expect "invalid UTF-8 prompt argument" 1 "^mlxc-generate: error: the prompt is not valid UTF-8 text \(byte 1\)$" gen --model "$T/m" -p "$(printf 'a\377b')"
printf 'ok \300\200 overlong' >"$T/p"
expect "invalid UTF-8 prompt on stdin (overlong)" 1 "^mlxc-generate: error: the prompt read from stdin is not valid UTF-8 text \(byte 3\)$" sh -c '"$1" --model "$2" -p - -m 2 <"$3"' sh "$G" "$T/m" "$T/p"
variant ctx; sed 's/"max_position_embeddings": 4096/"max_position_embeddings": 16/' "$T/m/config.json" >"$T/ctx/config.json"
expect_warning "prompt longer than the context: a warning, then generation" 0 "^warning: the prompt \([0-9]+ tokens\) is longer than the model's context \(max_position_embeddings 16\)" gen --model "$T/ctx" -p "one two three four five six seven eight nine ten eleven twelve"
expect_warning "prompt plus --max-tokens beyond the context: a warning" 0 "^warning: the prompt \([0-9]+ tokens\) plus --max-tokens 30 exceed the model's context \(max_position_embeddings 16\)" gen --model "$T/ctx" -m 30
[ -s "$T/out" ] && ok "...and the continuation is still printed" || fail "...and the continuation is still printed"

# ---- prompt caches ----
gen --model "$T/l3" --save-prompt-cache "$T/l3.cache" >/dev/null 2>&1
expect "prompt cache of another model (by its metadata)" 1 "providing a different model \(.*/m\) than that used to create the prompt cache \(.*/l3\) is an error$" gen --model "$T/m" --prompt-cache-file "$T/l3.cache"
rm -rf "$T/l3x"; cp -r "$T/m" "$T/l3x"; gen --model "$T/l3x" --save-prompt-cache "$T/other.cache" >/dev/null 2>&1; rm -rf "$T/l3x"; cp -r "$T/l3" "$T/l3x"
expect "prompt cache of another model (same path, other shapes)" 1 "loading the prompt cache '.*/other.cache': .*(shape|layers)" gen --model "$T/l3x" --prompt-cache-file "$T/other.cache"
gen --model "$T/m" --save-prompt-cache "$T/q.cache" >/dev/null 2>&1
head -c $(($(size "$T/q.cache") - 100)) "$T/q.cache" >"$T/qt.cache"
expect "prompt cache truncated mid-tensor" 1 "loading the prompt cache: '.*/qt.cache': tensor '[0-9.]+': 'data_offsets' \[[0-9]+, [0-9]+\] lie outside the [0-9]+-byte data section$" gen --model "$T/m" --prompt-cache-file "$T/qt.cache"
head -c 20 "$T/q.cache" >"$T/qh.cache"
expect "prompt cache truncated in the header" 1 "loading the prompt cache: '.*/qh.cache': header length [0-9]+ runs past the end" gen --model "$T/m" --prompt-cache-file "$T/qh.cache"
expect "prompt cache that does not exist" 1 "loading the prompt cache: cannot open '.*/nope.cache': No such file or directory$" gen --model "$T/m" --prompt-cache-file "$T/nope.cache"

# ---- output folders and full disks ----
echo x >"$T/afile"
expect "convert into an unwritable place" 1 "^mlxc-convert: error: cannot create a folder beside '.*/afile/out': Not a directory$" "$C" --hf-path "$T/m" --mlx-path "$T/afile/out"
expect "prompt cache into an unwritable place" 1 "saving the prompt cache '.*/afile/c.safetensors': cannot create a file in '.*/afile': Not a directory$" gen --model "$T/m" --save-prompt-cache "$T/afile/c.safetensors"
expect "convert over an existing folder" 1 "^mlxc-convert: error: .*already exists" "$C" --hf-path "$T/m" --mlx-path "$T/l3"
mkdir "$T/disk"
# ulimit -f: writes past the limit fail with EFBIG (the programs ignore SIGXFSZ), as on a full disk
expect "full disk during convert" 1 "^mlxc-convert: error: cannot write '.*/disk/\.out\.tmp-[0-9]+-[A-Za-z0-9]+/model.safetensors': File too large$" sh -c 'ulimit -f 64; exec "$1" --hf-path "$2" --mlx-path "$3"' sh "$C" "$T/m" "$T/disk/out"
[ -z "$(ls -A "$T/disk")" ] && ok "...and leaves no folder, final or temporary" || fail "...and leaves no folder, final or temporary" "$(ls -la "$T/disk")"
expect "full disk while saving a prompt cache" 1 "saving the prompt cache '.*/disk/c.safetensors': cannot write '.*/disk/c.safetensors': File too large$" sh -c 'ulimit -f 2; exec "$1" --verbose false -m 2 -p hi --model "$2" --save-prompt-cache "$3"' sh "$G" "$T/m" "$T/disk/c.safetensors"
[ -z "$(ls -A "$T/disk")" ] && ok "...and leaves no file, final or temporary" || fail "...and leaves no file, final or temporary" "$(ls -la "$T/disk")"
cp "$T/q.cache" "$T/disk/c.safetensors"
sh -c 'ulimit -f 2; exec "$1" --verbose false -m 2 -p other --model "$2" --save-prompt-cache "$3"' sh "$G" "$T/m" "$T/disk/c.safetensors" >/dev/null 2>&1
cmp -s "$T/q.cache" "$T/disk/c.safetensors" && [ "$(ls -A "$T/disk")" = c.safetensors ] && ok "a failed save keeps the old prompt cache intact" || fail "a failed save keeps the old prompt cache intact"
rm -rf "$T/disk"/*

# ---- signals ----
rm -f "$T/out" "$T/err"
"$G" --model "$T/m" -p hello -m 100000 --verbose false >"$T/out" 2>"$T/err" &
pid=$!
i=0; while [ ! -s "$T/out" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
kill -INT $pid; wait $pid; rc=$?
if [ $rc -eq 130 ] && [ -s "$T/out" ] && ! grep -q 'error' "$T/err" && ! sanitizer_report "$T/err"; then ok "SIGINT mid-generation: exit 130, no error"; else fail "SIGINT mid-generation: exit 130, no error" "rc=$rc $(cat "$T/err")"; fi
{ "$G" --model "$T/m" -p hello -m 500 --verbose false 2>"$T/err"; echo $? >"$T/rc"; } | head -c 1 >/dev/null
rc=$(cat "$T/rc")
if [ "$rc" -eq 141 ] && [ ! -s "$T/err" ]; then ok "SIGPIPE mid-generation: killed by the signal, nothing on stderr"; else fail "SIGPIPE mid-generation" "rc=$rc $(cat "$T/err")"; fi
finish

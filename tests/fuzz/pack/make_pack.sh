#!/bin/sh
# Packs fuzz targets into one small libFuzzer executable for a machine without this project's build
# dependencies (run_pack.sh runs it there), small enough to travel in well under a megabyte:
# OUT_DIR/p.tar.xz holds p/bin/fuzz_all (MLXC_FUZZ_TARGET picks the target) and p/lib/libcjson.so.1.
# The executable has ASan and coverage as in build-fuzz, UBSan in trap mode (a check that fails stops
# the process with SIGILL, which libFuzzer records as a crash: replay it with build-fuzz for the
# report), -Os, no debug info and no symbols (OUT_DIR/fuzz_all.sym keeps them, for addresses in
# reports), PCRE2 and utf8proc linked in, and cblas_sgemm from cblas_ref.c instead of OpenBLAS.
# usage: tests/fuzz/pack/make_pack.sh BUILD_DIR OUT_DIR [TARGET...]   (default: every target)
#   BUILD_DIR is configured when new (needs clang).
set -eu
[ $# -ge 2 ] || { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
S=$(cd "$(dirname "$0")/../../.." && pwd)
B=$1 O=$2
shift 2
[ $# -gt 0 ] || set -- safetensors config tok_load tok_encode tok_decode jinja chat_template prompt_cache
SAN="-fsanitize=fuzzer,address,undefined -fsanitize-trap=undefined"
[ -f "$B/build.ninja" ] || CC=clang meson setup "$B" "$S" -Dfuzz=true -Db_sanitize=address,undefined \
  --buildtype=release -Doptimization=s -Dc_args=-fsanitize-trap=undefined \
  -Dc_link_args=-fsanitize-trap=undefined >/dev/null
ninja -C "$B" -j2 libmlxc.a tests/libmlxc_fixture.a >/dev/null
rm -rf "$O/obj" "$O/p"
mkdir -p "$O/obj" "$O/p/bin" "$O/p/lib"
# run_pack.sh sets MLXC_TEST_DATA to the test data it unpacks; the default is the build's
CF="-std=c11 -D_GNU_SOURCE -Os -g0 -I$S -I$B -DMLXC_FUZZ_DATA=\"build/tests/data\" $SAN"
for t in "$@"; do
  clang $CF -DLLVMFuzzerTestOneInput=fuzz_${t}_one -DLLVMFuzzerInitialize=fuzz_${t}_init \
    -c "$S/tests/fuzz/fuzz_$t.c" -o "$O/obj/$t.o"
done
clang $CF -c "$S/tests/fuzz/pack/mux.c" -o "$O/obj/mux.o"
clang $CF -c "$S/tests/fuzz/pack/cblas_ref.c" -o "$O/obj/cblas_ref.o"
clang $SAN -no-pie "$O"/obj/*.o "$B/tests/libmlxc_fixture.a" "$B/libmlxc.a" \
  -Wl,-Bstatic -lpcre2-8 -lutf8proc -Wl,-Bdynamic -lcjson -lm -lpthread -o "$O/fuzz_all.sym"
strip --strip-all -o "$O/p/bin/fuzz_all" "$O/fuzz_all.sym"
cp -L "$(ldd "$O/p/bin/fuzz_all" | awk '/libcjson/ {print $3}')" "$O/p/lib/libcjson.so.1"
tar cf - -C "$O" p | xz -9e >"$O/p.tar.xz"
echo "$* -> $O/p.tar.xz ($(wc -c <"$O/p.tar.xz") bytes)"

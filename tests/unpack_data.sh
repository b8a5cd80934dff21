#!/bin/sh
# Makes the test data folder the tests read ($MLXC_TEST_DATA): OUT mirrors SRC (tests/data), a real
# folder for each folder and a symbolic link to each committed file, except that every FILE.gz is
# unpacked to OUT/.../FILE. The files of tests/data/tok over 64 KB are committed gzip-compressed to keep
# the repository small (tests/data/tok/README.md); the build runs this into BUILD/tests/data on every
# build (tests/meson.build; only what changed is unpacked again), tests/fuzz/pack/run_pack.sh into its
# scratch folder. Needs only sh and gzip. STAMP, when given, is touched at the end (for meson).
# usage: tests/unpack_data.sh SRC OUT [STAMP]
set -eu
[ $# -ge 2 ] || { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
S=$(cd "$1" && pwd)
O=$2

# mirror SRC_DIR OUT_DIR: folders are real folders (code that lists them may skip links), files links
mirror() {
  mkdir -p "$2"
  # first, what OUT_DIR holds that SRC_DIR no longer has in that form
  for o in "$2"/* "$2"/.[!.]*; do
    [ -e "$o" ] || [ -L "$o" ] || continue
    n=${o##*/}
    if [ -d "$1/$n" ] && [ ! -L "$1/$n" ]; then
      [ -d "$o" ] && [ ! -L "$o" ] && continue # a folder, mirrored below
    elif [ -f "$1/$n.gz" ]; then
      [ -f "$o" ] && [ ! -L "$o" ] && continue # unpacked below when older than its .gz
    elif [ -L "$o" ] && [ "$o" -ef "$1/$n" ]; then
      continue # the right link already
    fi
    rm -rf "$o"
  done
  for e in "$1"/* "$1"/.[!.]*; do
    [ -e "$e" ] || continue
    n=${e##*/}
    if [ -d "$e" ] && [ ! -L "$e" ]; then
      mirror "$e" "$2/$n"
    elif [ "${n%.gz}" != "$n" ]; then
      t=$2/${n%.gz}
      if [ ! -f "$t" ] || [ "$e" -nt "$t" ]; then
        gzip -dc "$e" >"$t.tmp.$$"
        mv -f "$t.tmp.$$" "$t"
      fi
    elif [ ! -e "$1/$n.gz" ] && [ ! -L "$2/$n" ]; then # FILE.gz wins over FILE
      ln -s "$e" "$2/$n"
    fi
  done
}
mirror "$S" "$O"
[ $# -lt 3 ] || : >"$3"

#!/bin/sh
# Shell integration of every program, checked against its flag table (`gen_shell flags PROG` prints it),
# so a flag or program added later is covered without touching this file:
# - --help prints one line per flag, each holding "--" once (its own name), and no other line holds "--";
# - the man page renders with man(1) and lists every flag, the exit statuses and examples;
# - `meson install` puts completions and man pages in their standard places, where bash-completion's
#   loader, fish's autoloader and zsh's fpath find them;
# - bash, zsh (a real interactive zsh in a pseudo-terminal) and fish complete a prefix of every flag to
#   the flag, and each flag's value: its choices, *.safetensors files, folders, or folders plus the repo
#   ids of the local Hugging Face cache; nothing for other values.
. "$(dirname "$0")/tap.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
B=${MLXC_BUILD:?}
G=$B/cmd/gen_shell
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export MLXC_NO_CONFIG=1 LC_ALL=C.UTF-8

# gen_shell's own checks of the tables and docs (docs for every program, examples use real flags, ...)
if "$G" check 2>"$T/err"; then ok "flag tables and docs are consistent"; else fail "flag tables and docs are consistent" "$(cat "$T/err")"; fi

progs=$("$G" list)
for p in $progs; do "$G" flags "$p" >"$T/flags.$p"; done

# ---- --help ----
for p in $progs; do
  "$B/cmd/$p" --help >"$T/help" 2>&1
  awk '{print $1}' "$T/flags.$p" >"$T/want"
  grep -- -- "$T/help" | sed -E 's/^  (-[A-Za-z0-9], )?(--[a-z0-9-]+).*/\2/' >"$T/got"
  twice=$(grep -- '--.*--' "$T/help")
  if [ "$(grep -c -- -- "$T/help")" -eq "$(wc -l <"$T/want")" ] && cmp -s "$T/want" "$T/got" && [ -z "$twice" ]; then
    ok "$p --help: one line per flag holds \"--\", once"
  else
    fail "$p --help: one line per flag holds \"--\", once" "$(diff "$T/want" "$T/got"; echo "$twice")"
  fi
  if grep -q "^exit status: 0 success, 1 runtime error, 2 usage error, 130 interrupted" "$T/help"; then
    ok "$p --help gives the exit statuses"
  else
    fail "$p --help gives the exit statuses" "$(tail -5 "$T/help")"
  fi
done

# ---- man pages ----
have_man=1
command -v man >/dev/null 2>&1 || have_man=0
for p in $progs; do
  page=$B/man/$p.1
  if [ $have_man -eq 0 ]; then fail "$p.1 renders" "man is not installed (apt-get install man-db)"; continue; fi
  MANPAGER=cat MANWIDTH=200 man -l "$page" >"$T/man" 2>"$T/manerr"
  groff -man -ww -z "$page" 2>>"$T/manerr"
  missing=""
  for f in $(awk '{print $1}' "$T/flags.$p"); do grep -q -- "$f" "$T/man" || missing="$missing $f"; done
  for s in NAME SYNOPSIS DESCRIPTION OPTIONS EXAMPLES "EXIT STATUS" ENVIRONMENT FILES "SEE ALSO"; do
    grep -q "^$s" "$T/man" || missing="$missing [$s]"
  done
  grep -q "^ *130 *interrupted" "$T/man" || missing="$missing [130]"
  if [ -s "$T/man" ] && [ ! -s "$T/manerr" ] && [ -z "$missing" ]; then
    ok "man $p renders with every flag, examples and exit statuses"
  else
    fail "man $p renders with every flag, examples and exit statuses" "missing:$missing $(cat "$T/manerr")"
  fi
done

# ---- install places ----
if meson install -C "$B" --no-rebuild --destdir "$T/inst" >"$T/install.log" 2>&1; then
  share=$(find "$T/inst" -type d -path '*/share/bash-completion' | sed 's:/bash-completion$::')
  bindir=$(dirname "$(find "$T/inst" -type f -name mlxc-generate -path '*/bin/*')")
  missing=""
  for p in $progs; do
    for f in "bash-completion/completions/$p" "zsh/site-functions/_$p" "fish/vendor_completions.d/$p.fish" "man/man1/$p.1"; do
      [ -f "$share/$f" ] || missing="$missing $f"
    done
  done
  if [ -n "$share" ] && [ -z "$missing" ]; then ok "meson install puts completions and man pages in their places"; else fail "meson install puts completions and man pages in their places" "missing:$missing"; fi
else
  fail "meson install puts completions and man pages in their places" "$(tail -20 "$T/install.log")"
  share=""
fi
if [ -n "$share" ] && [ -f /usr/share/bash-completion/bash_completion ]; then
  out=$(XDG_DATA_DIRS=$share bash --norc --noprofile -c '. /usr/share/bash-completion/bash_completion
    for p; do __load_completion "$p" && complete -p "$p"; done' _ $progs 2>&1)
  if [ "$(printf '%s\n' "$out" | grep -c '^complete -F _mlxc_')" -eq "$(echo $progs | wc -w)" ]; then
    ok "bash-completion's loader finds every installed completion"
  else
    fail "bash-completion's loader finds every installed completion" "$out"
  fi
else
  fail "bash-completion's loader finds every installed completion" "no install, or bash-completion is not installed"
fi
if [ -n "$share" ] && command -v fish >/dev/null 2>&1; then
  out=$(XDG_DATA_DIRS=$share PATH=$bindir:$PATH HOME=$T/home fish -c 'complete -C "mlxc-generate --max-t"' 2>&1)
  case $out in --max-tokens*) ok "fish autoloads the installed completion" ;; *) fail "fish autoloads the installed completion" "$out" ;; esac
else
  fail "fish autoloads the installed completion" "no install, or fish is not installed"
fi

# ---- completions in each shell ----
# A Hugging Face cache with two models, and a working folder with a prompt-cache file, another file and a
# folder. HOME moves so that the user's own caches stay out.
mkdir -p "$T/hub/models--mlx-community--Qwen3-0.6B-4bit/snapshots" "$T/hub/models--org--tiny/snapshots" \
  "$T/home" "$T/files/sub"
: >"$T/files/a.safetensors"
: >"$T/files/b.txt"
export HF_HUB_CACHE="$T/hub" HOME="$T/home"
unset HF_HOME XDG_CACHE_HOME
repos="mlx-community/Qwen3-0.6B-4bit org/tiny"

# queries (one command line each; a final space completes an empty word) and what each must give:
# "has WORD" (among the matches) or "is WORDS" (exactly these, in any order; "is" alone: no match)
: >"$T/q"
: >"$T/want"
query() { printf '%s\n' "$1" >>"$T/q"; printf '%s\n' "$2" >>"$T/want"; }
for p in $progs; do
  while read -r name short kind choices; do
    keep=$((${#name} - 2)); [ $keep -lt 3 ] && keep=3
    query "$p $(printf '%s' "$name" | cut -c1-$keep)" "has $name"
    case $kind in
      choices) query "$p $name " "is $choices" ;;
      model) query "$p $name " "is $repos sub"; query "$p $name mlx-c" "is mlx-community/Qwen3-0.6B-4bit" ;;
      safetensors) query "$p $name " "is a.safetensors sub" ;;
      dir) query "$p $name " "is sub" ;;
      file) query "$p $name " "is a.safetensors b.txt sub" ;;
      value) query "$p $name " "is" ;;
    esac
  done <"$T/flags.$p"
done

# compare GOT (one line of matches per query) with the wants; prints the failures as "PROG: ..."
compare() {
  paste -d '\t' "$T/q" "$T/want" "$1" | awk -F '\t' '
    function norm(s,   a, n, i, j, t, out) {   # words without a final "/", sorted, unique
      n = split(s, a, " ")
      for (i = 1; i <= n; i++) sub(/\/$/, "", a[i])
      for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
      out = ""
      for (i = 1; i <= n; i++) if (i == 1 || a[i] != a[i - 1]) out = out (out == "" ? "" : " ") a[i]
      return out
    }
    { split($1, w, " "); got = norm($3); op = $2; sub(/ .*/, "", op); arg = substr($2, length(op) + 2)
      okay = op == "has" ? index(" " got " ", " " arg " ") > 0 : got == norm(arg)
      if (!okay) printf "%s: [%s] wants %s, got [%s]\n", w[1], $1, $2, got }'
}

report() { # SHELL GOTFILE
  compare "$2" >"$T/fails.$1"
  for p in $progs; do
    if grep -q "^$p: " "$T/fails.$1"; then
      fail "$1 completes every flag of $p and its values" "$(grep "^$p: " "$T/fails.$1" | head -20)"
    else
      ok "$1 completes every flag of $p and its values"
    fi
  done
}

C=$B/completions
cd "$T/files" || exit 1

# bash: the files sourced as they are, the function called as readline would (words split at spaces)
bash --norc --noprofile -c '
  C=$1; shift
  for p; do source "$C/$p" || exit 1; done
  while IFS= read -r line; do
    read -r -a COMP_WORDS <<<"$line"
    [[ $line == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
    COMPREPLY=()
    "_${COMP_WORDS[0]//-/_}"
    echo "${COMPREPLY[*]}"
  done' _ "$C" $progs <"$T/q" >"$T/got.bash" 2>"$T/err.bash"
report bash "$T/got.bash"
# bash splits "--flag=value" at "=" (COMP_WORDBREAKS); without that split the value keeps its "--flag=" prefix
got=$(bash --norc --noprofile -c 'source "$1/mlxc-convert"
  COMP_WORDS=(mlxc-convert --q-mode = mx) COMP_CWORD=3; _mlxc_convert; echo "${COMPREPLY[*]}"
  COMP_WORDS=(mlxc-convert --dtype=b) COMP_CWORD=1; _mlxc_convert; echo "${COMPREPLY[*]}"' _ "$C" 2>&1)
if [ "$got" = "mxfp4 mxfp8
--dtype=bfloat16" ]; then ok "bash completes --flag=value"; else fail "bash completes --flag=value" "$got"; fi

# zsh: every file parses, then a real interactive zsh (zpty) completes the queries with the installed
# files (or the built ones when the install failed)
if command -v zsh >/dev/null 2>&1; then
  bad=""
  for p in $progs; do zsh -n "$C/_$p" 2>>"$T/err.zsh" || bad="$bad _$p"; done
  if [ -z "$bad" ]; then ok "zsh -n accepts every completion file"; else fail "zsh -n accepts every completion file" "$bad $(cat "$T/err.zsh")"; fi
  zdir=$C
  [ -n "$share" ] && zdir=$share/zsh/site-functions
  # run it with the lines as arguments; no line holds a newline
  set -f
  old_ifs=$IFS
  IFS='
'
  # shellcheck disable=SC2046
  timeout 120 zsh -f "$HERE/zsh_complete.zsh" "$zdir" "$T/zout" $(cat "$T/q") 2>"$T/err.zsh"
  rc=$?
  IFS=$old_ifs
  set +f
  awk '/^end [0-9]+$/ { print line; line = ""; next } { line = line (line == "" ? "" : " ") $0 }' "$T/zout" >"$T/got.zsh"
  if [ $rc -eq 0 ]; then report zsh "$T/got.zsh"; else fail "zsh completes in a pseudo-terminal" "rc=$rc $(cat "$T/err.zsh")"; fi
else
  fail "zsh completes every flag" "zsh is not installed (apt-get install zsh)"
fi

# fish: the files sourced, then `complete -C` on each query
if command -v fish >/dev/null 2>&1; then
  fish --no-config -c '
    for p in $argv[2..-1]; source $argv[1]/$p.fish; or exit 1; end
    while read -l line
      echo (complete -C"$line" | string replace -r "\t.*\$" "")
    end' "$C" $progs <"$T/q" >"$T/got.fish" 2>"$T/err.fish"
  if [ -s "$T/err.fish" ]; then fail "fish reads the completion files" "$(cat "$T/err.fish")"; else ok "fish reads the completion files"; fi
  report fish "$T/got.fish"
else
  fail "fish completes every flag" "fish is not installed (apt-get install fish)"
fi
finish

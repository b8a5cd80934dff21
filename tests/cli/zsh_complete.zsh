# Completes command lines in a real interactive zsh, headless: a child zsh runs in a pseudo-terminal
# (zsh/zpty) with compinit and the given fpath; each line is typed followed by TAB, and a compadd
# wrapper writes every match that the completion functions offer to OUTFILE, followed by "end N" for
# line N. The line is then erased (Ctrl-U), so nothing is ever run. TAB is bound to a widget that
# completes and then prints "<tab N>" to the terminal; the next line is typed only once that has been
# read (zle cuts work short while input is pending, so typing ahead would lose matches).
# usage: zsh -f zsh_complete.zsh FPATH_DIR OUTFILE 'line 1' 'line 2' ...
zmodload zsh/zpty || { print -u2 "zsh/zpty is not available"; exit 3; }
dir=$1 out=$2
shift 2
: >| $out

zpty z zsh -f -i || exit 4
# no listing (it could stop to ask "do you wish to see all N possibilities?"), no beeps
zpty -w z "PS1='' RPS1='' PS2=''; unsetopt auto_list list_beep beep; fpath=(${(q)dir} \$fpath); autoload -Uz compinit; compinit -u -D"
# compadd calls with -O/-A/-D only collect; every other call adds matches: record them, then add them
zpty -w z "compadd() { if [[ \${@[1,(i)(-|--)]} == *-(O|A|D)\\ * ]]; then builtin compadd \"\$@\"; return; fi
  local -a __m; builtin compadd -A __m \"\$@\"; (( \$#__m )) && print -rl -- \$__m >> ${(q)out}; builtin compadd \"\$@\"; }"
zpty -w z "__mlxc_tab() { zle complete-word; print -r -- \"end \$((++__n))\" >> ${(q)out}; print -rn -- \"<tab \$__n>\"; }; zle -N __mlxc_tab; bindkey '^I' __mlxc_tab"
n=0
for line in "$@"; do
  n=$((n + 1))
  zpty -w -n z "$line"$'\t'
  zpty -r z junk "*<tab $n>*"
  zpty -w -n z $'\C-u'
done
zpty -d z
exit 0

#!/bin/sh
# mlxc-chat's full-screen view driven in a real terminal: tmux (headless) runs it, send-keys types,
# capture-pane reads the screen. Two turns answered with the status bar showing only each turn's new
# tokens prefilled; /save, then --resume reaching the same state as going on; Ctrl-C clears the input
# and stops a reply; the history file holds the inputs; a resize redraws; NO_COLOR; Ctrl-D exits 0.
. "$(dirname "$0")/tap.sh"
command -v tmux >/dev/null 2>&1 || { echo "1..0 # SKIP tmux is not installed"; exit 0; }
B=${MLXC_BUILD:?}
C=$B/cmd/mlxc-chat
T=$(mktemp -d)
SOCK=mlxc-test-$$
tm() { tmux -L "$SOCK" -f /dev/null "$@"; }
trap 'tm kill-server >/dev/null 2>&1; rm -rf "$T"' EXIT
MLXC_TEST_DATA=${MLXC_TEST_DATA:?} "$B/tests/mlxc-fixture" qwen3 F32 "$T/m" || { echo "Bail out! fixture"; exit 1; }
M=$T/m

# prompt sizes of the turns as Qwen3's template renders them, encoded by one mlxc-tokenize call
turn() { printf '"<|im_start|>user\\n%s<|im_end|>\\n<|im_start|>assistant\\n"\n' "$1"; }
{ turn 'hello there'; turn 'second one'; turn 'third'; } | "$B/cmd/mlxc-tokenize" --model "$M" --jsonl --no-special \
  | awk -F, '{print NF}' >"$T/counts"
N1=$(sed -n 1p "$T/counts") N2=$(sed -n 2p "$T/counts") N3=$(sed -n 3p "$T/counts")
[ -n "$N3" ] || { echo "Bail out! mlxc-tokenize"; exit 1; }

# start SESSION COLS ROWS ENV ARGS: runs mlxc-chat in a new tmux session; its exit status lands in $T/SESSION.rc
start() {
  tm new-session -d -s "$1" -x "$2" -y "$3" \
    "env XDG_STATE_HOME='$T/state' LANG=C.UTF-8 $4 '$C' --model '$M' $5; echo \$? >'$T/$1.rc'"
}
screen() { tm capture-pane -p -t "$1"; }
# wait_for SESSION REGEX [TENTHS]: polls the screen until a line matches
wait_for() {
  i=0
  while [ $i -lt "${3:-200}" ]; do
    screen "$1" | grep -Eq -- "$2" && return 0
    sleep 0.1
    i=$((i + 1))
  done
  return 1
}
type_line() { tm send-keys -t "$1" -l "$2"; tm send-keys -t "$1" Enter; }
shot() { screen "$1" | sed 's/^/  /'; }

start chat 100 30 "" "-m 8"
if wait_for chat '/help lists the commands; Ctrl-D quits' 300; then ok "the full-screen view starts"; else fail "the full-screen view starts" "$(shot chat)"; fi
screen chat | tail -n 2 | head -n 1 | grep -q '^ m │ ctx 0/4096 │ peak [0-9.]* GB ' && [ "$(screen chat | tail -n 1)" = "›" ] \
  && ok "status bar above the input line" || fail "status bar above the input line" "$(shot chat)"

# two turns: the status bar shows each turn's prompt tokens (only the new ones) and the context used
type_line chat 'hello there'
wait_for chat "ctx $((N1 + 8))/4096 │ prompt $N1 tok, [0-9.]+ tok/s │ gen 8 tok, [0-9.]+ tok/s │ peak" \
  && ok "first turn: $N1 prompt tokens, 8 generated" || fail "first turn" "$(shot chat)"
type_line chat 'second one'
wait_for chat "ctx $((N1 + 8 + N2 + 8))/4096 │ prompt $N2 tok, " \
  && ok "second turn: only its $N2 new tokens prefilled" || fail "second turn: only its new tokens prefilled" "$(shot chat)"
screen chat | grep -q '^› hello there$' && screen chat | grep -q '^› second one$' \
  && ok "the transcript shows both messages" || fail "the transcript shows both messages" "$(shot chat)"

# /save, one more turn, /save again; a resumed session given the same turn must save the same file
type_line chat "/save $T/s"
wait_for chat "saved 4 messages and $((N1 + 8 + N2 + 8)) positions to '$T/s.safetensors'" && ok "/save" || fail "/save" "$(shot chat)"
type_line chat 'third'
wait_for chat "ctx $((N1 + N2 + N3 + 24))/4096 │ prompt $N3 tok"
type_line chat "/save $T/s2"
wait_for chat "saved 6 messages" || fail "second /save" "$(shot chat)"
printf 'third\n/save %s\n' "$T/s3" | "$C" --resume "$T/s" -m 8 >/dev/null 2>&1
cmp -s "$T/s2.safetensors" "$T/s3.safetensors" \
  && ok "--resume then the same turn gives the same reply and cache (files identical)" \
  || fail "--resume then the same turn gives the same reply and cache" "$(ls -l "$T")"

# Ctrl-C at the prompt clears the line
tm send-keys -t chat -l 'half a thought'
wait_for chat '^› half a thought$' 30
tm send-keys -t chat C-c
i=0; while [ $i -lt 30 ] && [ "$(screen chat | tail -n 1)" != "›" ]; do sleep 0.1; i=$((i + 1)); done
[ "$(screen chat | tail -n 1)" = "›" ] && ok "Ctrl-C clears the input line" || fail "Ctrl-C clears the input line" "$(shot chat)"

# a resize redraws: the transcript is wrapped again for the new width
type_line chat '/stats'
wait_for chat '^  context +[0-9]+ of 4096 positions \([0-9.]+%\), 3 exchanges$' \
  || fail "/stats shows the context" "$(shot chat)"
tm resize-window -t chat -x 40 -y 20
if wait_for chat '^  \([0-9.]+%\), 3 exchanges$' 50 && [ "$(screen chat | wc -l)" -eq 20 ] \
   && [ "$(screen chat | tail -n 1)" = "›" ] && screen chat | tail -n 2 | head -n 1 | grep -q '^ m │ '; then
  ok "a resize redraws the transcript, status bar and input for the new size"
else
  fail "a resize redraws" "$(shot chat)"
fi
# at 40 columns the status bar keeps whole fields (no cut number, no dangling separator)
bar40=$(screen chat | tail -n 2 | head -n 1 | sed 's/ *$//')
echo "$bar40" | grep -Eq '^ m( │ [^│ ][^│]*[^│ ])+$' && [ "$(printf '%s' "$bar40" | wc -m)" -le 40 ] \
  && ok "a narrow status bar shows whole fields: '$bar40'" || fail "a narrow status bar shows whole fields" "'$bar40'"
# PgUp scrolls the transcript back and says so in the status bar; PgDn goes back to the end
tm send-keys -t chat PPage
wait_for chat 'scrolled back [0-9]+ \(PgDn\) *$' 30 && ! screen chat | grep -q '^  \([0-9.]+%\), 3 exchanges$' \
  && ok "PgUp scrolls back, and the status bar says so" || fail "PgUp scrolls back" "$(shot chat)"
tm send-keys -t chat NPage
wait_for chat '^  \([0-9.]+%\), 3 exchanges$' 30 && ! screen chat | grep -q 'scrolled back' \
  && ok "PgDn returns to the end" || fail "PgDn returns to the end" "$(shot chat)"
tm capture-pane -e -p -t chat | grep -q "$(printf '\033')\[[0-9;]*4[0-7]m" && ok "colours by default" \
  || fail "colours by default" "$(tm capture-pane -e -p -t chat | od -c | head)"

# Ctrl-D on the empty line exits with status 0; the history file holds the inputs
tm send-keys -t chat C-d
i=0; while [ $i -lt 50 ] && [ ! -s "$T/chat.rc" ]; do sleep 0.1; i=$((i + 1)); done
[ "$(cat "$T/chat.rc" 2>/dev/null)" = 0 ] && ok "Ctrl-D exits with status 0" || fail "Ctrl-D exits with status 0" "$(cat "$T/chat.rc" 2>/dev/null)"
if [ "$(grep -c -x -e 'hello there' -e 'second one' -e 'third' -e '/stats' -e "/save $T/s" "$T/state/mlxc/history")" -eq 5 ]; then
  ok "the history file (\$XDG_STATE_HOME/mlxc/history) holds the inputs"
else
  fail "the history file holds the inputs" "$(cat "$T/state/mlxc/history" 2>&1)"
fi

# Ctrl-C in mid-reply stops it, and the chat goes on; the history comes back with Up; NO_COLOR
start long 100 30 NO_COLOR=1 "-m 100000"
wait_for long '/help lists the commands' 300
tm send-keys -t long Up
wait_for long '^› /stats$' 30 && ok "the history of the last session comes back with Up" || fail "history with Up" "$(shot long)"
tm send-keys -t long C-u
type_line long 'go on'
wait_for long 'generating, Ctrl-C stops' 100
sleep 0.5
tm send-keys -t long C-c
wait_for long '^  \(stopped\)$' 50 && wait_for long '│ gen [0-9]+ tok' 50 && ok "Ctrl-C stops a reply" || fail "Ctrl-C stops a reply" "$(shot long)"
type_line long 'and after'
wait_for long 'generating, Ctrl-C stops' 100 && ok "the chat goes on after a stopped reply" || fail "the chat goes on after a stopped reply" "$(shot long)"
tm send-keys -t long C-c
wait_for long "prompt $(turn 'and after' | "$B/cmd/mlxc-tokenize" --model "$M" --jsonl --no-special | awk -F, '{print NF}') tok" 50 \
  || fail "the second reply's prompt" "$(shot long)"
tm capture-pane -e -p -t long | grep -q "$(printf '\033')\[[0-9;]*[34][0-7]m" && fail "NO_COLOR turns colours off" \
  || ok "NO_COLOR turns colours off"
tm send-keys -t long C-d
finish

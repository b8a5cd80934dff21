#!/bin/sh
# Pictures of mlxc-chat's full-screen view as a terminal shows it: tmux runs the real program on the
# model this project ships, send-keys types two messages, capture-pane -e reads the screen with its
# colours, and ansi_to_png.py draws it. Writes, into OUT_DIR (default tests/data/screens):
#   chat_two_turns.png   100x30, after two turns (long replies wrapped, status bar with the last figures)
#   chat_resized.png     the same window resized to 60x22 (transcript re-wrapped, status bar shortened)
#   chat_no_color.png    NO_COLOR=1: attributes only (bold, dim, reverse status bar)
# and the captured text beside each (.txt, with the escapes) for checking by eye or by grep.
# usage: tests/gen/chat_screens.sh BUILD_DIR [OUT_DIR]   (needs tmux, python3 with Pillow, DejaVu fonts)
set -eu
[ $# -ge 1 ] || { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
S=$(cd "$(dirname "$0")/../.." && pwd)
B=$(cd "$1" && pwd)
O=${2:-$S/tests/data/screens}
M=${MLXC_SCREEN_MODEL:-models/mlxc-tiny} # relative to the repository root, as the picture shows it
PY=${PYTHON:-python3}
"$PY" -c 'import PIL' 2>/dev/null || PY=/usr/bin/python3 # a virtual environment may lack Pillow
mkdir -p "$O"
T=$(mktemp -d)
SOCK=mlxc-screens-$$
tm() { tmux -L "$SOCK" -f /dev/null "$@"; }
trap 'tm kill-server >/dev/null 2>&1; rm -rf "$T"' EXIT
screen() { tm capture-pane -p -t "$1"; }
wait_for() { # SESSION REGEX: up to 60 s
  i=0
  while [ $i -lt 600 ]; do
    screen "$1" | grep -Eq -- "$2" && return 0
    sleep 0.1
    i=$((i + 1))
  done
  echo "timed out waiting for '$2' in $1:" >&2; screen "$1" >&2; exit 1
}
type_line() { tm send-keys -t "$1" -l "$2"; tm send-keys -t "$1" Enter; }
# shot SESSION NAME: the screen (with escapes) as NAME.txt and NAME.png
shot() {
  sleep 0.3
  tm capture-pane -e -N -p -t "$1" >"$O/$2.txt"
  set -- "$1" "$2" $(tm display-message -p -t "$1" '#{pane_width} #{pane_height} #{cursor_x} #{cursor_y}')
  "$PY" "$S/tests/gen/ansi_to_png.py" "$3" "$4" "$O/$2.txt" "$O/$2.png" "$5" "$6"
}
# chat SESSION ENV: starts mlxc-chat (100x30) and has the two-turn conversation
chat() {
  tm new-session -d -s "$1" -x 100 -y 30 -c "$S" \
    "env XDG_STATE_HOME='$T/state' LANG=C.UTF-8 $2 '$B/cmd/mlxc-chat' --model '$M' -m 60; sleep 100"
  wait_for "$1" '/help lists the commands'
  type_line "$1" 'Hello! Who are you?'
  wait_for "$1" '│ gen 60 tok'
  type_line "$1" 'Tell me a story about a cat.'
  wait_for "$1" 'ctx 1[0-9][0-9]/1024 │ prompt [0-9]+ tok'
}
chat color ""
shot color chat_two_turns
tm resize-window -t color -x 60 -y 22
wait_for color '^ mlxc-tiny │ '
shot color chat_resized
chat plain NO_COLOR=1
shot plain chat_no_color
ls -l "$O"/chat_*.png

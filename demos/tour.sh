#!/usr/bin/env bash
# A guided tour of resnet-tui. It opens the UI inside its own tmux session, attaches your
# terminal to it, and presses keys for you while tmux's status bar shows what to look at.
# Watch the markers move through the network, the gradient panel fill in on the way back,
# then the plain network (every skip off) side by side with the ResNet. Press q at any
# point to leave; the tour stops with the UI.
#
# Usage: demos/tour.sh [extra resnet-tui options]   (needs tmux)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v tmux >/dev/null || { echo "demos/tour.sh needs tmux" >&2; exit 1; }
swift build -c release --product resnet-tui
socket="resnet-tui-tour-$$"
tmux -L "$socket" new-session -d -x 120 -y 40 -s tour \
    ".build/release/resnet-tui --model resnet20 $*"
tmux -L "$socket" set-option -g status on >/dev/null

# caption SECONDS TEXT [KEYS...]: waits, shows TEXT in the status bar, then presses KEYS.
caption() {
    sleep "$1"
    tmux -L "$socket" display-message -d 7000 "$2" 2>/dev/null || exit 0
    shift 2
    if [ $# -gt 0 ]; then tmux -L "$socket" send-keys -t tour "$@" 2>/dev/null || exit 0; fi
}

tour() {
    caption 2 "n runs one phase: load a batch, then the stem (watch the ▶ marker)" n n
    caption 4 "n again: layer1.0 runs forward; its output statistics appear" n
    caption 4 "f runs the rest of the forward pass, up to the loss" f
    caption 4 "b runs the backward pass: ◀ moves up, the gradient panel fills in" b
    caption 6 "skip vs res: the gradient reaching each block through each path" 
    caption 6 "s finishes the iteration with the SGD update" s
    caption 4 "Space trains continuously; the loss falls" Space
    caption 12 "Space again pauses" Space
    caption 3 "c compares: A (skips on) and B (every skip off), same weights and batches" c
    caption 4 "Space trains both in lockstep" Space
    caption 15 "B's gradient at the first blocks is larger: batch norm makes plain stacks explode" Space
    caption 8 "Tab shows the selected block's feature map; [ and ] change the channel" Tab
    caption 6 "Tab again shows the input image" Tab
    caption 6 "? lists every key. The tour is over: keep exploring, q quits" "?"
}

tour &
driver=$!
trap 'kill "$driver" 2>/dev/null || true; tmux -L "$socket" kill-server 2>/dev/null || true' EXIT
tmux -L "$socket" attach-session -t tour

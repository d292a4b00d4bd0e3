#!/usr/bin/env bash
# Prints the norm of the loss gradient at the first block's input divided by the norm at
# the last block's input, at initialisation. The rows are resnet, plain and resnet with
# --zero-init-residual at depths 20, 56 and 110, each with batch norm and without (--no-bn).
# Each cell is one `resnet-tui trace` iteration with learning rate 0 on one batch of 32
# images of 3x32x32: the first batch of the shapes data, or the batch in BATCH_FILE.
#
# Usage: scripts/gradient-profile.sh [BATCH_FILE]
# Set RESNET_TUI to the binary to run (default .build/release/resnet-tui); SEED sets the
# weight seed (default 0).
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${RESNET_TUI:-.build/release/resnet-tui}
seed=${SEED:-0}
if [[ ! -x $binary ]]; then
    echo "gradient-profile: $binary not found; run swift build -c release first" >&2
    exit 1
fi
if [[ $# -ge 1 ]]; then
    data=(--batch-file "$1")
    echo "data: the batch in $1"
else
    data=(--data shapes --input 3,32,32 --batch 32)
    echo "data: the first batch of 32 shapes images, 3x32x32"
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Prints "RATIO LOSS" for one configuration, from trace's "iteration 1: loss L, ... = R"
# line. The ratio is n/a when the line has none, because a non-finite loss stops the
# iteration before the backward pass.
measure() {
    local line loss ratio
    line=$("$binary" trace --out "$out" --steps 1 --lr 0 --momentum 0 --weight-decay 0 \
        --seed "$seed" "${data[@]}" "$@" 2>/dev/null | grep '^iteration 1:')
    loss=$(sed -E 's/^iteration 1: loss ([^,]*).*/\1/' <<<"$line")
    ratio=n/a
    if [[ $line == *" = "* ]]; then
        ratio=${line##* = }
    fi
    echo "$ratio $loss"
}

printf '%-30s %12s %12s %12s %12s\n' network "BN ratio" "BN loss" "no-BN ratio" "no-BN loss"
for depth in 20 56 110; do
    for row in "resnet$depth" "plain$depth" "resnet$depth --zero-init-residual"; do
        read -r -a flags <<<"--model $row"
        read -r bn_ratio bn_loss < <(measure "${flags[@]}")
        read -r nobn_ratio nobn_loss < <(measure "${flags[@]}" --no-bn)
        printf '%-30s %12s %12s %12s %12s\n' "$row" "$bn_ratio" "$bn_loss" \
            "$nobn_ratio" "$nobn_loss"
    done
done

#!/usr/bin/env bash
# Opens the UI on MNIST with resnet20. Press Space to train and watch the loss fall: it
# drops below 0.5 within about 100 steps. Then select a block with j/k and press t to turn
# its skip connection off. From the next iteration on, its skip-path norm reads "off" and
# the gradient reaching the earlier blocks changes.
#
# Usage: demos/mnist.sh [MNIST_DIR] [extra resnet-tui options]
# MNIST_DIR defaults to ../shared/data/mnist beside the repository and must contain the
# four IDX files, plain or gzipped.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/data/mnist}"
shift || true
swift build -c release --product resnet-tui
exec .build/release/resnet-tui --data "mnist:$data" --model resnet20 "$@"

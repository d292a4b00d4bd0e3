#!/usr/bin/env bash
# Opens the UI on the built-in shapes data with resnet56, a deep net where skips matter.
# Step one iteration with s and read the gradient panel: the norms grow toward the input.
# Then press T to turn every skip off and s again. The plain stack's gradient at the first
# blocks is now far larger than the ResNet's (measured: about 30 against 0.8). With batch
# norm, deep plain stacks explode toward the input at initialisation rather than vanish.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product resnet-tui
exec .build/release/resnet-tui --model resnet56 "$@"

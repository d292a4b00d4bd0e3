#!/usr/bin/env bash
# Runs `resnet-tui experiment plain-vs-residual`: plain8, plain20, resnet8 and resnet20 on
# the built-in shapes data (1x16x16, width 8) with the same seed and batches, then prints
# each network's final loss and gradient profile and a verdict computed from the numbers.
# The pattern of He et al. 2015 is the deeper plain net ending with a higher training loss
# than the shallower one while the deeper residual net does not. At the default 600 steps
# seeds 0, 1 and 2 all showed it, in 67 to 76 s of wall time and about 40 s of CPU time on
# 2 shared cores (BENCHMARKS.md). A shorter run can miss it, and the verdict then reads
# "not reproduced".
#
# Usage: demos/plain-vs-residual-headless.sh [STEPS] [CSV]   (default 600 steps, and the
# CSV, one row per step and network, goes to plain-vs-residual.csv)
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-600}"
csv="${2:-plain-vs-residual.csv}"
swift build -c release --product resnet-tui >&2
.build/release/resnet-tui experiment plain-vs-residual --steps "$steps" --csv "$csv"
echo "per-step losses and block gradient norms: $csv" >&2

#!/usr/bin/env bash
# CI smoke run of every libFuzzer target in Fuzz/: a few seconds each from the committed seeds, built with
# coverage instrumentation but without AddressSanitizer (an ASan build of the whole package costs minutes
# more on two cores; the long runs in docs/robustness.md use ASan: Fuzz/run.sh). Fails on any crash,
# hang (-timeout) or broken promise.
#
# Usage: scripts/fuzz-smoke.sh [SECONDS per target, default 5]
set -euo pipefail
cd "$(dirname "$0")/.."
Fuzz/run.sh --no-asan --time "${1:-5}" all

#!/usr/bin/env bash
# CI smoke run of every libFuzzer target in Fuzz/: a few seconds each from the committed seeds, built with
# coverage instrumentation but without AddressSanitizer (an ASan build of the whole package costs minutes
# more on two cores; the long runs in docs/robustness.md use ASan: Fuzz/run.sh). Fails on any crash,
# hang (-timeout) or broken promise.
#
# The run is deterministic, so CI cannot fail on a finding that a previous run did not have: a fixed seed
# and a fixed number of inputs per target (libFuzzer's mutations then depend only on the binary and the
# committed seeds), with a time cap as a safety net for slow machines.
#
# Usage: scripts/fuzz-smoke.sh [INPUTS per target, default 2000]
set -euo pipefail
cd "$(dirname "$0")/.."
Fuzz/run.sh --no-asan --runs "${1:-2000}" all -seed=1 -max_total_time=30

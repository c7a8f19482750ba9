#!/usr/bin/env bash
# Runs the whole test suite under AddressSanitizer and under ThreadSanitizer, each in its own scratch
# path (.build-asan, .build-tsan) so the normal .build is not rebuilt.
#
# Usage: scripts/sanitizers.sh [address|thread]... [-- swift test options]   (default: both)
#   e.g. scripts/sanitizers.sh address -- --filter PgtableTests
# .ci/run runs both over the whole suite.
#
# ASAN_OPTIONS=detect_leaks=0: LeakSanitizer reports leaks inside XCTest and libswiftCore themselves and
# turns the run red (see docs/robustness.md); every other ASan report still fails the run.
# SWIFT_BACKTRACE=enable=no: Swift's crash handler would otherwise hide a sanitizer report behind its own.
set -euo pipefail
cd "$(dirname "$0")/.."
kinds=() extra=()
while [ $# -gt 0 ]; do
    if [ "$1" = -- ]; then shift; extra=("$@"); break; fi
    kinds+=("$1")
    shift
done
[ ${#kinds[@]} -gt 0 ] || kinds=(address thread)
export SWIFT_BACKTRACE=enable=no
for k in "${kinds[@]}"; do
    case "$k" in
    address) scratch=.build-asan ;;
    thread) scratch=.build-tsan ;;
    *) echo "sanitizers.sh: unknown sanitizer '$k' (address or thread)" >&2; exit 2 ;;
    esac
    echo "== swift test --sanitize=$k --scratch-path $scratch"
    start=$SECONDS
    ASAN_OPTIONS=detect_leaks=0 swift test --sanitize="$k" --scratch-path "$scratch" "${extra[@]}"
    echo "== $k: passed in $((SECONDS - start)) s"
done

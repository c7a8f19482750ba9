#!/usr/bin/env bash
# Builds the ELF loader fuzzer and runs it, seeded from the fixtures (Fixtures/images, Fixtures/images/broken).
# Usage: Fuzz/run.sh [libFuzzer options...]   e.g. Fuzz/run.sh -runs=1000000
# New interesting inputs go to Fuzz/corpus (git-ignored build products stay in Fuzz/.build).
set -euo pipefail
cd "$(dirname "$0")"
# --sanitize=fuzzer makes SwiftPM link libFuzzer's main, but instruments nothing by itself; -Xswiftc
# -sanitize=fuzzer,address instruments every Swift module, the main package's ELFImage and Mem included.
swift build -c release --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address
mkdir -p corpus
SWIFT_BACKTRACE=enable=no ./.build/release/FuzzELFImage -max_len=65536 -print_final_stats=1 "$@" \
    corpus ../Fixtures/images ../Fixtures/images/broken

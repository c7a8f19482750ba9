#!/usr/bin/env bash
# Builds the libFuzzer targets and runs one or all of them.
#
# Usage: Fuzz/run.sh [--no-asan] [--time SECONDS] [--runs N] [TARGET...|all] [libFuzzer options...]
#   TARGET: FuzzTranslate FuzzStage2Ops FuzzPKVM FuzzCommands FuzzELFImage (default: all, one after another)
#   --time S   stop each target after S seconds (-max_total_time); --runs N after N inputs (-runs); both:
#              whichever comes first
#   --no-asan  coverage instrumentation without AddressSanitizer (faster to build and run; used by CI)
# Seeds: Fuzz/corpus/<TARGET>/ (committed; FuzzELFImage also reads Fixtures/images). New inputs the fuzzer
# finds go to Fuzz/.work/<TARGET>/ and crashes to Fuzz/.work/<TARGET>-crash-*; neither is committed.
# Exit status: non-zero as soon as a target reports a crash, hang or sanitizer error.
set -euo pipefail
cd "$(dirname "$0")"
all=(FuzzTranslate FuzzStage2Ops FuzzPKVM FuzzCommands FuzzELFImage)
asan=1 limit=() targets=()
while [ $# -gt 0 ]; do
    case "$1" in
    --no-asan) asan=0 ;;
    --time) limit+=(-max_total_time="$2"); shift ;;
    --runs) limit+=(-runs="$2"); shift ;;
    all) targets=("${all[@]}") ;;
    Fuzz*) targets+=("$1") ;;
    *) break ;;
    esac
    shift
done
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
# --sanitize=fuzzer makes SwiftPM link libFuzzer's main but instruments nothing by itself; -Xswiftc
# -sanitize=fuzzer[,address] instruments every Swift module, the main package's included.
if [ "$asan" = 1 ]; then
    scratch=.build/asan
    flags=(--sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address)
else
    scratch=.build/cov
    flags=(--sanitize=fuzzer -Xswiftc -sanitize=fuzzer)
fi
# Only the targets asked for (and the modules they use) are built.
mkdir -p .work
for t in "${targets[@]}"; do
    # Up to three tries: a source file edited during the build fails it ("modified during the build").
    for try in 1 2 3; do
        swift build -c release --scratch-path "$scratch" "${flags[@]}" --product "$t" >".work/build-$t.log" 2>&1 \
            && break
        if [ "$try" = 3 ] || ! grep -q 'modified during the build' ".work/build-$t.log"; then
            grep -v 'Cannot export local symbol' ".work/build-$t.log" >&2
            echo "run.sh: $t did not build" >&2
            exit 1
        fi
    done
done
export SWIFT_BACKTRACE=enable=no
for t in "${targets[@]}"; do
    mkdir -p ".work/$t" "corpus/$t"
    seeds=("corpus/$t")
    maxlen=4096
    if [ "$t" = FuzzELFImage ]; then seeds+=(../Fixtures/images ../Fixtures/images/broken); maxlen=65536; fi
    echo "== $t"
    "$scratch/release/$t" -max_len="$maxlen" -timeout=20 -print_final_stats=1 -artifact_prefix=".work/$t-" \
        "${limit[@]}" "$@" ".work/$t" "${seeds[@]}"
done

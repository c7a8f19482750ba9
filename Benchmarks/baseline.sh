#!/bin/sh
# Saved benchmark baselines that survive a fresh clone (.benchmarkBaselines/ is git-ignored).
#   ./baseline.sh save [name]      run everything, store it as <name> (default main) and copy it to Baselines/
#   ./baseline.sh compare [name]   restore Baselines/ and compare a fresh run against <name>
#   ./baseline.sh check [name]     as compare, but exit 1 on a regression beyond the thresholds
set -e
cd "$(dirname "$0")"
name=${2:-main}
restore() { mkdir -p .benchmarkBaselines && cp -R Baselines/. .benchmarkBaselines/; }
case "$1" in
save)
    swift package --allow-writing-to-package-directory benchmark baseline update "$name" --no-progress
    for d in .benchmarkBaselines/*/"$name"; do
        t=$(basename "$(dirname "$d")")
        mkdir -p "Baselines/$t/$name"
        cp "$d/results.json" "Baselines/$t/$name/results.json"
    done
    ;;
compare) restore; swift package benchmark baseline compare "$name" --no-progress ;;
check) restore; swift package benchmark baseline check "$name" --no-progress ;;
*) echo "usage: $0 save|compare|check [name]" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Rebuilds the ELF test images in this folder from their sources with the Swift toolchain's own clang and
# ld.lld (no cross compiler needed), then the deliberately broken files in broken/ (make-broken.py).
# Usage: Fixtures/images/build.sh   (from anywhere; writes next to the sources)
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# image NAME: NAME.S linked with NAME.ld into NAME.elf
image() {
    clang --target=aarch64-none-elf -c "$1.S" -o "$tmp/$1.o"
    ld.lld -m aarch64elf -z max-page-size=4096 -T "$1.ld" "$tmp/$1.o" -o "$1.elf"
}

image loader
python3 make-broken.py

#!/usr/bin/env bash
# Rebuilds the ELF test images in this folder from their sources with the Swift toolchain's own clang and
# ld.lld (no cross compiler needed), records what QEMU answers for each image's probes (qemu/*.txt, when
# qemu-system-aarch64 is installed), makes the memory dump dump.core with QEMU's dump-guest-memory, and
# writes the deliberately broken files in broken/ (make-broken.py).
# Usage: Fixtures/images/build.sh   (from anywhere; writes next to the sources)
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# image NAME LDSCRIPT [LDFLAGS...]: NAME.S linked with LDSCRIPT into NAME.elf
image() {
    local name=$1 script=$2
    shift 2
    clang --target=aarch64-none-elf -march=armv8.4-a -c "$name.S" -o "$tmp/$name.o"
    ld.lld -m aarch64elf -z max-page-size=4096 "$@" -T "$script" "$tmp/$name.o" -o "$name.elf"
}

image loader loader.ld
for t in default s2-16k s2-64k lpa2; do
    image "$t" tables.ld --defsym S2_BASE=0x40100000 --defsym HYP_BASE=0x40200000
done

if command -v qemu-system-aarch64 >/dev/null; then
    mkdir -p qemu
    for t in default s2-16k s2-64k lpa2; do
        # Each line: IPA, PAR_EL1 after AT S12E1R, PAR_EL1 after AT S12E1W.
        timeout 30 qemu-system-aarch64 -M virt,virtualization=on -cpu max -m 128M -nographic -semihosting \
            -kernel "$t.elf" >"qemu/$t.txt"
    done
    ./make-dump.sh default.elf dump.core
fi

python3 make-broken.py

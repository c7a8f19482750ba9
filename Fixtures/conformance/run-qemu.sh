#!/usr/bin/env bash
# Boots every conformance image (or the ones named) in QEMU and records QEMU's answers next to it:
#   images/NAME.elf  ->  images/NAME.qemu   ("I <ID_AA64MMFR0_EL1> <ID_AA64MMFR1_EL1> <ID_AA64MMFR2_EL1>", then
#                                             "P <address> <PAR_EL1 after the read AT> <PAR_EL1 after the write AT>")
# With --check, compares QEMU's answers with the recorded ones instead of writing them (used by .ci/run).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
check=0
if [ "${1:-}" = "--check" ]; then check=1; shift; fi
qemu="${QEMU:-qemu-system-aarch64}"
command -v "$qemu" >/dev/null || { echo "run-qemu.sh: $qemu not found" >&2; exit 2; }
version="$("$qemu" --version | head -1)"
if [ $# -gt 0 ]; then images=("$@"); else images=("$here"/images/*.elf); fi
fail=0
for elf in "${images[@]}"; do
    out="${elf%.elf}.qemu"
    raw="$(timeout 60 "$qemu" -M virt,virtualization=on -cpu max -m 128M -semihosting -nographic \
        -kernel "$elf" </dev/null 2>&1 | tr -d '\r')" || true
    if ! grep -qx END <<<"$raw"; then
        echo "FAIL $(basename "$elf"): QEMU did not finish the probe list" >&2
        fail=1
        continue
    fi
    answers="$(grep -E '^(I|P) ' <<<"$raw")"
    if [ $check -eq 1 ]; then
        if [ "$answers" != "$(grep -E '^(I|P) ' "$out")" ]; then
            echo "FAIL $(basename "$elf"): QEMU's answers differ from $(basename "$out")" >&2
            fail=1
        else
            echo "ok   $(basename "$elf"): $(grep -c '^P ' <<<"$answers") probes as recorded"
        fi
    else
        { echo "# $version"
          echo "# $qemu -M virt,virtualization=on -cpu max -m 128M -semihosting -nographic -kernel $(basename "$elf")"
          echo "# I <ID_AA64MMFR0_EL1> <ID_AA64MMFR1_EL1> <ID_AA64MMFR2_EL1>"
          echo "# P <address> <PAR_EL1 after AT S12E1R or S1E1R> <PAR_EL1 after AT S12E1W or S1E1W>"
          echo "$answers"; } >"$out"
        echo "recorded $(basename "$out") ($(grep -c '^P ' <<<"$answers") probes)"
    fi
done
exit $fail

#!/usr/bin/env bash
# make-dump.sh IMAGE OUT: boots IMAGE in QEMU (virt, 128 MiB RAM at 0x4000_0000), lets its EL2 program run
# to its end, and writes the guest's physical memory 0x4000_0000..0x4040_0000 as an ELF core with the QEMU
# monitor's dump-guest-memory (the reference memory-dump format: ET_CORE, PT_LOADs at physical addresses,
# no symbols). The range keeps the file small; it holds the image's program, data and tables.
set -euo pipefail
image=$1 out=$2
rm -f "$out"
sock=$(mktemp -u)
qemu-system-aarch64 -M virt,virtualization=on -cpu max -m 128M -display none -serial null \
    -semihosting-config enable=on,target=native -kernel "$image" -S \
    -monitor "unix:$sock,server,nowait" &
qemu=$!
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
# The image's data and tables are in RAM as soon as QEMU has loaded it (before the CPU runs), which is
# what a dump of a stopped machine shows.
python3 - "$sock" "$out" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
def cmd(c):
    s.sendall((c + "\n").encode()); time.sleep(0.5)
    try:
        s.settimeout(2); s.recv(65536)
    except socket.timeout:
        pass
cmd("dump-guest-memory %s 0x40000000 0x400000" % sys.argv[2])
time.sleep(1)
cmd("quit")
PY
wait $qemu || true
rm -f "$sock"
chmod 644 "$out"
test -s "$out"

#!/usr/bin/env python3
"""Summarises what the recorded QEMU answers in images/*.qemu cover, as Markdown tables for
docs/conformance.md: images and accesses per granule and number of levels, and the outcomes QEMU gave
(success, or fault kind and level decoded from PAR_EL1.FST)."""

import collections
import glob
import os

HERE = os.path.dirname(os.path.abspath(__file__))
FST = {}
for level in range(4):
    FST[0x00 + level] = "address size L%d" % level
    FST[0x04 + level] = "translation L%d" % level
    FST[0x08 + level] = "access flag L%d" % level
    FST[0x0C + level] = "permission L%d" % level
FST[0x29] = "address size L-1"
FST[0x2B] = "translation L-1"


def main():
    per_shape = collections.Counter()
    images_per_shape = collections.Counter()
    outcomes = collections.Counter()
    total = 0
    files = sorted(glob.glob(os.path.join(HERE, "images", "*.qemu")))
    for path in files:
        name = os.path.basename(path)[:-5]
        parts = name.split("-")
        hyp = parts[0] == "hyp"
        if hyp:
            parts = parts[1:]
        gran = parts[0].upper()
        shape = "invalid VTCR_EL2" if "invalid" in name else ("hyp stage 1, " if hyp else "stage 2, ") + gran + " " + next(
            (p for p in parts if p.endswith("l") and p[:-1].isdigit()), "?") + (" LPA2" if "lpa2" in parts else "") + (
            " LPA" if "lpa" in parts else "")
        images_per_shape[shape] += 1
        for line in open(path):
            if not line.startswith("P "):
                continue
            _, _, r, w = line.split()
            for par in (int(r, 16), int(w, 16)):
                total += 1
                per_shape[shape] += 1
                if par & 1 == 0:
                    outcomes["success"] += 1
                else:
                    outcomes[FST.get((par >> 1) & 0x3F, "FST 0x%x" % ((par >> 1) & 0x3F))] += 1
    print("| regime (granule, levels walked) | images | accesses |\n|---|---|---|")
    for shape in sorted(per_shape):
        print("| %s | %d | %d |" % (shape, images_per_shape[shape], per_shape[shape]))
    print("| **total** | **%d** | **%d** (%d probes × a read and a write AT) |\n" % (len(files), total, total // 2))
    print("| QEMU's answer | accesses |\n|---|---|")
    for k, v in sorted(outcomes.items(), key=lambda kv: (-kv[1], kv[0])):
        print("| %s | %d |" % (k, v))


if __name__ == "__main__":
    main()

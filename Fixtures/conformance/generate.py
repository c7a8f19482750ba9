#!/usr/bin/env python3
"""Generates the s2emu stage-2 conformance images (ELF test images per ../../../shared/IMAGE-FORMAT.md).

Each image holds random but controlled stage-2 translation tables (tables, blocks, pages, invalid
entries, AF=0, every S2AP, XN, contiguous hints, DBM, software bits, reserved encodings, output
addresses beyond PS, concatenated roots, aliased tables), the register words s2_vtcr / s2_vttbr, a probe
list (probe_count / probe_ipas) and the EL2 program el2.S that runs AT S12E1R and AT S12E1W for every
probe under QEMU. The hyp-* images hold hyp stage-1 tables instead (hyp_tcr / hyp_ttbr0, plus el1_tcr,
the TCR_EL1 the program walks them with: AT S1E1R / AT S1E1W). The same seed always gives the same bytes.

Usage: generate.py [--out DIR]   (needs the Swift toolchain's clang and ld.lld on PATH)

The tables avoid the places where QEMU 7.2 is known to differ from the Arm ARM (see docs/conformance.md),
except for blocks at levels where the granule allows none, which some images carry on purpose.
"""

import argparse
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TABLE_BASE = 0x4024_0000          # link.ld places .tables here
RAM_END = 0x4800_0000             # 128 MiB of virt RAM from 0x4000_0000
PARANGE = [32, 36, 40, 42, 44, 48, 52]
TG0 = {4: 0b00, 16: 0b10, 64: 0b01}


def bits(hi, lo):
    return ((1 << (hi - lo + 1)) - 1) << lo


class Config:
    """One stage-2 regime: granule (KiB), input size, start level, PS, DS, HA/HD."""

    def __init__(self, name, gran, ia, start, ps=48, ds=False, ha=False, hd=False, seed=0,
                 bad_blocks=False, vtcr_override=None, probes=60, stage1=False, tbi=False, hpd=False):
        self.name, self.gran, self.ia, self.start = name, gran, ia, start
        self.ps, self.ds, self.ha, self.hd, self.seed = ps, ds, ha, hd, seed
        self.bad_blocks = bad_blocks
        self.vtcr_override = vtcr_override
        self.probes = probes
        self.stage1, self.tbi, self.hpd = stage1, tbi, hpd
        self.shift = {4: 12, 16: 14, 64: 16}[gran]
        self.stride = self.shift - 3
        self.entries = 1 << self.stride
        self.page = 1 << self.shift

    def level_shift(self, level):
        return self.stride * (3 - level) + self.shift

    def root_pages(self):
        return 1 << max(0, self.ia - self.level_shift(self.start) - self.stride)

    def tcr_el2(self):
        """TCR_EL2 (non-VHE) for a stage-1 image: T0SZ, IRGN0/ORGN0/SH0, TG0, PS, TBI, HA, HD, HPD, DS, RES1
        bits 31 and 23. The start level follows from T0SZ (AArch64.S1StartLevel)."""
        t = (64 - self.ia) | (1 << 31) | (1 << 23) | (1 << 8) | (1 << 10) | (3 << 12)
        t |= TG0[self.gran] << 14 | PARANGE.index(self.ps) << 16
        t |= (self.tbi << 20) | (self.ha << 21) | (self.hd << 22) | (self.hpd << 24) | (self.ds << 32)
        return t

    def tcr_el1(self):
        """The EL1&0 translation of tcr_el2() the probe program walks with: TTBR0 fields in place, T1SZ = 16
        with EPD1 (no TTBR1 walks) and a 4K TG1, PS as IPS, TBI0, HA, HD, HPD0, DS at their TCR_EL1 places."""
        t = (64 - self.ia) | (1 << 8) | (1 << 10) | (3 << 12) | TG0[self.gran] << 14
        t |= 16 << 16 | 1 << 23 | 0b10 << 30 | PARANGE.index(self.ps) << 32
        t |= (self.tbi << 37) | (self.ha << 39) | (self.hd << 40) | (self.hpd << 41) | (self.ds << 59)
        return t

    def vtcr(self):
        if self.vtcr_override is not None:
            return self.vtcr_override
        v = (64 - self.ia) | (1 << 31) | (1 << 8) | (1 << 10) | (3 << 12)
        v |= TG0[self.gran] << 14
        v |= PARANGE.index(self.ps) << 16
        if self.start == -1:
            v |= 1 << 33          # SL2, SL0 = 0
        elif self.gran == 4:
            v |= (3 if self.start == 3 else 2 - self.start) << 6
        else:
            v |= (3 - self.start) << 6
        if self.ha:
            v |= 1 << 21
        if self.hd:
            v |= 1 << 22
        if self.ds:
            v |= 1 << 32
        return v

    def block_ok(self, level):
        """AArch64.BlockDescSupported for this regime (PAMax 52)."""
        if self.gran == 4:
            return level in (1, 2) or (level == 0 and self.ds)
        if self.gran == 16:
            return level == 2 or (level == 1 and self.ds)
        return level in (1, 2)

    def max_oa_bits(self):
        """Bits a descriptor can carry without touching fields QEMU 7.2 reads differently."""
        if self.ds:
            return 52 if self.ps == 52 else 50      # OA[51:50] (bits 9:8) only with PS = 52
        if self.gran == 64:
            return 52 if self.ps == 52 else 48      # OA[51:48] (bits 15:12) only with PS = 52
        return 48

    def encode_oa(self, oa):
        """Descriptor bits holding output address `oa` (AArch64.NextTableBase / LeafBase layout)."""
        if self.ds:
            return (oa & bits(49, self.shift)) | (((oa >> 50) & 3) << 8)
        if self.gran == 64:
            return (oa & bits(47, 16)) | (((oa >> 48) & 0xF) << 12)
        return oa & bits(47, self.shift)


class Image:
    def __init__(self, cfg):
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.words = {}            # physical address -> 64-bit descriptor
        self.next_page = TABLE_BASE
        self.tables = []           # (address, level, ia_base)
        self.probe_ipas = []
        self.budget = {4: 14, 16: 10, 64: 6}[cfg.gran]

    def alloc(self, pages=1):
        size = pages * self.cfg.page
        addr = (self.next_page + size - 1) // size * size if pages > 1 else self.next_page
        self.next_page = addr + size
        assert self.next_page <= RAM_END
        return addr

    def random_oa(self, level, beyond_ps=False):
        c = self.cfg
        shift = c.level_shift(level)
        top = c.max_oa_bits()
        if beyond_ps and c.ps < top:
            oa = self.rng.randrange(1 << c.ps, 1 << top)
        else:
            oa = self.rng.randrange(0, 1 << min(c.ps, top))
        return oa & ~((1 << shift) - 1)

    def leaf(self, level):
        """A block (level < 3) or page descriptor with random attributes."""
        c, r = self.cfg, self.rng
        d = c.encode_oa(self.random_oa(level, beyond_ps=r.random() < 0.1))
        d |= 1 | (2 if level == 3 else 0)
        if c.stage1:
            d |= r.randrange(8) << 2                                # AttrIndx
            d |= r.randrange(4) << 6                                # AP[2:1]
            if not c.ds:
                d |= r.randrange(4) << 8                            # SH
            if r.random() < 0.85:
                d |= 1 << 10                                        # AF
            d |= r.randrange(2) << 11                               # nG
            if r.random() < 0.2:
                d |= 1 << 51                                        # DBM
            if r.random() < 0.15:
                d |= 1 << 52                                        # contiguous
            d |= r.randrange(4) << 53                               # PXN, UXN/XN
            d |= r.randrange(16) << 55                              # SW
            return d
        d |= r.randrange(16) << 2                                   # MemAttr
        d |= r.choices([3, 1, 2, 0], [50, 20, 15, 15])[0] << 6      # S2AP
        if not c.ds:
            d |= r.randrange(4) << 8                                # SH
        if r.random() < 0.85:
            d |= 1 << 10                                            # AF
        if r.random() < 0.2:
            d |= 1 << 51                                            # DBM
        if r.random() < 0.15:
            d |= 1 << 52                                            # contiguous
        d |= r.randrange(4) << 53                                   # XN[1:0]
        d |= r.randrange(16) << 55                                  # SW
        return d

    def alias_target(self, level):
        """An existing table to read again at level + 1: one of this level or the next, the table itself
        included (a self-loop), so entries keep a meaning the walk can reach without leaving the image."""
        return self.rng.choice([t for t in self.tables if t[1] in (level, level + 1)])[0]

    def table_desc(self, addr):
        d = self.cfg.encode_oa(addr) | 3
        if self.cfg.stage1 and self.rng.random() < 0.3:
            d |= self.rng.randrange(32) << 59       # NSTable, APTable[1:0], UXN/XNTable, PXNTable
        return d

    def probe(self, lo, size, n):
        for _ in range(n):
            self.probe_ipas.append(lo + self.rng.randrange(size))

    def fill(self, table, level, ia_base, root_pages=1):
        c, r = self.cfg, self.rng
        shift = c.level_shift(level)
        nent = c.entries * root_pages
        if level == c.start:
            nent = min(nent, 1 << (c.ia - shift))
        used = sorted(r.sample(range(nent), min(nent, r.randint(6, 12))))
        for idx in used:
            ia = ia_base + (idx << shift)
            if ia >= 1 << c.ia:
                continue
            span = 1 << shift
            entry = table + idx * 8
            roll = r.random()
            if level < 3 and roll < 0.42 and self.budget > 0:
                self.budget -= 1
                nxt = self.alloc()
                self.words[entry] = self.table_desc(nxt)
                self.tables.append((nxt, level + 1, ia))
                self.fill(nxt, level + 1, ia)
                self.probe(ia, span, 1)
            elif level < 3 and roll < 0.47 and c.ps < c.max_oa_bits():
                # table descriptor whose next-level address is beyond PS: Address size fault
                self.words[entry] = self.table_desc(self.random_oa(3, beyond_ps=True))
                self.probe(ia, span, 2)
            elif level < 3 and roll < 0.52:
                # alias: point back at an existing table (possibly this one or the root): the walk reads
                # it again one level further down, and stops at level 3 at the latest
                self.words[entry] = self.table_desc(self.alias_target(level))
                self.probe(ia, span, 3)
            elif level < 3 and roll < 0.80:
                if c.block_ok(level) or c.bad_blocks:
                    self.words[entry] = self.leaf(level)
                    self.probe(ia, span, 3 if c.block_ok(level) else 1)
                else:
                    self.words[entry] = r.randrange(1 << 63) & ~1       # invalid (bit 0 clear)
                    self.probe(ia, span, 1)
            elif level == 3 and roll < 0.72:
                self.words[entry] = self.leaf(3)
                self.probe(ia, span, 2)
            elif level == 3 and roll < 0.80:
                self.words[entry] = self.leaf(3) & ~2                   # reserved 0b01 at level 3
                self.probe(ia, span, 1)
            elif roll < 0.90:
                self.words[entry] = r.randrange(1 << 63) & ~1           # invalid, garbage above bit 0
                self.probe(ia, span, 1)
            else:
                # garbage leaf: random attribute bits around a valid output address
                g = r.randrange(1 << 64)
                keep = bits(63, 59) | bits(11, 2) if not c.ds else bits(63, 59) | bits(7, 2) | bits(11, 10)
                d = (self.leaf(level) & ~keep) | (g & keep)
                if c.gran == 64 and c.ps < 52:
                    d &= ~bits(15, 12)
                if level < 3 and not c.block_ok(level):
                    d = self.table_desc(self.alias_target(level))
                self.words[entry] = d
                self.probe(ia, span, 1)

    def build(self):
        c, r = self.cfg, self.rng
        pages = c.root_pages()
        root = self.alloc(pages)
        self.tables.append((root, c.start, 0))
        self.fill(root, c.start, 0, root_pages=pages)
        # then random addresses anywhere in the input space, and beyond it (below 2^52, where stage 1
        # with the MMU off still passes the address through)
        self.probe_ipas = self.probe_ipas[: c.probes - 6]
        while len(self.probe_ipas) < c.probes - 2:
            self.probe(0, 1 << c.ia, 1)
        for _ in range(2):
            if c.ia < 52:
                self.probe(1 << c.ia, (1 << 52) - (1 << c.ia), 1)
            else:
                self.probe(0, 1 << c.ia, 1)
        if c.stage1:
            # a top byte on some mapped addresses: ignored with TBI, a translation fault without
            for i in range(0, len(self.probe_ipas) - 2, 7):
                self.probe_ipas[i] |= self.rng.randrange(1, 256) << 56
        return root

    def assembly(self, root):
        c = self.cfg
        out = ["// generated by generate.py: %s (seed %d)" % (c.name, c.seed),
               "    .section .data.regs, \"aw\"", "    .balign 8",
               "    .global probe_count, probe_ipas"]
        if c.stage1:
            out += ["    .global hyp_tcr, hyp_ttbr0, el1_tcr",
                    "hyp_tcr:     .quad 0x%x" % c.tcr_el2(),
                    "hyp_ttbr0:   .quad 0x%x" % root,
                    "el1_tcr:     .quad 0x%x" % c.tcr_el1()]
        else:
            out += ["    .global s2_vtcr, s2_vttbr",
                    "s2_vtcr:     .quad 0x%x" % c.vtcr(),
                    "s2_vttbr:    .quad 0x%x" % root]
        out += ["probe_count: .quad %d" % len(self.probe_ipas),
                "probe_ipas:"]
        out += ["    .quad 0x%x" % ipa for ipa in self.probe_ipas]
        out += ["    .section .tables, \"aw\""]
        pos = TABLE_BASE
        for addr in sorted(self.words):
            if addr > pos:
                out.append("    .fill %d, 1, 0" % (addr - pos))
            out.append("    .quad 0x%x" % self.words[addr])
            pos = addr + 8
        if self.next_page > pos:
            out.append("    .fill %d, 1, 0" % (self.next_page - pos))
        return "\n".join(out) + "\n"


def configs():
    out = []
    seed = 1000

    def add(name, *a, **k):
        nonlocal seed
        seed += 1
        out.append(Config(name, *a, seed=seed, **k))

    # 4K: 2, 3, 4 levels; concatenated roots; start level 3 (FEAT_TTST); LPA2 (DS=1) with levels -1 and 0
    for i in range(3):
        add("4k-2l-32bit-concat4-%d" % i, 4, 32, 2, ps=40)
        add("4k-3l-39bit-%d" % i, 4, 39, 1, ps=[40, 44, 48][i])
        add("4k-4l-48bit-%d" % i, 4, 48, 0, ps=48)
    add("4k-3l-40bit-concat2", 4, 40, 1, ps=44)
    add("4k-3l-42bit-concat8", 4, 42, 1, ps=48)
    add("4k-2l-34bit-concat16", 4, 34, 2, ps=36)
    add("4k-1l-22bit-sl3-concat2", 4, 22, 3, ps=32)
    add("4k-4l-48bit-ha", 4, 48, 0, ps=48, ha=True)
    add("4k-3l-39bit-ha-hd", 4, 39, 1, ps=40, ha=True, hd=True)
    add("4k-invalid-ipa44-wider-than-ps36", 4, 44, 0, ps=36, probes=12)
    add("4k-4l-48bit-badblocks", 4, 48, 0, ps=48, bad_blocks=True)
    for i in range(2):
        add("4k-lpa2-5l-52bit-%d" % i, 4, 52, -1, ps=52, ds=True)
    add("4k-lpa2-4l-48bit-l0blocks", 4, 48, 0, ps=52, ds=True)
    add("4k-lpa2-4l-48bit-ps48", 4, 48, 0, ps=48, ds=True)
    add("4k-lpa2-4l-44bit-ps44", 4, 44, 0, ps=44, ds=True)
    add("4k-lpa2-5l-52bit-ha", 4, 52, -1, ps=52, ds=True, ha=True)
    # 16K: 2, 3 levels, concatenated roots; LPA2 with 4 levels and level-1 blocks
    for i in range(2):
        add("16k-2l-36bit-%d" % i, 16, 36, 2, ps=40)
        add("16k-3l-47bit-%d" % i, 16, 47, 1, ps=48)
    add("16k-2l-40bit-concat16", 16, 40, 2, ps=42)
    add("16k-3l-48bit-concat2", 16, 48, 1, ps=48)
    add("16k-3l-47bit-ha", 16, 47, 1, ps=48, ha=True)
    add("16k-3l-47bit-badblocks", 16, 47, 1, ps=48, bad_blocks=True)
    add("16k-1l-25bit", 16, 25, 3, ps=32)
    for i in range(2):
        add("16k-lpa2-3l-48bit-concat2-%d" % i, 16, 48, 1, ps=52, ds=True)
    add("16k-lpa2-3l-44bit-ps44", 16, 44, 1, ps=44, ds=True)
    add("16k-lpa2-3l-47bit-ha", 16, 47, 1, ps=52, ds=True, ha=True)
    # 64K: 2, 3 levels, concatenated roots; FEAT_LPA 52-bit output addresses and level-1 blocks
    for i in range(2):
        add("64k-2l-42bit-%d" % i, 64, 42, 2, ps=44)
        add("64k-3l-48bit-%d" % i, 64, 48, 1, ps=48)
    add("64k-2l-44bit-concat4", 64, 44, 2, ps=44)
    add("64k-2l-40bit-ps40", 64, 40, 2, ps=40)
    add("64k-3l-48bit-ha-hd", 64, 48, 1, ps=48, ha=True, hd=True)
    for i in range(2):
        add("64k-lpa-3l-52bit-%d" % i, 64, 52, 1, ps=52)
    add("64k-1l-29bit", 64, 29, 3, ps=32)
    # VTCR_EL2 combinations the architecture rejects: every address is a translation fault at level 0
    add("4k-invalid-sl0-inconsistent", 4, 44, 1, ps=48, probes=12)            # 44-bit at L1 needs > 16 roots
    add("64k-invalid-sl0-3", 64, 48, 1, ps=48, probes=12,
        vtcr_override=(16 | 1 << 31 | 3 << 6 | 1 << 14 | 5 << 16))
    add("16k-invalid-sl0-3-no-ds", 16, 48, 0, ps=48, probes=12,
        vtcr_override=(16 | 1 << 31 | 3 << 6 | 2 << 14 | 5 << 16))
    add("4k-invalid-t0sz-8", 4, 48, 0, ps=48, probes=12,
        vtcr_override=(8 | 1 << 31 | 2 << 6 | 0 << 14 | 5 << 16))
    add("4k-invalid-sl2-sl0", 4, 52, -1, ps=52, ds=True, probes=12,
        vtcr_override=(12 | 1 << 31 | 1 << 6 | 0 << 14 | 6 << 16 | 1 << 32 | 1 << 33))
    # Reserved encodings with an IMPLEMENTATION DEFINED meaning: TG0 = 0b11 (QEMU walks it as 4K) and
    # PS = 0b111 (QEMU bounds it by PARange, i.e. 52 bits)
    add("4k-3l-39bit-reserved-tg0", 4, 39, 1, ps=40)
    out[-1].vtcr_override = out[-1].vtcr() | 3 << 14
    add("4k-3l-39bit-reserved-ps", 4, 39, 1, ps=48)
    out[-1].vtcr_override = out[-1].vtcr() | 7 << 16
    # The hyp stage 1 (TCR_EL2 + TTBR0_EL2), walked under QEMU as the EL1&0 stage 1 (see el2.S)
    add("hyp-4k-4l-48bit", 4, 48, 0, ps=48, stage1=True)
    add("hyp-4k-3l-39bit-ps40", 4, 39, 1, ps=40, stage1=True)
    add("hyp-4k-4l-48bit-tbi-hpd", 4, 48, 0, ps=48, stage1=True, tbi=True, hpd=True)
    add("hyp-4k-4l-48bit-ha", 4, 48, 0, ps=44, stage1=True, ha=True, hd=True)
    add("hyp-4k-lpa2-5l-52bit", 4, 52, -1, ps=52, ds=True, stage1=True)
    add("hyp-16k-4l-48bit", 16, 48, 0, ps=48, stage1=True)
    add("hyp-16k-3l-40bit-tbi", 16, 40, 1, ps=40, stage1=True, tbi=True)
    add("hyp-64k-2l-42bit", 64, 42, 2, ps=44, stage1=True)
    add("hyp-64k-lpa-3l-52bit", 64, 52, 1, ps=52, stage1=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(HERE, "images"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        el2 = os.path.join(tmp, "el2.o")
        subprocess.run(["clang", "--target=aarch64-none-elf", "-c", os.path.join(HERE, "el2.S"), "-o", el2],
                       check=True)
        total = 0
        for c in configs():
            img = Image(c)
            root = img.build()
            src = os.path.join(tmp, c.name + ".S")
            obj = os.path.join(tmp, c.name + ".o")
            with open(src, "w") as f:
                f.write(img.assembly(root))
            subprocess.run(["clang", "--target=aarch64-none-elf", "-c", src, "-o", obj], check=True)
            elf = os.path.join(args.out, c.name + ".elf")
            subprocess.run(["ld.lld", "-T", os.path.join(HERE, "link.ld"), "--no-relax", el2, obj, "-o", elf],
                           check=True)
            total += len(img.probe_ipas)
            print("%-36s %s=0x%-12x root=0x%x probes=%d" % (c.name, "tcr" if c.stage1 else "vtcr",
                                                           c.tcr_el2() if c.stage1 else c.vtcr(), root,
                                                           len(img.probe_ipas)))
        print("%d images, %d probes" % (len(configs()), total), file=sys.stderr)


if __name__ == "__main__":
    main()

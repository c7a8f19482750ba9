#!/usr/bin/env python3
"""Writes broken/*: copies of loader.elf each damaged in exactly one way, one per ELFImageError case.

Run by build.sh after loader.elf is built. The offsets are the ELF64 structure layouts of the System V gABI
(Elf64_Ehdr, Elf64_Phdr, Elf64_Shdr, Elf64_Sym); loader.elf's layout is in loader.S / loader.ld.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
good = open(os.path.join(HERE, "loader.elf"), "rb").read()


def u16(b, o): return struct.unpack_from("<H", b, o)[0]
def u32(b, o): return struct.unpack_from("<I", b, o)[0]
def u64(b, o): return struct.unpack_from("<Q", b, o)[0]


E_PHOFF, E_SHOFF, E_PHENTSIZE, E_SHENTSIZE, E_SHNUM = 0x20, 0x28, 0x36, 0x3A, 0x3C
phoff, shoff = u64(good, E_PHOFF), u64(good, E_SHOFF)
phentsize, shentsize, shnum = u16(good, E_PHENTSIZE), u16(good, E_SHENTSIZE), u16(good, E_SHNUM)


def phdr(i): return phoff + i * phentsize
def shdr(i): return shoff + i * shentsize


def section(kind):
    """Index of the first section of sh_type `kind`."""
    return next(i for i in range(shnum) if u32(good, shdr(i) + 4) == kind)


SYMTAB = section(2)
symoff, symsize = u64(good, shdr(SYMTAB) + 24), u64(good, shdr(SYMTAB) + 32)
strtab_off = u64(good, shdr(u32(good, shdr(SYMTAB) + 40)) + 24)


def symbol(name):
    """File offset of the Elf64_Sym called `name`."""
    for o in range(symoff, symoff + symsize, 24):
        n = good[strtab_off + u32(good, o):].split(b"\0", 1)[0]
        if n == name.encode():
            return o
    raise KeyError(name)


def data_word(name):
    """File offset of the 8-byte word symbol `name` names (in segment 1, .data)."""
    seg = phdr(1)
    return u64(good, seg + 8) + u64(good, symbol(name) + 8) - u64(good, seg + 16)


def patch(name, edits, cut=None):
    b = bytearray(good)
    for off, fmt, value in edits:
        struct.pack_into(fmt, b, off, value)
    if cut is not None:
        b = b[:cut]
    with open(os.path.join(HERE, "broken", name), "wb") as f:
        f.write(b)


os.makedirs(os.path.join(HERE, "broken"), exist_ok=True)
with open(os.path.join(HERE, "broken", "not-elf.bin"), "wb") as f:
    f.write(b"this is not an ELF file\n")
patch("wrong-class.elf", [(4, "<B", 1)])                      # EI_CLASS = ELFCLASS32
patch("wrong-endianness.elf", [(5, "<B", 2)])                 # EI_DATA = ELFDATA2MSB
patch("wrong-machine.elf", [(0x12, "<H", 62)])                # e_machine = EM_X86_64
patch("wrong-type.elf", [(0x10, "<H", 3)])                    # e_type = ET_DYN
patch("truncated-ehdr.elf", [], cut=40)                       # ELF header cut at byte 40 of 64
patch("truncated-phdrs.elf", [], cut=phdr(1) + 20)            # program header table cut inside entry 1
patch("truncated-shdrs.elf", [(E_SHOFF, "<Q", len(good) - 8)])  # section headers start 8 bytes before EOF
patch("no-load.elf", [(phdr(i), "<I", 0) for i in range(3)])  # every PT_LOAD turned into PT_NULL
patch("segment-past-eof.elf", [(phdr(2) + 32, "<Q", 0x100000), (phdr(2) + 40, "<Q", 0x100000)])
patch("filesz-gt-memsz.elf", [(phdr(1) + 40, "<Q", 0x10)])    # segment 1: p_memsz 0x10 < p_filesz 0x40
patch("overlapping.elf", [(phdr(2) + 24, "<Q", 0x40101000)])  # segment 2 inside segment 1's .bss
patch("address-overflow.elf", [(phdr(2) + 24, "<Q", 0xFFFFFFFFFFFFFFF8)])
patch("beyond-52-bits.elf", [(phdr(2) + 24, "<Q", (1 << 52) - 8)])
patch("symbol-outside.elf", [(symbol("s2_vttbr") + 8, "<Q", 0x50000000)])
patch("probes-outside.elf", [(data_word("probe_count"), "<Q", 0x1000)])   # 0x8000 bytes: past the .bss
patch("too-many-probes.elf", [(data_word("probe_count"), "<Q", 1 << 40)])
patch("duplicate-symbol.elf", [(symbol("_start"), "<I", u32(good, symbol("s2_vtcr")))])  # _start renamed s2_vtcr
patch("incomplete-probes.elf", [(symbol("probe_count") + 6, "<H", 0)])   # probe_count made undefined
patch("bad-symtab.elf", [(shdr(SYMTAB) + 24, "<Q", len(good) + 0x1000)])  # .symtab bytes past EOF
# Valid, but segment 2 (at 4 GiB) has a 2 PiB .bss that no host can map: placing fails after segments 0 and 1
# got their regions, which must then be removed again.
patch("unmappable.elf", [(phdr(2) + 24, "<Q", 1 << 32), (phdr(2) + 40, "<Q", 1 << 51)])

// loader.elf: the loader's own fixture, no page tables. Three PT_LOADs, checked by ELFImageTests:
//   segment 0 (.text)  at 0x40080000, 8 bytes: a spin (`b .`) padded to 8
//   segment 1 (.data)  at 0x40100000: the register words below, then .bss: p_memsz = p_filesz + 0x3000
//   segment 2 (.high)  at 0x80000000 (2 GiB), 16 bytes 0x11.. / 0x22..
// Register words: s2_vtcr = 0x80023558, s2_vttbr = 0x0001000040000000, hyp_tcr = 0x80823510,
// hyp_ttbr0 = 0x40010000, probe_count = 3, probe_ipas = {0x1000, 0x40000000, 0xfffff000}.
    .section .text, "ax"
    .global _start
_start:
    b .
    .balign 8

    .section .data, "aw"
    .balign 8
    .global s2_vtcr, s2_vttbr, hyp_tcr, hyp_ttbr0, probe_count, probe_ipas
s2_vtcr:     .quad 0x80023558
s2_vttbr:    .quad 0x0001000040000000
hyp_tcr:     .quad 0x80823510
hyp_ttbr0:   .quad 0x40010000
probe_count: .quad 3
probe_ipas:  .quad 0x1000, 0x40000000, 0xfffff000

    .section .bss, "aw", %nobits
    .balign 8
    .space 0x3000

    .section .high, "aw"
    .quad 0x1111111111111111, 0x2222222222222222

// s2emu conformance probe program (runs at EL2 under qemu-system-aarch64 -M virt,virtualization=on).
//
// Stage-2 images (symbols s2_vtcr / s2_vttbr): programs VTCR_EL2 and VTTBR_EL2 from the words the symbols
// name, enables stage 2 (HCR_EL2.VM, with EL1 in AArch64: HCR_EL2.RW) while stage 1 of EL1&0 stays off
// (SCTLR_EL1.M = 0, so IPA = VA), and runs AT S12E1R and AT S12E1W for every probe.
// Stage-1 images (symbols hyp_tcr / hyp_ttbr0 and el1_tcr): the EL2 stage 1 cannot be switched on under
// this program without mapping the program itself, so the same tables are walked by the EL1&0 stage 1
// instead: TCR_EL1 = el1_tcr (the generator's translation of hyp_tcr: same T0SZ, TG0, SH0, PS as IPS, TBI,
// HA, HD, HPD, DS; TTBR1 walks disabled), TTBR0_EL1 = hyp_ttbr0, SCTLR_EL1.M = 1, no stage 2; then
// AT S1E1R and AT S1E1W (privileged, PAN clear: the same read/write permissions as the EL2 regime).
// For every probe it prints
//     P <address> <PAR_EL1 after the read AT> <PAR_EL1 after the write AT>
// in hex on the PL011 UART at 0x0900_0000 (after one line "I <ID_AA64MMFR0_EL1> <MMFR1> <MMFR2>" naming
// the implemented features), prints "END", and exits through semihosting (SYS_EXIT).
// No stack, no memory writes: the only writes to memory are the ones the table walker makes itself.

    .equ UART_DR, 0x09000000
    .equ SYS_EXIT, 0x18

    .section .text.boot, "ax"
    .global _start
_start:
    .weak   s2_vtcr, s2_vttbr, hyp_ttbr0, el1_tcr
    ldr     x0, =el1_tcr
    cbnz    x0, 5f
    mov     x25, #0                 // stage 2: AT S12E1R / AT S12E1W
    ldr     x0, =s2_vtcr
    ldr     x0, [x0]
    msr     vtcr_el2, x0
    ldr     x0, =s2_vttbr
    ldr     x0, [x0]
    msr     vttbr_el2, x0
    // SCTLR_EL1: RES1 bits only, M = 0 (stage 1 off).
    ldr     x0, =0x30d00800
    msr     sctlr_el1, x0
    // HCR_EL2.RW (bit 31) | HCR_EL2.VM (bit 0).
    mov     x0, #(1 << 31)
    orr     x0, x0, #1
    msr     hcr_el2, x0
    b       6f
5:  mov     x25, #1                 // stage 1: AT S1E1R / AT S1E1W
    ldr     x0, [x0]
    msr     tcr_el1, x0
    ldr     x0, =hyp_ttbr0
    ldr     x0, [x0]
    msr     ttbr0_el1, x0
    ldr     x0, =0x000000ff440c0400 // MAIR_EL1: Device-nGnRnE, -nGnRE, -GRE, Normal NC, Normal WB
    msr     mair_el1, x0
    // HCR_EL2.RW only: no stage 2.
    mov     x0, #(1 << 31)
    msr     hcr_el2, x0
    // SCTLR_EL1: RES1 bits and M = 1 (stage 1 on).
    ldr     x0, =0x30d00801
    msr     sctlr_el1, x0
6:  isb
    tlbi    vmalls12e1
    tlbi    vmalle1
    dsb     sy
    isb

    // "I <ID_AA64MMFR0_EL1> <ID_AA64MMFR1_EL1> <ID_AA64MMFR2_EL1>": the features the walk may use.
    ldr     x21, =UART_DR
    mov     w0, #'I'
    str     w0, [x21]
    mrs     x1, id_aa64mmfr0_el1
    bl      putsphex
    mrs     x1, id_aa64mmfr1_el1
    bl      putsphex
    mrs     x1, id_aa64mmfr2_el1
    bl      putsphex
    mov     w0, #'\n'
    str     w0, [x21]

    ldr     x19, =probe_ipas
    ldr     x20, =probe_count
    ldr     x20, [x20]
    ldr     x21, =UART_DR
1:  cbz     x20, 2f
    ldr     x22, [x19], #8
    cbnz    x25, 7f
    at      s12e1r, x22
    isb
    mrs     x23, par_el1
    at      s12e1w, x22
    isb
    mrs     x24, par_el1
    b       8f
7:  at      s1e1r, x22
    isb
    mrs     x23, par_el1
    at      s1e1w, x22
    isb
    mrs     x24, par_el1
8:
    mov     w0, #'P'
    str     w0, [x21]
    mov     w0, #' '
    str     w0, [x21]
    mov     x1, x22
    bl      puthex
    mov     w0, #' '
    str     w0, [x21]
    mov     x1, x23
    bl      puthex
    mov     w0, #' '
    str     w0, [x21]
    mov     x1, x24
    bl      puthex
    mov     w0, #'\n'
    str     w0, [x21]
    sub     x20, x20, #1
    b       1b

2:  mov     w0, #'E'
    str     w0, [x21]
    mov     w0, #'N'
    str     w0, [x21]
    mov     w0, #'D'
    str     w0, [x21]
    mov     w0, #'\n'
    str     w0, [x21]
    mov     x0, #SYS_EXIT
    ldr     x1, =exit_block
    hlt     #0xf000
3:  wfi
    b       3b

// Prints a space, then x1 as 16 hex digits on the UART at x21 (clobbers x2, x3, x4, w0).
putsphex:
    mov     x4, x30
    mov     w0, #' '
    str     w0, [x21]
    bl      puthex
    mov     x30, x4
    ret

// Prints x1 as 16 hex digits on the UART at x21 (clobbers x2, x3, w0).
puthex:
    mov     x2, #60
4:  lsr     x3, x1, x2
    and     x3, x3, #0xf
    cmp     x3, #10
    add     x0, x3, #'0'
    add     x3, x3, #('a' - 10)
    csel    x0, x3, x0, hs
    str     w0, [x21]
    subs    x2, x2, #4
    b.ge    4b
    ret

    .section .rodata.exit, "a"
    .balign 8
exit_block:
    .quad   0x20026         // ADP_Stopped_ApplicationExit
    .quad   0

// s2-16k.elf: the 16K-granule fixture. pKVM-like host stage 2 (identity map, NOFWB) and hyp stage 1 as
// Linux v6.14 writes them for the mappings below. RAM 0x4000_0000..0x1_0000_0000, PL011 at 0x0900_0000.
//
// Stage 2: 16K granule, 40-bit IPA, start level 2, 16 concatenated root tables (kvm_get_vtcr for phys_shift
// 40: two levels, 36 bits + 4 concatenation bits). VTCR_EL2 = 0x8002b558: RES1 bit 31, PS=0b010, TG0=16K
// (0b10), SH0=IS, ORGN0=IRGN0=WBWA, SL0=1 (level 2), T0SZ=24. VTTBR_EL2 = 0x4010_0000. Tables:
//   0x4010_0000  root: 16 concatenated level-2 tables (256K); table 0 covers 0..0x10_0000_0000
//   0x4014_0000  level 3 for 0x4400_0000..0x4600_0000
//   0x4014_4000  level 3 for 0x0800_0000..0x0a00_0000
// Mappings, in this order:
//   1. 0x4000_0000 +64M  RWX               -> two 32M level-2 blocks
//   2. 0x4400_0000 +16K  RWX|SW0           -> level-3 page (forced)
//   3. 0x4400_4000 +16K  RW                -> level-3 page, XN (forced)
//   4. 0x0900_0000 +16K  RW (MMIO)         -> level-3 page, XN
//   5. 0x4400_8000 +16K  set_owner(hyp)    -> invalid level-3 entry, owner 1
//
// Hyp stage 1: 16K granule, 48-bit VA, start level 0. TCR_EL2 = 0x8082b510 (RES1 31/23, PS=0b010, TG0=16K,
// SH0=IS, WBWA, T0SZ=16). TTBR0_EL2 = 0x4020_0000. Hyp VA = PA + 0x8000_0000_0000. Tables: 0x4020_0000 root
// (level 0, 2 entries used), 0x4020_4000 level 1, 0x4020_8000 level 2, 0x4020_c000 level 3, 0x4021_0000
// level 3 (UART). Mappings:
//   1. VA 0x8000_4008_0000 +16K -> 0x4008_0000  R|X   level-3 page
//   2. VA 0x8000_4009_0000 +16K -> 0x4009_0000  R|W   level-3 page
//   3. VA 0x8000_400a_0000 +16K -> 0x400a_0000  R     level-3 page
//   4. VA 0x8000_4200_0000 +32M -> 0x4200_0000  R|W   level-2 block
//   5. VA 0x8000_0900_0000 +16K -> 0x0900_0000  R|W|DEVICE  level-3 page
//
// Probes (QEMU's PAR_EL1 in qemu/s2-16k.txt):
//   0x4000_1234  level-2 block 0x4000_0000 -> PA 0x4000_1234
//   0x4200_0008  level-2 block 0x4200_0000 -> PA 0x4200_0008
//   0x4400_0010  level-3 page -> PA 0x4400_0010 (RWX, SW0)
//   0x4400_4000  level-3 page -> PA 0x4400_4000 (RW, XN)
//   0x0900_0000  level-3 page -> PA 0x0900_0000 (RW, XN)
//   0x4400_8000  owner annotation: translation fault, level 3
//   0x4400_c000  invalid level-3 entry: translation fault, level 3
//   0x4600_0000  invalid level-2 entry: translation fault, level 2
//   0x10_0000_0000  concatenated root table 1, invalid: translation fault, level 2
//   0x100_0000_0000  beyond the 40-bit IPA space: translation fault, level 0

#include "pgtable.inc"
#include "el2.inc"

    el2_program

    .section .data, "aw"
    .balign 8
    .global s2_vtcr, s2_vttbr, hyp_tcr, hyp_ttbr0, probe_count, probe_ipas
s2_vtcr:     .quad 0x8002b558
s2_vttbr:    .quad 0x40100000
hyp_tcr:     .quad 0x8082b510
hyp_ttbr0:   .quad 0x40200000
probe_count: .quad (probes_end - probe_ipas) / 8
probe_ipas:
    .quad 0x40001234, 0x42000008, 0x44000010, 0x44004000, 0x09000000
    .quad 0x44008000, 0x4400c000, 0x46000000, 0x1000000000, 0x10000000000
probes_end:

    .section .s2.t0, "aw"                   // 0x4010_0000: root, level 2, 16 concatenated tables
    entry 4, 0x40144000 | PTE_TABLE         // 0x0800_0000..: level 3 (mapping 4)
    entry 32, 0x40000000 | HOST_MEM | PTE_BLOCK  // mapping 1
    entry 33, 0x42000000 | HOST_MEM | PTE_BLOCK  // mapping 1
    entry 34, 0x40140000 | PTE_TABLE        // 0x4400_0000..: level 3 (mappings 2, 3, 5)
    table_end 0x40000

    .section .s2.t1, "aw"                   // 0x4014_0000: level 3, 0x4400_0000..
    entry 0, 0x44000000 | HOST_MEM | SW0 | PTE_PAGE   // mapping 2
    entry 1, 0x44004000 | HOST_MMIO | PTE_PAGE        // mapping 3
    entry 2, OWNER_HYP                                // mapping 5
    table_end 0x4000

    .section .s2.t2, "aw"                   // 0x4014_4000: level 3, 0x0800_0000..
    entry 0x400, 0x09000000 | HOST_MMIO | PTE_PAGE    // mapping 4
    table_end 0x4000

    .section .hyp.t0, "aw"                  // 0x4020_0000: root, level 0
    entry 1, 0x40204000 | PTE_TABLE
    table_end 0x4000

    .section .hyp.t1, "aw"                  // 0x4020_4000: level 1
    entry 0, 0x40208000 | PTE_TABLE
    table_end 0x4000

    .section .hyp.t2, "aw"                  // 0x4020_8000: level 2, VA 0x8000_0000_0000..
    entry 4, 0x40210000 | PTE_TABLE                     // mapping 5
    entry 32, 0x4020c000 | PTE_TABLE                    // mappings 1-3
    entry 33, 0x42000000 | HYP_RW | SH_IS | PTE_BLOCK   // mapping 4
    table_end 0x4000

    .section .hyp.t3, "aw"                  // 0x4020_c000: level 3, VA 0x8000_4000_0000..
    entry 32, 0x40080000 | HYP_RX | SH_IS | PTE_PAGE    // mapping 1
    entry 36, 0x40090000 | HYP_RW | SH_IS | PTE_PAGE    // mapping 2
    entry 40, 0x400a0000 | HYP_RO | SH_IS | PTE_PAGE    // mapping 3
    table_end 0x4000

    .section .hyp.t4, "aw"                  // 0x4021_0000: level 3, VA 0x8000_0800_0000..
    entry 0x400, 0x09000000 | HYP_DEVICE | SH_IS | PTE_PAGE   // mapping 5
    table_end 0x4000

// s2-64k.elf: the 64K-granule fixture. pKVM-like host stage 2 (identity map, NOFWB) and hyp stage 1 as
// Linux v6.14 writes them for the mappings below. RAM 0x4000_0000..0x1_0000_0000, PL011 at 0x0900_0000.
// (With 64K pages the kernel always uses the FEAT_LPA descriptor layout, OA[51:48] in bits 15:12; all
// addresses here are below 2^48, so those bits are zero.)
//
// Stage 2: 64K granule, 40-bit IPA, start level 2, one root table (kvm_get_vtcr for phys_shift 40).
// VTCR_EL2 = 0x80027558: RES1 bit 31, PS=0b010, TG0=64K (0b01), SH0=IS, ORGN0=IRGN0=WBWA, SL0=1 (level 2),
// T0SZ=24. VTTBR_EL2 = 0x4010_0000. Tables:
//   0x4010_0000  root, level 2 (512M per entry)
//   0x4011_0000  level 3 for 0x6000_0000..0x8000_0000
//   0x4012_0000  level 3 for 0x0000_0000..0x2000_0000
// Mappings, in this order:
//   1. 0x4000_0000 +512M RWX              -> level-2 block
//   2. 0x6000_0000 +64K  RWX|SW0          -> level-3 page (forced)
//   3. 0x6001_0000 +64K  RW               -> level-3 page, XN (forced)
//   4. 0x0900_0000 +64K  RW (MMIO)        -> level-3 page, XN
//   5. 0x6002_0000 +64K  set_owner(hyp)   -> invalid level-3 entry, owner 1
//
// Hyp stage 1: 64K granule, 48-bit VA, start level 1. TCR_EL2 = 0x80827510 (RES1 31/23, PS=0b010, TG0=64K,
// SH0=IS, WBWA, T0SZ=16). TTBR0_EL2 = 0x4020_0000. Hyp VA = PA + 0x8000_0000_0000. Tables: 0x4020_0000 root
// (level 1), 0x4021_0000 level 2, 0x4022_0000 level 3, 0x4023_0000 level 3 (UART). Mappings:
//   1. VA 0x8000_4008_0000 +64K  -> 0x4008_0000  R|X   level-3 page
//   2. VA 0x8000_4009_0000 +64K  -> 0x4009_0000  R|W   level-3 page
//   3. VA 0x8000_400a_0000 +64K  -> 0x400a_0000  R     level-3 page
//   4. VA 0x8000_6000_0000 +512M -> 0x6000_0000  R|W   level-2 block
//   5. VA 0x8000_0900_0000 +64K  -> 0x0900_0000  R|W|DEVICE  level-3 page
//
// Probes (QEMU's PAR_EL1 in qemu/s2-64k.txt):
//   0x4000_1234  level-2 block 0x4000_0000 -> PA 0x4000_1234
//   0x5fff_fff8  level-2 block 0x4000_0000 -> PA 0x5fff_fff8
//   0x6000_0010  level-3 page -> PA 0x6000_0010 (RWX, SW0)
//   0x6001_0000  level-3 page -> PA 0x6001_0000 (RW, XN)
//   0x0900_0000  level-3 page -> PA 0x0900_0000 (RW, XN)
//   0x6002_0000  owner annotation: translation fault, level 3
//   0x6003_0000  invalid level-3 entry: translation fault, level 3
//   0x8000_0000  invalid level-2 entry: translation fault, level 2
//   0x100_0000_0000  beyond the 40-bit IPA space: translation fault, level 0

#include "pgtable.inc"
#include "el2.inc"

    el2_program

    .section .data, "aw"
    .balign 8
    .global s2_vtcr, s2_vttbr, hyp_tcr, hyp_ttbr0, probe_count, probe_ipas
s2_vtcr:     .quad 0x80027558
s2_vttbr:    .quad 0x40100000
hyp_tcr:     .quad 0x80827510
hyp_ttbr0:   .quad 0x40200000
probe_count: .quad (probes_end - probe_ipas) / 8
probe_ipas:
    .quad 0x40001234, 0x5ffffff8, 0x60000010, 0x60010000, 0x09000000
    .quad 0x60020000, 0x60030000, 0x80000000, 0x10000000000
probes_end:

    .section .s2.t0, "aw"                   // 0x4010_0000: root, level 2
    entry 0, 0x40120000 | PTE_TABLE         // 0x0000_0000..: level 3 (mapping 4)
    entry 2, 0x40000000 | HOST_MEM | PTE_BLOCK   // mapping 1
    entry 3, 0x40110000 | PTE_TABLE         // 0x6000_0000..: level 3 (mappings 2, 3, 5)
    table_end 0x10000

    .section .s2.t1, "aw"                   // 0x4011_0000: level 3, 0x6000_0000..
    entry 0, 0x60000000 | HOST_MEM | SW0 | PTE_PAGE   // mapping 2
    entry 1, 0x60010000 | HOST_MMIO | PTE_PAGE        // mapping 3
    entry 2, OWNER_HYP                                // mapping 5
    table_end 0x10000

    .section .s2.t2, "aw"                   // 0x4012_0000: level 3, 0x0000_0000..
    entry 0x900, 0x09000000 | HOST_MMIO | PTE_PAGE    // mapping 4
    table_end 0x10000

    .section .hyp.t0, "aw"                  // 0x4020_0000: root, level 1
    entry 32, 0x40210000 | PTE_TABLE
    table_end 0x10000

    .section .hyp.t1, "aw"                  // 0x4021_0000: level 2, VA 0x8000_0000_0000..
    entry 0, 0x40230000 | PTE_TABLE                     // mapping 5
    entry 2, 0x40220000 | PTE_TABLE                     // mappings 1-3
    entry 3, 0x60000000 | HYP_RW | SH_IS | PTE_BLOCK    // mapping 4
    table_end 0x10000

    .section .hyp.t2, "aw"                  // 0x4022_0000: level 3, VA 0x8000_4000_0000..
    entry 8, 0x40080000 | HYP_RX | SH_IS | PTE_PAGE     // mapping 1
    entry 9, 0x40090000 | HYP_RW | SH_IS | PTE_PAGE     // mapping 2
    entry 10, 0x400a0000 | HYP_RO | SH_IS | PTE_PAGE    // mapping 3
    table_end 0x10000

    .section .hyp.t3, "aw"                  // 0x4023_0000: level 3, VA 0x8000_0000_0000..
    entry 0x900, 0x09000000 | HYP_DEVICE | SH_IS | PTE_PAGE   // mapping 5
    table_end 0x10000

// lpa2.elf: the FEAT_LPA2 fixture: 4K granule, VTCR_EL2.DS=1, 52-bit IPA and PA. pKVM-like host stage 2
// (identity map, NOFWB; mapping 3 reaches above 2^48) and hyp stage 1 as Linux
// v6.14 writes them under LPA2: OA[49:12] in place, OA[51:50] in bits 9:8 (kvm_phys_to_pte), so leaves carry
// no SH bits (shareability comes from VTCR_EL2.SH0 / TCR_EL2.SH0).
//
// Stage 2: 52-bit IPA, start level 0, 16 concatenated root tables (kvm_get_vtcr: 4 levels, no level -1).
// VTCR_EL2 = 0x1_8006_358c: DS (bit 32), RES1 bit 31, PS=0b110 (52 bits), TG0=4K, SH0=IS, ORGN0=IRGN0=WBWA,
// SL0=2 (level 0), T0SZ=12. VTTBR_EL2 = 0x4010_0000. Tables:
//   0x4010_0000  root: 16 concatenated level-0 tables (64K); table N covers IPA N<<48..
//   0x4011_0000  level 1 for 0..0x80_0000_0000
//   0x4011_1000  level 2 for 0x4000_0000..0x8000_0000
//   0x4011_2000  level 2 for 0..0x4000_0000
//   0x4011_3000  level 3 for 0x0900_0000..
//   0x4011_4000  level 1 for 0x8_0000_0000_0000..
//   0x4011_5000  level 2 for 0x8_0000_4000_0000..
//   0x4011_6000  level 3 for 0x8_0000_4000_0000..
//   0x4011_7000  level 3 for 0x4020_0000..
// Mappings, in this order:
//   1. 0x4000_0000 +2M          RWX                  -> level-2 block
//   2. 0x0900_0000 +4K          RW (MMIO)            -> level-3 page, XN
//   3. 0x8_0000_4000_0000 +4K   -> PA 0x8_0000_4000_0000 (bit 51: OA[51:50] = 0b10 in bits 9:8), RWX,
//                                  level-3 page (forced: not memory and not MMIO prot)
//   4. 0x4020_0000 +4K          set_owner(hyp)       -> invalid level-3 entry, owner 1
//
// Hyp stage 1: 4K, DS=1, 48-bit VA, start level 0. TCR_EL2 = 0x1_8086_3510 (DS, RES1 31/23, PS=0b110, TG0=4K,
// SH0=IS, WBWA, T0SZ=16). TTBR0_EL2 = 0x4020_0000. Tables: 0x4020_0000 root (level 0), 0x4020_1000 level 1,
// 0x4020_2000 level 2, 0x4020_3000 level 3, 0x4020_4000 level 2 and 0x4020_5000 level 3 (UART). Mappings:
//   1. VA 0x8000_4008_0000 +4K -> 0x4008_0000          R|X    level-3 page
//   2. VA 0x8000_4009_0000 +4K -> 0x4009_0000          R|W    level-3 page
//   3. VA 0x8000_4040_0000 +2M -> 0x8_0000_4040_0000   R|W    level-2 block with OA[51:50] = 0b10
//   4. VA 0x8000_0900_0000 +4K -> 0x0900_0000          R|W|DEVICE  level-3 page
//
// Probes (QEMU's PAR_EL1 in qemu/lpa2.txt):
//   0x4000_1234          level-2 block -> PA 0x4000_1234
//   0x0900_0000          level-3 page -> PA 0x0900_0000 (RW, XN)
//   0x8_0000_4000_0010   level-3 page -> PA 0x8_0000_4000_0010
//   0x4020_0000          owner annotation: translation fault, level 3
//   0x4020_1000          invalid level-3 entry: translation fault, level 3
//   0x4040_0000          invalid level-2 entry: translation fault, level 2
//   0x8_0000_8000_0000   invalid level-1 entry: translation fault, level 1
//   0x1_0000_0000_0000   concatenated root table 1, invalid: translation fault, level 0
//   0xf_ffff_ffff_f000   concatenated root table 15, invalid: translation fault, level 0

#include "pgtable.inc"
#include "el2.inc"

    el2_program

    .section .data, "aw"
    .balign 8
    .global s2_vtcr, s2_vttbr, hyp_tcr, hyp_ttbr0, probe_count, probe_ipas
s2_vtcr:     .quad 0x18006358c
s2_vttbr:    .quad 0x40100000
hyp_tcr:     .quad 0x180863510
hyp_ttbr0:   .quad 0x40200000
probe_count: .quad (probes_end - probe_ipas) / 8
probe_ipas:
    .quad 0x40001234, 0x09000000, 0x8000040000010, 0x40200000, 0x40201000
    .quad 0x40400000, 0x8000080000000, 0x1000000000000, 0xffffffffff000
probes_end:

.equ OA_51_50_B10,         2 << 8                       // OA[51:50] = 0b10 (bit 51), kvm_phys_to_pte under LPA2

    .section .s2.t0, "aw"                   // 0x4010_0000: root, 16 concatenated level-0 tables
    entry 0, 0x40110000 | PTE_TABLE                     // table 0: 0..0x80_0000_0000 (mappings 1, 2, 4)
    entry 8 * 512, 0x40114000 | PTE_TABLE               // table 8: 0x8_0000_0000_0000.. (mapping 3)
    table_end 0x10000

    .section .s2.t1, "aw"                   // 0x4011_0000: level 1
    entry 0, 0x40112000 | PTE_TABLE                     // 0..0x4000_0000 (mapping 2)
    entry 1, 0x40111000 | PTE_TABLE                     // 0x4000_0000.. (mappings 1, 4)
    table_end 0x1000

    .section .s2.t2, "aw"                   // 0x4011_1000: level 2, 0x4000_0000..
    entry 0, 0x40000000 | S2_RWX | PTE_BLOCK            // mapping 1
    entry 1, 0x40117000 | PTE_TABLE                     // 0x4020_0000.. (mapping 4)
    table_end 0x1000

    .section .s2.t3, "aw"                   // 0x4011_2000: level 2, 0..0x4000_0000
    entry 72, 0x40113000 | PTE_TABLE                    // mapping 2
    table_end 0x1000

    .section .s2.t4, "aw"                   // 0x4011_3000: level 3, 0x0900_0000..
    entry 0, 0x09000000 | S2_RW | PTE_PAGE              // mapping 2
    table_end 0x1000

    .section .s2.t5, "aw"                   // 0x4011_4000: level 1, 0x8_0000_0000_0000..
    entry 1, 0x40115000 | PTE_TABLE
    table_end 0x1000

    .section .s2.t6, "aw"                   // 0x4011_5000: level 2, 0x8_0000_4000_0000..
    entry 0, 0x40116000 | PTE_TABLE
    table_end 0x1000

    .section .s2.t7, "aw"                   // 0x4011_6000: level 3, 0x8_0000_4000_0000..
    entry 0, 0x40000000 | OA_51_50_B10 | S2_RWX | PTE_PAGE   // mapping 3: PA 0x8_0000_4000_0000
    table_end 0x1000

    .section .s2.t8, "aw"                   // 0x4011_7000: level 3, 0x4020_0000..
    entry 0, OWNER_HYP                                  // mapping 4
    table_end 0x1000

    .section .hyp.t0, "aw"                  // 0x4020_0000: root, level 0
    entry 256, 0x40201000 | PTE_TABLE
    table_end 0x1000

    .section .hyp.t1, "aw"                  // 0x4020_1000: level 1
    entry 0, 0x40204000 | PTE_TABLE                     // mapping 4
    entry 1, 0x40202000 | PTE_TABLE                     // mappings 1-3
    table_end 0x1000

    .section .hyp.t2, "aw"                  // 0x4020_2000: level 2, VA 0x8000_4000_0000..
    entry 0, 0x40203000 | PTE_TABLE                     // mappings 1, 2
    entry 2, 0x40400000 | OA_51_50_B10 | HYP_RW | PTE_BLOCK   // mapping 3: PA 0x8_0000_4040_0000
    table_end 0x1000

    .section .hyp.t3, "aw"                  // 0x4020_3000: level 3, VA 0x8000_4000_0000..
    entry 0x80, 0x40080000 | HYP_RX | PTE_PAGE          // mapping 1
    entry 0x90, 0x40090000 | HYP_RW | PTE_PAGE          // mapping 2
    table_end 0x1000

    .section .hyp.t4, "aw"                  // 0x4020_4000: level 2, VA 0x8000_0000_0000..
    entry 72, 0x40205000 | PTE_TABLE                    // mapping 4
    table_end 0x1000

    .section .hyp.t5, "aw"                  // 0x4020_5000: level 3, VA 0x8000_0900_0000..
    entry 0, 0x09000000 | HYP_DEVICE | PTE_PAGE         // mapping 4
    table_end 0x1000

// default.elf: the bundled default image (what `s2emu` opens without arguments), and the 4K-granule fixture.
// A small pKVM-like machine: the host's stage 2 (identity map, KVM_PGTABLE_S2_NOFWB | KVM_PGTABLE_S2_IDMAP)
// and the hypervisor's stage 1, as Linux v6.14 pKVM writes them for the mappings listed below.
//
// Machine: RAM 0x4000_0000..0x1_0000_0000 (memory for host_stage2_force_pte_cb), PL011 UART at 0x0900_0000.
//
// Stage 2: 4K granule, 40-bit IPA, start level 1, two concatenated root tables (kvm_get_vtcr for
// phys_shift 40). VTCR_EL2 = 0x80023558: RES1 bit 31, PS=0b010 (40 bits), TG0=4K, SH0=IS, ORGN0=IRGN0=WBWA,
// SL0=1 (level 1), T0SZ=24. VTTBR_EL2 = 0x4010_0000 (VMID 0). Tables, in the order a lowest-first page
// allocator hands them out for the mappings below (made in this order):
//   0x4010_0000  root (2 concatenated level-1 tables)
//   0x4010_2000  level 2 for 0x4000_0000..0x8000_0000
//   0x4010_3000  level 3 for 0x4060_0000..0x4080_0000
//   0x4010_4000  level 2 for 0x0000_0000..0x4000_0000
//   0x4010_5000  level 3 for 0x0900_0000..0x0920_0000
// Mappings (kvm_pgtable_stage2_map / _set_owner, phys == IPA):
//   1. 0x4000_0000 +4M   RWX (PKVM_HOST_MEM_PROT)          -> two level-2 blocks
//   2. 0x4060_0000 +4K   RWX|SW0 (PKVM_PAGE_SHARED_OWNED)  -> level-3 page (forced: prot != MEM_PROT)
//   3. 0x4060_1000 +4K   RW                                -> level-3 page, XN (forced)
//   4. 0x0900_0000 +4K   RW (PKVM_HOST_MMIO_PROT)          -> level-3 page, XN
//   5. 0x4070_0000 +8K   set_owner(PKVM_ID_HYP)            -> two invalid level-3 entries with owner 1
//   6. 0xC000_0000 +1G   RWX                               -> level-1 block
//
// Hyp stage 1: 4K granule, 48-bit VA, start level 0. TCR_EL2 = 0x80823510: RES1 bits 31 and 23, PS=0b010,
// TG0=4K, SH0=IS, ORGN0=IRGN0=WBWA, T0SZ=16. TTBR0_EL2 = 0x4020_0000. Hyp VA = PA + 0x8000_0000_0000.
// Tables: 0x4020_0000 root (level 0), 0x4020_1000 level 1, 0x4020_2000 level 2, 0x4020_3000 level 3 (for
// 0x8000_4000_0000..), 0x4020_4000 level 2 and 0x4020_5000 level 3 (for the UART). Mappings (kvm_pgtable_hyp_map):
//   1. VA 0x8000_4008_0000 +4K -> 0x4008_0000  PAGE_HYP_EXEC (R|X)   level-3 page
//   2. VA 0x8000_4009_0000 +4K -> 0x4009_0000  PAGE_HYP (R|W)        level-3 page
//   3. VA 0x8000_400a_0000 +4K -> 0x400a_0000  PAGE_HYP_RO (R)       level-3 page
//   4. VA 0x8000_4040_0000 +2M -> 0x4040_0000  PAGE_HYP (R|W)        level-2 block
//   5. VA 0x8000_0900_0000 +4K -> 0x0900_0000  PAGE_HYP_DEVICE       level-3 page
//
// Probes and what a stage-2 walk gives for each (PAR_EL1 from QEMU's AT S12E1R / S12E1W in brackets, as the
// EL2 program prints them; see Fixtures/images/qemu/default.txt):
//   0x4000_1234  level-2 block 0x4000_0000, PA 0x4000_1234, RWX
//   0x4020_0008  level-2 block 0x4020_0000, PA 0x4020_0008, RWX
//   0x4060_0010  level-3 page, PA 0x4060_0010, RWX, SW0 set
//   0x4060_1000  level-3 page, PA 0x4060_1000, RW, not executable
//   0x0900_0000  level-3 page, PA 0x0900_0000, RW, not executable (MMIO)
//   0x4060_2000  invalid level-3 entry: translation fault, level 3
//   0x4070_0000  invalid level-3 entry annotated owner 1 (hyp): translation fault, level 3
//   0x4080_0000  invalid level-2 entry: translation fault, level 2
//   0xC123_4000  level-1 block 0xC000_0000, PA 0xC123_4000, RWX
//   0x1_0000_0000  invalid level-1 entry: translation fault, level 1
//   0x100_0000_0000  beyond the 40-bit IPA space: translation fault, level 0

#include "pgtable.inc"
#include "el2.inc"

    el2_program

    .section .data, "aw"
    .balign 8
    .global s2_vtcr, s2_vttbr, hyp_tcr, hyp_ttbr0, probe_count, probe_ipas
s2_vtcr:     .quad 0x80023558
s2_vttbr:    .quad 0x40100000
hyp_tcr:     .quad 0x80823510
hyp_ttbr0:   .quad 0x40200000
probe_count: .quad (probes_end - probe_ipas) / 8
probe_ipas:
    .quad 0x40001234, 0x40200008, 0x40600010, 0x40601000, 0x09000000, 0x40602000
    .quad 0x40700000, 0x40800000, 0xC1234000, 0x100000000, 0x10000000000
probes_end:

// Stage 2 ------------------------------------------------------------------------------------------------
    .section .s2.t0, "aw"                   // 0x4010_0000: root, level 1, 2 concatenated tables
    entry 0, 0x40104000 | PTE_TABLE         // 0x0000_0000..: level 2 at 0x4010_4000 (mapping 4)
    entry 1, 0x40102000 | PTE_TABLE         // 0x4000_0000..: level 2 at 0x4010_2000 (mapping 1)
    entry 3, 0xC0000000 | HOST_MEM | PTE_BLOCK   // mapping 6
    table_end 0x2000

    .section .s2.t1, "aw"                   // 0x4010_2000: level 2, 0x4000_0000..0x8000_0000
    entry 0, 0x40000000 | HOST_MEM | PTE_BLOCK   // mapping 1
    entry 1, 0x40200000 | HOST_MEM | PTE_BLOCK   // mapping 1
    entry 3, 0x40103000 | PTE_TABLE              // 0x4060_0000..: level 3 (mappings 2, 3, 5)
    table_end 0x1000

    .section .s2.t2, "aw"                   // 0x4010_3000: level 3, 0x4060_0000..0x4080_0000
    entry 0x000, 0x40600000 | HOST_MEM | SW0 | PTE_PAGE   // mapping 2
    entry 0x001, 0x40601000 | HOST_MMIO | PTE_PAGE        // mapping 3 (RW on memory: same bits as MMIO)
    entry 0x100, OWNER_HYP                                // mapping 5
    entry 0x101, OWNER_HYP                                // mapping 5
    table_end 0x1000

    .section .s2.t3, "aw"                   // 0x4010_4000: level 2, 0x0000_0000..0x4000_0000
    entry 72, 0x40105000 | PTE_TABLE        // 0x0900_0000..: level 3 (mapping 4)
    table_end 0x1000

    .section .s2.t4, "aw"                   // 0x4010_5000: level 3, 0x0900_0000..0x0920_0000
    entry 0, 0x09000000 | HOST_MMIO | PTE_PAGE   // mapping 4
    table_end 0x1000

// Hyp stage 1 ---------------------------------------------------------------------------------------------
    .section .hyp.t0, "aw"                  // 0x4020_0000: root, level 0
    entry 256, 0x40201000 | PTE_TABLE       // VA 0x8000_0000_0000..
    table_end 0x1000

    .section .hyp.t1, "aw"                  // 0x4020_1000: level 1
    entry 0, 0x40204000 | PTE_TABLE         // VA 0x8000_0000_0000..: level 2 (mapping 5)
    entry 1, 0x40202000 | PTE_TABLE         // VA 0x8000_4000_0000..: level 2 (mappings 1-4)
    table_end 0x1000

    .section .hyp.t2, "aw"                  // 0x4020_2000: level 2, VA 0x8000_4000_0000..
    entry 0, 0x40203000 | PTE_TABLE                 // VA 0x8000_4000_0000..: level 3 (mappings 1-3)
    entry 2, 0x40400000 | HYP_RW | SH_IS | PTE_BLOCK   // mapping 4
    table_end 0x1000

    .section .hyp.t3, "aw"                  // 0x4020_3000: level 3, VA 0x8000_4000_0000..
    entry 0x80, 0x40080000 | HYP_RX | SH_IS | PTE_PAGE   // mapping 1
    entry 0x90, 0x40090000 | HYP_RW | SH_IS | PTE_PAGE   // mapping 2
    entry 0xa0, 0x400a0000 | HYP_RO | SH_IS | PTE_PAGE   // mapping 3
    table_end 0x1000

    .section .hyp.t4, "aw"                  // 0x4020_4000: level 2, VA 0x8000_0000_0000..
    entry 72, 0x40205000 | PTE_TABLE        // VA 0x8000_0900_0000..: level 3 (mapping 5)
    table_end 0x1000

    .section .hyp.t5, "aw"                  // 0x4020_5000: level 3, VA 0x8000_0900_0000..
    entry 0, 0x09000000 | HYP_DEVICE | SH_IS | PTE_PAGE   // mapping 5
    table_end 0x1000

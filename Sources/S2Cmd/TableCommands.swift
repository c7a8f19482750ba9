import Mem
import Pgtable

/// The stage-2 table operations, one command per `kvm_pgtable_stage2_*` function, on the table that
/// VTCR_EL2/VTTBR_EL2 select, with the session's pool as `mm_ops`. A failure reports the kernel's errno.
enum TableCommands {
    static let all: [CommandSpec] = [map, unmap, setOwner, wrprotect, relax, mkyoung, testClearYoung, leaf]

    /// Runs a table operation, turning its error into the command's.
    static func run<T>(_ body: () throws(PgtableError) -> T) throws(S2CmdError) -> T {
        do { return try body() } catch { throw .pgtable(error) }
    }

    static let map = CommandSpec(
        "map", "map <ipa> <size> <pa> <prot> [--nomemcache]",
        summary: "Map [ipa, ipa+size) to pa with prot (kvm_pgtable_stage2_map).",
        details: "prot: letters R W X, or names joined by |: R|W|X|DEVICE|NC|SW0..SW3 (enum kvm_pgtable_prot).\n"
            + "The largest blocks alignment allows; tables come from the pool. --nomemcache: no memcache, so\n"
            + "any table allocation fails with -ENOMEM as in the kernel.",
        example: "map 0x4040_0000 2M 0x4040_0000 RW", arguments: 4...4, flags: ["nomemcache"]
    ) { (s, a) throws(S2CmdError) in
        let ipa = try a.address(0, in: s)
        let size = try a.number(1)
        let pa = try a.address(2, in: s)
        let prot = try a.prot(3)
        let t = try s.stage2Table()
        try run { () throws(PgtableError) in
            try t.map(ipa, size: size, phys: pa, prot: prot, memcache: !a.flag("nomemcache"))
        }
        return .ok([("ipa", .hex(ipa)), ("size", .hex(size)), ("pa", .hex(pa)), ("prot", .string(prot.description))])
    }

    static let unmap = CommandSpec(
        "unmap", "unmap <ipa> <size>",
        summary:
            "Remove mappings and annotations in [ipa, ipa+size) (kvm_pgtable_stage2_unmap); empty tables are freed.",
        example: "unmap 0x4020_0000 4K", arguments: 2...2
    ) { (s, a) throws(S2CmdError) in
        let ipa = try a.address(0, in: s)
        let size = try a.number(1)
        let t = try s.stage2Table()
        try run { () throws(PgtableError) in try t.unmap(ipa, size: size) }
        return .ok([("ipa", .hex(ipa)), ("size", .hex(size))])
    }

    static let setOwner = CommandSpec(
        "set_owner", "set_owner <ipa> <size> <owner_id>",
        summary: "Annotate [ipa, ipa+size) as owned by owner_id in invalid entries (kvm_pgtable_stage2_set_owner).",
        example: "set_owner 0x4100_0000 4K 1", arguments: 3...3
    ) { (s, a) throws(S2CmdError) in
        let ipa = try a.address(0, in: s)
        let size = try a.number(1)
        let owner = try a.number(2)
        guard owner <= UInt64(UInt8.max) else { throw a.usage("owner_id \(owner) does not fit in 8 bits") }
        let t = try s.stage2Table()
        try run { () throws(PgtableError) in try t.setOwner(ipa, size: size, owner: UInt8(owner)) }
        return .ok([("ipa", .hex(ipa)), ("size", .hex(size)), ("owner_id", .number(Int(owner)))])
    }

    static let wrprotect = CommandSpec(
        "wrprotect", "wrprotect <ipa> <size>",
        summary: "Clear S2AP.W on every valid leaf of [ipa, ipa+size) (kvm_pgtable_stage2_wrprotect).",
        example: "wrprotect 0x4000_0000 2M", arguments: 2...2
    ) { (s, a) throws(S2CmdError) in
        let ipa = try a.address(0, in: s)
        let size = try a.number(1)
        let t = try s.stage2Table()
        try run { () throws(PgtableError) in try t.wrprotect(ipa, size: size) }
        return .ok([("ipa", .hex(ipa)), ("size", .hex(size))])
    }

    static let relax = CommandSpec(
        "relax", "relax <ipa> <prot> [--fault]",
        summary: "Add prot's permissions to the leaf mapping ipa (kvm_pgtable_stage2_relax_perms).",
        details: "R and W set S2AP bits, X clears XN. Software bits are -EINVAL. --fault: a fault-handling\n"
            + "walk (HANDLE_FAULT | SHARED), where an unmapped ipa is -EAGAIN.",
        example: "relax 0x4020_0000 X", arguments: 2...2, flags: ["fault"]
    ) { (s, a) throws(S2CmdError) in
        let ipa = try a.address(0, in: s)
        let prot = try a.prot(1)
        let t = try s.stage2Table()
        let flags: WalkFlags = a.flag("fault") ? [.handleFault, .shared] : []
        try run { () throws(PgtableError) in try t.relaxPerms(ipa, prot: prot, walkFlags: flags) }
        return .ok([("ipa", .hex(ipa)), ("prot", .string(prot.description))])
    }

    static let mkyoung = CommandSpec(
        "mkyoung", "mkyoung <ipa> [--fault]",
        summary: "Set the access flag of the leaf mapping ipa (kvm_pgtable_stage2_mkyoung).",
        details: "--fault: the walk flags of KVM's access-fault handler (HANDLE_FAULT | SHARED), where an\n"
            + "unmapped ipa stops the walk with -EAGAIN; without it (pKVM's caller passes none) an unmapped\n"
            + "ipa is left alone and the call succeeds.",
        example: "mkyoung 0x4000_0000", arguments: 1...1, flags: ["fault"]
    ) { (s, a) throws(S2CmdError) in
        let ipa = try a.address(0, in: s)
        let t = try s.stage2Table()
        let flags: WalkFlags = a.flag("fault") ? [.handleFault, .shared] : []
        try run { () throws(PgtableError) in try t.mkyoung(ipa, walkFlags: flags) }
        return .ok([("ipa", .hex(ipa))])
    }

    static let testClearYoung = CommandSpec(
        "test_clear_young", "test_clear_young <ipa> <size> [--mkold]",
        summary:
            "Report whether any leaf of [ipa, ipa+size) has AF set, clearing it with --mkold (kvm_pgtable_stage2_test_clear_young).",
        example: "test_clear_young 0x4000_0000 2M --mkold", arguments: 2...2, flags: ["mkold"]
    ) { (s, a) throws(S2CmdError) in
        let ipa = try a.address(0, in: s)
        let size = try a.number(1)
        let t = try s.stage2Table()
        let young = try run { () throws(PgtableError) in try t.testClearYoung(ipa, size: size, mkold: a.flag("mkold")) }
        return CommandOutput(text: young ? "young" : "old", json: .object([("young", .bool(young))]))
    }

    static let leaf = CommandSpec(
        "leaf", "leaf <ipa>",
        summary: "The entry mapping ipa and its level, as kvm_pgtable_get_leaf returns them.",
        example: "leaf 0x4000_1000", arguments: 1...1
    ) { (s, a) throws(S2CmdError) in
        let ipa = try a.address(0, in: s)
        let r = try s.stage2Root()
        let t = Stage2Table(
            mm: try s.ensurePool(pageShift: r.geometry.granule.shift), root: r.root, geometry: r.geometry)
        let (pte, level) = try run { () throws(PgtableError) in try t.getLeaf(ipa) }
        return CommandOutput(
            text: "level \(level) pte \(Format.hex16(pte.rawValue))",
            json: .object([("ipa", .hex(ipa)), ("level", .number(level)), ("pte", .hex(pte.rawValue))]))
    }
}

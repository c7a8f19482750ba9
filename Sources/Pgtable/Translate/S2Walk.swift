import Mem

extension TranslationRegime {
    /// Translates `address` (an IPA at stage 2, a VA at the hyp stage 1) for `access` as the hardware
    /// walker does (`AArch64.S2Translate` + `AArch64.S2Walk`, or `AArch64.S1Translate` + `AArch64.S1Walk`
    /// for `Regime_EL2`), reading descriptors from `mem`.
    ///
    /// Writes `mem` only where hardware would: the access flag when HA is set, the dirty state
    /// (S2AP[1] set / AP[2] cleared) when HA, HD and the leaf's DBM are set and the access is a write that
    /// is not an `AT` instruction. Never allocates; never loops (each table step goes one level down).
    @inlinable
    public func translate(_ address: UInt64, _ access: TranslationAccess, in mem: PhysMem) -> Translation {
        var recorder = NoWalkRecorder()
        return walk(address, access, mem, &recorder)
    }

    /// `translate` plus the descriptor read at every level.
    public func trace(_ address: UInt64, _ access: TranslationAccess, in mem: PhysMem) -> TranslationTrace {
        var recorder = StepRecorder()
        let t = walk(address, access, mem, &recorder)
        return TranslationTrace(steps: recorder.steps, translation: t)
    }

    /// The walk shared by `translate` and `trace`, in the order of the Arm ARM's checks.
    @inlinable
    func walk<R: WalkRecorder>(_ ia: UInt64, _ access: TranslationAccess, _ mem: PhysMem, _ recorder: inout R)
        -> Translation
    {
        let s2 = stage == .stage2
        @inline(__always) func fault(_ kind: FaultRecord.Kind, _ level: Int) -> Translation {
            .fault(FaultRecord(kind: kind, level: level, secondStage: s2, write: access.isWrite, address: ia))
        }
        // AArch64.S2TxSZFaults, AArch64.S2InvalidSL, AArch64.S2InconsistentSL: Translation fault, level 0.
        guard let g = geometry else { return fault(.translation, 0) }
        let granule = g.granule
        let k = walkConstants
        // AArch64.IPAIsOutOfRange (stage 2) / AArch64.VAIsOutOfRange (EL2 stage 1, TBI ignores bits 63:56).
        if ia & k.outOfRangeMask != 0 { return fault(.translation, 0) }
        // AArch64.S2SLTTEntryAddress: the root index takes every bit above the levels below it, which
        // selects among concatenated root tables.
        var level = g.startLevel
        // The index shift of `level` (`granule.levelShift(level)`), stepped down per level.
        var shift = k.startShift
        var descAddress = tableBase | ((ia & k.iaMask) &>> shift) &<< 3
        // Detect Address Size Fault by TTB.
        if descAddress & k.outputSizeMask != 0 { return fault(.addressSize, 0) }
        var apTableReadOnly = false
        var xnTable = false
        var raw: UInt64
        let lastLevel = Granule.lastLevel
        // AArch64.S1ApplyTablePerms applies (hyp stage 1 without HPD).
        let tablePermissions = !s2 && !hierarchicalPermissionsDisabled
        @inline(__always) func record(_ d: Descriptor, _ type: DescriptorType) {
            recorder.record(
                WalkStep(
                    level: level, tableAddress: PhysAddr(descAddress & ~(granule.size - 1)),
                    index: Int((descAddress & (granule.size - 1)) >> 3), entryAddress: PhysAddr(descAddress),
                    descriptor: d, kind: type.stepKind(d, level: level)))
        }
        while true {
            // FetchDescriptor: a read outside memory is a synchronous external abort on the walk.
            do { raw = try mem.read64(PhysAddr(descAddress)) } catch { return fault(.syncExternalOnWalk, level) }
            let d = Descriptor(raw)
            // A table descriptor (bits[1:0] = 0b11 above the last level) is the common case of
            // `AArch64.DecodeDescriptorType`; every other descriptor takes the full decode, which then
            // gives a leaf or an invalid descriptor (it gives a table only for the case taken here).
            guard raw & 3 == 3 && level < lastLevel else {
                let type = DescriptorType.decode(d, level: level, granule: granule, ds: ds, paMax: features.paMax)
                record(d, type)
                if type != .leaf { return fault(.translation, level) }
                break
            }
            record(d, .table)
            // AArch64.S2NextWalkStateTable / AArch64.NextTableBase, then AArch64.TTEntryAddress.
            let next = k.tableAddress.address(of: raw)
            if tablePermissions {
                // AArch64.S1ApplyTablePerms for a regime without EL0: APTable[1], XNTable.
                apTableReadOnly = apTableReadOnly || raw >> 62 & 1 == 1
                xnTable = xnTable || raw >> 60 & 1 == 1
            }
            shift &-= k.stride
            descAddress = next | ((ia &>> shift) & k.indexMask) &<< 3
            // Detect Address Size Fault by table descriptor (reported at the table descriptor's level).
            if descAddress & k.outputSizeMask != 0 { return fault(.addressSize, level) }
            level &+= 1
        }
        // AArch64.S2NextWalkStateLeaf / AArch64.LeafBase, StageOA: `format.address(of: raw, shift: blockShift)`,
        // which is the table address without the bits below the block (every block shift is below the bits
        // the formats move up, OA[51:48]).
        let blockShift = Int(truncatingIfNeeded: shift)
        let blockSize: UInt64 = 1 &<< shift
        let leafBase = k.tableAddress.address(of: raw) & ~(blockSize &- 1)
        let contiguous = raw >> 52 & 1 == 1 && Self.contiguousBitUsed(granule: granule, level: level)
        if contiguous && features.faultOnMisprogrammedContiguous
            && g.iaBits < blockShift + Self.contiguousEntriesLog2(granule: granule, level: level)
        {
            return fault(.translation, level)
        }
        if leafBase & k.outputSizeMask != 0 { return fault(.addressSize, level) }
        let af = raw >> 10 & 1 == 1
        if !af && !ha { return fault(.accessFlag, level) }
        let dbm = raw >> 51 & 1 == 1
        let permissions: TranslationPermissions
        if s2 {
            // AArch64.S2ApplyOutputPerms + AArch64.S2DirectBasePermissions.
            let xn = raw >> 54 & 1
            let xnx = features.extendedExecuteNever ? raw >> 53 & 1 : 0
            permissions = TranslationPermissions(
                read: raw >> 6 & 1 == 1, write: raw >> 7 & 1 == 1 || (hd && dbm),
                executeEL1: xn == 0 ? xnx == 0 : xnx == 1, executeEL0: xn == 0)
        } else {
            // AArch64.S1ApplyOutputPerms for Regime_EL2: AP[2] read-only, XN; table limits unless HPD.
            let readOnly = (raw >> 7 & 1 == 1 && !(hd && dbm)) || apTableReadOnly
            permissions = TranslationPermissions(
                read: true, write: !readOnly, executeEL1: raw >> 54 & 1 == 0 && !xnTable, executeEL0: false)
        }
        // AArch64.S2CheckPermissions / AArch64.S1CheckPermissions.
        if !permissions.allows(access) { return fault(.permission, level) }
        // Hardware updates (AArch64.S2Translate): AF under HA; dirty state under HA+HD+DBM for a write
        // that is not an AT instruction.
        var new = raw | (ha ? 1 << 10 : 0)
        if hd && dbm && access.isWrite && !access.addressTranslation {
            new = s2 ? new | 1 << 7 : new & ~(1 << 7)
        }
        if new != raw {
            do { try mem.write64(PhysAddr(descAddress), new) } catch { return fault(.syncExternalOnWalk, level) }
        }
        let sh = ds ? sh0 : UInt8(truncatingIfNeeded: raw >> 8 & 3)
        return .success(
            TranslationResult(
                outputAddress: leafBase | (ia & (blockSize - 1)), level: level, blockSize: blockSize,
                memAttr: UInt8(truncatingIfNeeded: s2 ? raw >> 2 & 0xf : raw >> 2 & 7), shareability: sh,
                permissions: permissions, contiguous: contiguous, dirtyBitModifier: dbm,
                softwareBits: UInt8(truncatingIfNeeded: raw >> 55 & 0xf), descriptor: Descriptor(new),
                descriptorAddress: PhysAddr(descAddress), descriptorUpdated: new != raw))
    }

    /// `AArch64.ContiguousBit`: the contiguous bit is RES0 on the block levels that only exist with
    /// 52-bit addresses (4K level 0, 16K level 1, 64K level 1).
    @inlinable
    static func contiguousBitUsed(granule: Granule, level: Int) -> Bool {
        switch granule {
        case .k4: return level != 0
        case .k16, .k64: return level != 1
        }
    }

    /// log2 of the number of entries a contiguous run spans (`ContiguousSize`): 16 for 4K; 128 at level 3
    /// and 32 at level 2 for 16K; 32 for 64K.
    @inlinable
    static func contiguousEntriesLog2(granule: Granule, level: Int) -> Int {
        switch granule {
        case .k4: return 4
        case .k16: return level == Granule.lastLevel ? 7 : 5
        case .k64: return 5
        }
    }
}

import Mem

/// What one level of a walk read: the data behind `s2emu walk` and the interactive walker.
public struct WalkStep: Equatable, Sendable {
    /// What the descriptor is at this level.
    public enum Kind: String, Sendable {
        case table, block, page, invalid
        /// Bits[1:0] = 0b01 at the last level, or a block at a level where the granule allows none
        /// (`AArch64.BlockDescSupported`): reserved (the architecture faults on it).
        case reserved
    }

    public let level: Int
    /// Physical address of the table read at this level.
    public let tableAddress: PhysAddr
    /// Index of the entry within that table.
    public let index: Int
    /// Physical address of the entry.
    public let entryAddress: PhysAddr
    public let descriptor: Descriptor
    public let kind: Kind

    public init(level: Int, tableAddress: PhysAddr, index: Int, entryAddress: PhysAddr, descriptor: Descriptor, kind: Kind) {
        self.level = level
        self.tableAddress = tableAddress
        self.index = index
        self.entryAddress = entryAddress
        self.descriptor = descriptor
        self.kind = kind
    }

    /// The kind of `d` at `level`, as the kernel's walker and the architecture classify it.
    public static func kind(of d: Descriptor, level: Int) -> Kind {
        guard d.isValid else { return .invalid }
        if level == Granule.lastLevel { return d.rawValue & 2 != 0 ? .page : .reserved }
        return d.rawValue & 2 != 0 ? .table : .block
    }
}

extension PgtableRoot {
    /// The entries a walk for `addr` reads from the root down to the leaf (the path
    /// `kvm_pgtable_get_leaf` follows), one step per level.
    /// - Throws: `outOfRange` for an address beyond `BIT(ia_bits)`, `unbackedTable` if a table lies
    ///   outside backed memory.
    public func trace(mem: PhysMem, addr: UInt64) throws(PgtableError) -> [WalkStep] {
        guard addr < geometry.inputSize else { throw .outOfRange(start: addr, end: addr &+ 1, limit: geometry.inputSize) }
        let g = geometry.granule
        var table = root + geometry.rootIndex(addr) * g.size
        var steps: [WalkStep] = []
        for level in geometry.startLevel...Granule.lastLevel {
            guard mem.contains(table, size: g.size) else {
                throw .unbackedTable(.outOfRange(address: table, size: g.size))
            }
            let index = Int((addr >> UInt64(g.levelShift(level))) & UInt64(g.entries - 1))
            let entry = table + UInt64(index * 8)
            let d: Descriptor
            do { d = Descriptor(try mem.read64(entry)) } catch { throw .unbackedTable(error) }
            let kind = WalkStep.kind(of: d, level: level)
            steps.append(WalkStep(level: level, tableAddress: table, index: index, entryAddress: entry, descriptor: d, kind: kind))
            guard kind == .table else { break }
            table = PhysAddr(d.outputAddress(granule: g, format: geometry.format))
        }
        return steps
    }
}

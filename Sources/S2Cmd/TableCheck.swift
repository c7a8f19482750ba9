import Mem
import Pgtable

/// Structural invariants of a stage-2 table, checked over the one walker (`kvm_pgtable_walk` with
/// TABLE_PRE and LEAF visits):
/// - every table pointer stays inside backed memory and below the output size (PS), and no table page is
///   reached twice (a loop or a shared subtree);
/// - no reserved encoding (`0b01` at the last level) and no block at a level where the kernel never makes
///   one (`kvm_level_supports_block_mapping`);
/// - leaf output addresses fit the output size;
/// - for table pages the session's pool handed out, the page's reference count is 1 plus the number of
///   non-zero entries in it (`stage2_pte_is_counted`: the kernel takes a reference for every non-zero entry).
public struct TableCheck: Sendable {
    public private(set) var problems: [String] = []
    public private(set) var tables = 0
    public private(set) var leaves = 0

    /// Checks the table at `root`; `pool` supplies reference counts (pages it does not track are skipped).
    public init(root: PgtableRoot, mem: PhysMem, pool: PagePool?) {
        let g = root.geometry
        var v = CheckVisitor(geometry: g, mem: mem)
        do {
            _ = try root.walk(mem: mem, addr: 0, size: g.inputSize, flags: [.leaf, .tablePre], visitor: &v)
        } catch {
            v.problems.append("walk stopped: \(error)")
        }
        problems = v.problems
        leaves = v.leaves
        var pages = (0..<g.rootPages).map { root.root.rawValue + UInt64($0) * g.granule.size }
        pages += v.tablePages
        tables = pages.count
        guard let pool else { return }
        for page in pages where pool.pageCount(PhysAddr(page)) > 0 || inPool(pool, page) {
            guard let entries = try? mem.read(PhysAddr(page), count: Int(g.granule.size)) else { continue }
            var nonZero = 0
            for i in stride(from: 0, to: entries.count, by: 8) where entries[i..<(i + 8)].contains(where: { $0 != 0 }) {
                nonZero += 1
            }
            let count = pool.pageCount(PhysAddr(page))
            if count != 1 + nonZero {
                problems.append(
                    "table page \(Format.hex(page)): reference count \(count), but 1 + \(nonZero) non-zero entries = \(1 + nonZero)"
                )
            }
        }
    }

    private func inPool(_ pool: PagePool, _ page: UInt64) -> Bool {
        page >= pool.base.rawValue && page < pool.base.rawValue + UInt64(pool.pageCount) * pool.pageSize
    }

    public var ok: Bool { problems.isEmpty }

    /// Adds a problem found by another check.
    public mutating func add(_ problem: String) { problems.append(problem) }
}

/// The visitor behind `TableCheck`.
struct CheckVisitor: PgtableVisitor {
    let geometry: Geometry
    let mem: PhysMem
    var problems: [String] = []
    var tablePages: [UInt64] = []
    var seen: Set<UInt64> = []
    var leaves = 0

    init(geometry: Geometry, mem: PhysMem) {
        self.geometry = geometry
        self.mem = mem
    }

    mutating func visit(_ ctx: VisitContext, _ kind: WalkFlags) -> Int32 {
        let d = ctx.old
        let at = "entry \(ctx.entryAddress) (level \(ctx.level), IPA \(Format.hex(ctx.addr)))"
        let oa = d.outputAddress(granule: geometry.granule, format: geometry.format)
        let limit: UInt64 = geometry.oaBits >= 64 ? ~0 : 1 << UInt64(geometry.oaBits)
        if kind == .tablePre {
            if oa >= limit {
                problems.append(
                    "\(at): table address \(Format.hex(oa)) is beyond the \(geometry.oaBits)-bit output size")
            }
            if !mem.contains(PhysAddr(oa), size: geometry.granule.size) {
                problems.append("\(at): table address \(Format.hex(oa)) is outside backed memory")
                return -KernelErrno.EFAULT
            }
            if !seen.insert(oa).inserted {
                problems.append("\(at): table page \(Format.hex(oa)) is reached a second time (loop or shared subtree)")
                return -KernelErrno.EFAULT
            }
            tablePages.append(oa)
            return 0
        }
        switch WalkStep.kind(of: d, level: ctx.level) {
        case .reserved:
            problems.append("\(at): reserved encoding \(Format.hex16(d.rawValue)) (0b01 at the last level)")
        case .block:
            leaves += 1
            if !geometry.granule.supportsBlock(at: ctx.level) {
                problems.append(
                    "\(at): block at level \(ctx.level), where the kernel never maps blocks with \(geometry.granule) pages"
                )
            }
            if oa >= limit { problems.append("\(at): output address \(Format.hex(oa)) is beyond the output size") }
        case .page:
            leaves += 1
            if oa >= limit { problems.append("\(at): output address \(Format.hex(oa)) is beyond the output size") }
        case .invalid, .table:
            break
        }
        return 0
    }
}

/// Why and where a translation failed: the Arm ARM's `FaultRecord` (`statuscode`, `level`, `secondstage`,
/// `write`, `ipaddress`) with its fault status code as PAR_EL1.FST and ESR_EL2.DFSC encode it
/// (`EncodeLDFSC`; QEMU's `arm_fi_to_lfsc`).
@frozen
public struct FaultRecord: Sendable, Equatable, CustomStringConvertible {
    /// The fault's `statuscode`.
    @frozen
    public enum Kind: String, Sendable, CaseIterable {
        /// `Fault_Translation`: an invalid descriptor (or reserved encoding), an input address outside
        /// the regime, or a control register that selects no valid regime.
        case translation
        /// `Fault_AddressSize`: a table base or output address has bits set at or above the output size.
        case addressSize
        /// `Fault_AccessFlag`: a leaf with AF=0 and no hardware access flag update.
        case accessFlag
        /// `Fault_Permission`: S2AP / XN (or AP / XN at stage 1) forbid the access.
        case permission
        /// `Fault_SyncExternalOnWalk`: a table read touched memory that does not exist.
        case syncExternalOnWalk
    }

    public let kind: Kind
    /// Lookup level the fault is reported at: -1 (FEAT_LPA2, 4K) to 3.
    public let level: Int
    /// The fault is a stage-2 fault (`secondstage`; PAR_EL1.S, bit 9).
    public let secondStage: Bool
    /// The faulting access was a write (`write`; ESR_ELx.ISS.WnR).
    public let write: Bool
    /// The input address that was translated (`ipaddress` for stage 2, the VA for the hyp stage 1).
    public let address: UInt64

    @inlinable
    public init(kind: Kind, level: Int, secondStage: Bool, write: Bool, address: UInt64) {
        self.kind = kind
        self.level = level
        self.secondStage = secondStage
        self.write = write
        self.address = address
    }

    /// The 6-bit fault status code (`EncodeLDFSC(statuscode, level)`): PAR_EL1.FST, ESR_EL2.ISS.DFSC.
    ///
    /// Address size 0b0000LL (level -1: 0b101001), translation 0b0001LL (level -1: 0b101011), access flag
    /// 0b0010LL, permission 0b0011LL, synchronous external abort on a walk 0b0101LL (level -1: 0b010011).
    @inlinable
    public var statusCode: UInt8 {
        let l = UInt8(truncatingIfNeeded: level & 3)
        switch kind {
        case .addressSize: return level < 0 ? 0b10_1001 : l
        case .translation: return level < 0 ? 0b10_1011 : 0b00_0100 | l
        case .accessFlag: return 0b00_1000 | l
        case .permission: return 0b00_1100 | l
        case .syncExternalOnWalk: return level < 0 ? 0b01_0011 : 0b01_0100 | l
        }
    }

    /// PAR_EL1 as an `AT` instruction that took this fault reports it: F (bit 0), FST (bits 6:1), PTW
    /// (bit 8, never set here: no stage-1 walk is translated), S (bit 9), RES1 bit 11.
    @inlinable
    public var par: UInt64 {
        1 | UInt64(statusCode) << 1 | (secondStage ? 1 << 9 : 0) | 1 << 11
    }

    /// The fault in words, e.g. `stage-2 access flag fault, level 3 (FST 0xb)`.
    public var description: String {
        let what: String
        switch kind {
        case .translation: what = "translation fault"
        case .addressSize: what = "address size fault"
        case .accessFlag: what = "access flag fault"
        case .permission: what = "permission fault"
        case .syncExternalOnWalk: what = "synchronous external abort on the table walk"
        }
        return "\(secondStage ? "stage-2" : "stage-1") \(what), level \(level)"
            + " (FST 0x" + String(statusCode, radix: 16) + ")"
    }
}

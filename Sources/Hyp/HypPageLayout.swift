/// The field layout of `struct hyp_page`, one entry per PFN in the hypervisor's vmemmap, per kernel version.
///
/// - v6.13 (`memory.h`): `{ unsigned short refcount; unsigned short order; }`, 4 bytes;
///   `HYP_NO_ORDER` is `USHRT_MAX` (`gfp.h`).
/// - v6.14: `{ u16 refcount; u8 order; enum pkvm_page_state host_state : 8; u32 host_share_guest_count; }`,
///   8 bytes (`BUILD_BUG_ON(sizeof(struct hyp_page) != sizeof(u64))`); `HYP_NO_ORDER` is `(u8)~0`.
///
/// All fields are little-endian at fixed byte offsets, as the kernel's arm64 build lays them out.
public struct HypPageLayout: Sendable, Equatable, CustomStringConvertible {
    public let name: String
    /// `sizeof(struct hyp_page)`.
    public let size: Int
    /// Byte width of `order` (2 for `unsigned short`, 1 for `u8`), at offset 2.
    public let orderBytes: Int
    /// Whether `host_state` (8 bits, offset 3) exists.
    public let hasHostState: Bool
    /// Whether `host_share_guest_count` (u32, offset 4) exists.
    public let hasShareGuestCount: Bool

    /// Byte offset of `refcount` (u16).
    public static let refcountOffset = 0
    /// Byte offset of `order`.
    public static let orderOffset = 2
    /// Byte offset of `host_state`.
    public static let hostStateOffset = 3
    /// Byte offset of `host_share_guest_count`.
    public static let shareGuestCountOffset = 4

    /// The v6.13 `struct hyp_page`.
    public static let v613 = HypPageLayout(
        name: "v6.13", size: 4, orderBytes: 2, hasHostState: false, hasShareGuestCount: false)
    /// The v6.14 `struct hyp_page`.
    public static let v614 = HypPageLayout(
        name: "v6.14", size: 8, orderBytes: 1, hasHostState: true, hasShareGuestCount: true)

    /// `HYP_NO_ORDER`: the order of a page that is not the head of a free block.
    @inlinable
    public var noOrder: UInt16 { orderBytes == 2 ? 0xffff : 0xff }

    public var description: String { "struct hyp_page (\(name), \(size) bytes)" }
}

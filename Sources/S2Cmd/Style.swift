#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Terminal colour: ANSI SGR sequences when output goes to a terminal (and `NO_COLOR` is unset), nothing
/// otherwise, so files, pipes and expected-output tests never see escape codes.
public struct Style: Sendable, Equatable {
    public let colour: Bool

    public init(colour: Bool) { self.colour = colour }

    /// Colour if file descriptor `fd` is a terminal and the `NO_COLOR` convention does not forbid it.
    public static func forDescriptor(_ fd: Int32) -> Style {
        Style(colour: isatty(fd) != 0 && getenv("NO_COLOR") == nil)
    }

    /// No colour.
    public static let plain = Style(colour: false)

    public func bold(_ s: String) -> String { wrap(s, "1") }
    public func dim(_ s: String) -> String { wrap(s, "2") }
    public func red(_ s: String) -> String { wrap(s, "31") }
    public func green(_ s: String) -> String { wrap(s, "32") }
    public func blue(_ s: String) -> String { wrap(s, "34") }

    private func wrap(_ s: String, _ code: String) -> String {
        colour ? "\u{1b}[\(code)m\(s)\u{1b}[0m" : s
    }
}

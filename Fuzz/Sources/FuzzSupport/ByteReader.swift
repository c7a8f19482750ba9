/// Reads a libFuzzer input as a stream of little-endian integers; past the end every read returns 0, so
/// each input (even an empty one) decodes to exactly one program and short inputs mean short programs.
public struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    /// Offset of the next unread byte.
    public private(set) var offset = 0

    public init(_ data: UnsafePointer<UInt8>, _ size: Int) {
        bytes = UnsafeRawBufferPointer(start: data, count: size)
    }

    /// Whether every byte has been read.
    public var isAtEnd: Bool { offset >= bytes.count }

    /// Bytes not read yet.
    public var remaining: Int { max(0, bytes.count - offset) }

    public mutating func u8() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func u16() -> UInt16 { UInt16(u8()) | UInt16(u8()) << 8 }

    public mutating func u32() -> UInt32 { UInt32(u16()) | UInt32(u16()) << 16 }

    public mutating func u64() -> UInt64 { UInt64(u32()) | UInt64(u32()) << 32 }

    public mutating func bool() -> Bool { u8() & 1 != 0 }

    /// A value in `0..<n` (`n` > 0).
    public mutating func below(_ n: Int) -> Int { Int(u8()) % n }

    /// One of `choices` (non-empty).
    public mutating func pick<T>(_ choices: [T]) -> T { choices[below(choices.count)] }

    /// The rest of the input, consumed.
    public mutating func rest() -> UnsafeRawBufferPointer {
        let start = min(offset, bytes.count)
        offset = bytes.count
        return UnsafeRawBufferPointer(rebasing: bytes[start...])
    }
}

/// Stops the fuzzer with a message when a promise of the code under test is broken. libFuzzer records the
/// input as a crash artifact (`precondition` is compiled out at `-Ounchecked`, this is not).
public func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError(message()) }
}

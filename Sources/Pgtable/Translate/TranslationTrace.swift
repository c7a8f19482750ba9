/// A translation with the descriptors its walk read, one `WalkStep` per level from the root down (the
/// data behind an interactive walker). A walk that stops before reading (input address out of range, an
/// invalid regime, a table base beyond the output size, a table outside memory) has fewer steps.
public struct TranslationTrace: Sendable, Equatable {
    public let steps: [WalkStep]
    public let translation: Translation

    public init(steps: [WalkStep], translation: Translation) {
        self.steps = steps
        self.translation = translation
    }
}

/// Receives each step of a walk. The walk is generic over it so that the untraced walk
/// (`NoWalkRecorder`) compiles to nothing extra.
public protocol WalkRecorder {
    mutating func record(_ step: WalkStep)
}

/// Records nothing: the hot path.
@frozen
public struct NoWalkRecorder: WalkRecorder {
    @inlinable public init() {}
    @inlinable public mutating func record(_ step: WalkStep) {}
}

/// Keeps every step, for `TranslationRegime.trace`.
public struct StepRecorder: WalkRecorder {
    public var steps: [WalkStep] = []
    public init() {}
    public mutating func record(_ step: WalkStep) { steps.append(step) }
}

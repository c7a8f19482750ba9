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

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

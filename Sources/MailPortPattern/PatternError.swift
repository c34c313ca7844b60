/// Why a pattern was refused, or why a search gave up. The message is one line that names the construct and, for a
/// refusal, why it cannot be had (every pattern must run in time linear in the text).
public struct PatternError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The class of problem; compare with the `static let` values.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case syntax, unsupported, tooLarge, stepLimit
        }

        private let base: Base

        /// The text is not a well-formed pattern (an unclosed group, a range out of order, nothing to repeat).
        public static let syntax = Kind(base: .syntax)
        /// A construct other engines have that cannot run in linear time (backreferences, lookaround, atomic
        /// groups, possessive quantifiers) or that this engine does not offer.
        public static let unsupported = Kind(base: .unsupported)
        /// Longer than `Pattern.maxLength`, repeated beyond `Pattern.maxRepetition` or compiled to more than
        /// `Pattern.maxProgramSize` instructions, or nested deeper than `Pattern.maxNesting`.
        public static let tooLarge = Kind(base: .tooLarge)
        /// A search used up its step budget. The engine is linear, so this bounds work on very long texts with
        /// large patterns; it is never a hang.
        public static let stepLimit = Kind(base: .stepLimit)

        public var description: String { base.rawValue }
    }

    public let kind: Kind
    /// One line, no trailing period.
    public let message: String
    /// 1-based position in the pattern (in characters) of the construct, where there is one.
    public let position: Int?

    init(_ kind: Kind, _ message: String, at position: Int? = nil) {
        self.kind = kind
        self.message = message
        self.position = position
    }

    public var description: String {
        position.map { "\(message) (at character \($0))" } ?? message
    }
}

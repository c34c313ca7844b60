/// A regular expression that runs in time linear in the text it searches, whatever the pattern: compiled to a
/// Thompson NFA and simulated with every live thread at once, with no backtracking. Constructs that need
/// backtracking (backreferences, lookaround, atomic groups, possessive quantifiers) are refused when the pattern is
/// compiled, with a message naming them. The syntax is documented in `Rules/README.md`.
///
///     let pattern = try Pattern(#"(?i)\bexim\s+4\.\d+"#)
///     try pattern.firstMatch(in: "220 mx ESMTP Exim 4.96")   // "Exim 4.96"
///
/// Texts are read as Unicode scalars; `\d`, `\w`, `\s` and `\b` are ASCII.
public struct Pattern: Sendable, CustomStringConvertible {
    /// Characters (Unicode scalars) in a pattern.
    public static let maxLength = 1_000
    /// Bound of a counted repetition `{n,m}`.
    public static let maxRepetition = 1_000
    /// Instructions a pattern may compile to (counted repetitions are written out).
    public static let maxProgramSize = 5_000
    /// Groups inside groups.
    public static let maxNesting = 64
    /// Steps one search may take before it gives up with `PatternError.Kind.stepLimit`. A search takes at most about
    /// 2 × program size × (text length + 1) steps, so this is reached only by large patterns on long texts (about
    /// 2,000 instructions over 5,000 characters); it bounds the work of one match to well under a second.
    public static let defaultStepLimit = 20_000_000

    /// The outcome of one search.
    public struct Match: Sendable, Equatable {
        /// The matched part of the text.
        public var text: String
        /// Where, in Unicode scalars from the start of the text.
        public var scalarRange: Range<Int>
    }

    public let source: String
    /// Shapes that are safe here but usually a mistake (see `Node.lint`), found when compiling: the tree is not
    /// kept.
    public let warnings: [String]
    let program: Program

    public init(_ source: String) throws(PatternError) {
        self.source = source
        let tree = try Parser.parse(source)
        program = try Program.compile(tree)
        warnings = tree.lint()
    }

    /// Instructions in the compiled program, for step bounds: a search takes at most about 2 × this × (length + 1).
    public var programSize: Int { program.instructions.count }

    /// The leftmost match (and among those, the one a backtracking engine would prefer), or nil.
    public func firstMatch(in text: String, stepLimit: Int = Pattern.defaultStepLimit) throws(PatternError) -> Match? {
        try search(text, wantExtent: true, stepLimit: stepLimit).match
    }

    /// Whether the pattern matches anywhere in the text (stops at the first match it sees).
    public func matches(_ text: String, stepLimit: Int = Pattern.defaultStepLimit) throws(PatternError) -> Bool {
        try search(text, wantExtent: false, stepLimit: stepLimit).match != nil
    }

    /// A search with the number of steps it took, for tests and benchmarks of the linear bound.
    public func search(
        _ text: String, wantExtent: Bool = true,
        stepLimit: Int = Pattern.defaultStepLimit
    ) throws(PatternError) -> (match: Match?, steps: Int) {
        let scalars = text.unicodeScalars.map(\.value)
        var machine = PikeVM(program: program, text: scalars, stepLimit: stepLimit)
        let outcome = try machine.run(wantExtent: wantExtent)
        guard let range = outcome.range else { return (nil, outcome.steps) }
        var matched = String.UnicodeScalarView()
        matched.append(contentsOf: scalars[range].compactMap(Unicode.Scalar.init))
        return (Match(text: String(matched), scalarRange: range), outcome.steps)
    }

    public var description: String { source }
}

/// A parsed pattern. Groups leave no trace (only whether the text matches, and where, is ever asked), and flags
/// are already applied: a case-insensitive literal is the set of its cases.
indirect enum Node: Sendable, Equatable {
    case empty
    /// One scalar from the set.
    case scalars(ScalarSet)
    case assertion(Assertion)
    case concatenation([Node])
    /// Branches in order of preference.
    case alternation([Node])
    /// `max == nil`: no upper bound. Lazy repetitions prefer fewer rounds, which decides the extent of a match.
    case repetition(Node, min: Int, max: Int?, lazy: Bool)
}

/// A condition on the position between two scalars; consumes nothing.
enum Assertion: Sendable, Equatable {
    /// `\A`, and `^` without `(?m)`.
    case textStart
    /// `\z`.
    case textEnd
    /// `$` without `(?m)`, and `\Z`: the end, or just before a line feed that ends the text.
    case textEndOrFinalNewline
    /// `^` with `(?m)`: the start or just after a line feed.
    case lineStart
    /// `$` with `(?m)`: the end or just before a line feed.
    case lineEnd
    /// `\b`, `\B`, with ASCII word characters (`\w`).
    case wordBoundary
    case notWordBoundary
}

extension Node {
    /// Whether the node can match without consuming anything (assertions count as empty).
    var isNullable: Bool {
        switch self {
        case .empty, .assertion: return true
        case .scalars: return false
        case .concatenation(let parts): return parts.allSatisfy(\.isNullable)
        case .alternation(let branches): return branches.contains(where: \.isNullable)
        case .repetition(let body, let min, _, _): return min == 0 || body.isNullable
        }
    }

    /// Every scalar the node could consume first.
    var firstScalars: ScalarSet {
        switch self {
        case .empty, .assertion: return ScalarSet()
        case .scalars(let set): return set
        case .concatenation(let parts):
            var result = ScalarSet()
            for part in parts {
                result = result.union(part.firstScalars)
                if !part.isNullable { break }
            }
            return result
        case .alternation(let branches): return branches.reduce(ScalarSet()) { $0.union($1.firstScalars) }
        case .repetition(let body, _, let max, _): return max == 0 ? ScalarSet() : body.firstScalars
        }
    }

    /// Every scalar the node could consume anywhere.
    var allScalars: ScalarSet {
        switch self {
        case .empty, .assertion: return ScalarSet()
        case .scalars(let set): return set
        case .concatenation(let parts), .alternation(let parts):
            return parts.reduce(ScalarSet()) { $0.union($1.allScalars) }
        case .repetition(let body, _, let max, _): return max == 0 ? ScalarSet() : body.allScalars
        }
    }
}

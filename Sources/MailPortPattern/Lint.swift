extension Node {
    /// Shapes that run in linear time here but are almost always a mistake, and take exponential time in
    /// backtracking engines (where the same pattern may be reused): a repetition inside a repetition over the same
    /// characters, as in `(a+)+` or `(.*)*`, and a repeated alternation whose branches can begin alike, as in
    /// `(a|aa)+`. `mailport rules validate` prints these as warnings.
    func lint() -> [String] {
        var found: [String] = []
        lint(into: &found)
        return found
    }

    fileprivate static let nestedQuantifier =
        "a repetition inside a repetition over the same characters "
        + "(as in (a+)+ or (a*)*): it runs in linear time here but usually means the inner or the outer quantifier is a mistake"
    fileprivate static let overlappingAlternation =
        "a repeated choice whose branches can begin with the same character "
        + "(as in (a|aa)+): it runs in linear time here but is usually a mistake"

    fileprivate func lint(into found: inout [String]) {
        switch self {
        case .empty, .scalars, .assertion:
            return
        case .concatenation(let parts), .alternation(let parts):
            for part in parts { part.lint(into: &found) }
        case .repetition(let body, _, let max, _):
            if max == nil || max! > 1 {
                let inner = body.innerRepetitions
                let ambiguousRounds = inner.contains { !body.mustConsume(outside: $0.allScalars) }
                if ambiguousRounds, !found.contains(Node.nestedQuantifier) { found.append(Node.nestedQuantifier) }
                if case .alternation(let branches) = body, branches.hasOverlap,
                    !found.contains(Node.overlappingAlternation)
                {
                    found.append(Node.overlappingAlternation)
                }
            }
            body.lint(into: &found)
        }
    }

    /// Repetitions of more than one round within this node (the node itself included), by their bodies.
    private var innerRepetitions: [Node] {
        switch self {
        case .empty, .scalars, .assertion: return []
        case .concatenation(let parts), .alternation(let parts): return parts.flatMap(\.innerRepetitions)
        case .repetition(let body, _, let max, _):
            return (max == nil || max! > 1 ? [body] : []) + body.innerRepetitions
        }
    }

    /// Whether every match of the node consumes at least one scalar outside `set`: such a scalar separates the
    /// rounds of an outer repetition, as the dot does in `(\.\d+)*`, so the rounds cannot be split two ways.
    private func mustConsume(outside set: ScalarSet) -> Bool {
        switch self {
        case .empty, .assertion: return false
        case .scalars(let own): return !own.intersects(set)
        case .concatenation(let parts): return parts.contains { $0.mustConsume(outside: set) }
        case .alternation(let branches): return branches.allSatisfy { $0.mustConsume(outside: set) }
        case .repetition(let body, let min, _, _): return min > 0 && body.mustConsume(outside: set)
        }
    }
}

extension Array where Element == Node {
    /// Two branches that can begin with the same scalar, or that can both match nothing.
    fileprivate var hasOverlap: Bool {
        let firsts = map(\.firstScalars)
        for left in indices {
            for right in indices where right > left {
                if firsts[left].intersects(firsts[right]) || (self[left].isNullable && self[right].isNullable) {
                    return true
                }
            }
        }
        return false
    }
}

/// One step of a compiled pattern (Thompson's construction; Russ Cox, "Regular Expression Matching: the Virtual
/// Machine Approach").
enum Instruction: Sendable, Equatable {
    /// Consume this scalar.
    case scalar(UInt32)
    /// Consume a scalar of `Program.sets[index]`.
    case set(Int)
    /// Go on at both, preferring the first (that preference decides which match is reported, never whether).
    case split(Int, Int)
    case jump(Int)
    case assert(Assertion)
    case match
}

/// A compiled pattern: instructions, the sets they refer to, and whether a match can only start at the start.
struct Program: Sendable {
    var instructions: [Instruction] = []
    var sets: [ScalarSet] = []
    var anchoredAtStart = false

    static func compile(_ node: Node) throws(PatternError) -> Program {
        var program = Program()
        try program.emit(node)
        try program.append(.match)
        program.anchoredAtStart = node.startsWithTextStart
        return program
    }

    private mutating func append(_ instruction: Instruction) throws(PatternError) {
        // Checked as instructions are written, so a huge expansion ({1000} inside {1000}) stops early.
        guard instructions.count < Pattern.maxProgramSize else {
            throw PatternError(
                .tooLarge,
                "the pattern compiles to more than \(Pattern.maxProgramSize) instructions (counted repetitions are written out); expected a smaller pattern"
            )
        }
        instructions.append(instruction)
    }

    private mutating func placeholder() throws(PatternError) -> Int {
        try append(.jump(-1))
        return instructions.count - 1
    }

    private mutating func emit(_ node: Node) throws(PatternError) {
        switch node {
        case .empty:
            break
        case .scalars(let set):
            if let single = set.single {
                try append(.scalar(single))
            } else {
                if sets.last != set { sets.append(set) }
                try append(.set(sets.count - 1))
            }
        case .assertion(let assertion):
            try append(.assert(assertion))
        case .concatenation(let parts):
            for part in parts { try emit(part) }
        case .alternation(let branches):
            // split L1, next; L1: branch; jump end; next: split L2, … ; last branch
            var jumpsToEnd: [Int] = []
            for (offset, branch) in branches.enumerated() {
                if offset == branches.count - 1 {
                    try emit(branch)
                } else {
                    let split = try placeholder()
                    try emit(branch)
                    jumpsToEnd.append(try placeholder())
                    instructions[split] = .split(split + 1, instructions.count)
                }
            }
            for jump in jumpsToEnd { instructions[jump] = .jump(instructions.count) }
        case .repetition(let body, let min, let max, let lazy):
            try emitRepetition(body, min: min, max: max, lazy: lazy)
        }
    }

    private mutating func emitRepetition(_ body: Node, min: Int, max: Int?, lazy: Bool) throws(PatternError) {
        func split(_ stay: Int, _ leave: Int) -> Instruction { lazy ? .split(leave, stay) : .split(stay, leave) }
        guard let max else {
            if min == 0 {
                // loop: split body, out; body; jump loop
                let loop = try placeholder()
                try emit(body)
                try append(.jump(loop))
                instructions[loop] = split(loop + 1, instructions.count)
            } else {
                // min-1 copies, then body; split body-start, out
                for _ in 0..<(min - 1) { try emit(body) }
                let start = instructions.count
                try emit(body)
                try append(split(start, instructions.count + 1))
            }
            return
        }
        for _ in 0..<min { try emit(body) }
        // Optional copies, nested as (x(x(x)?)?)?: every split leaves to the same end.
        var leaves: [Int] = []
        for _ in 0..<(max - min) {
            leaves.append(try placeholder())
            try emit(body)
        }
        for leave in leaves { instructions[leave] = split(leave + 1, instructions.count) }
    }
}

extension Node {
    /// Whether every match must begin at the start of the text (`^…` without `(?m)`, `\A…`): then the search
    /// tries that one start only.
    var startsWithTextStart: Bool {
        switch self {
        case .assertion(.textStart): return true
        case .concatenation(let parts): return parts.first?.startsWithTextStart ?? false
        case .alternation(let branches): return branches.allSatisfy(\.startsWithTextStart)
        default: return false
        }
    }
}

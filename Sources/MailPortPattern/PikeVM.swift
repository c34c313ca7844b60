/// Runs a program over a text by keeping every live thread at once, one position at a time (Pike's VM): each
/// instruction is entered at most once per position, so a search costs at most about twice the program's size per
/// scalar of text, whatever the pattern. Threads are kept in order of preference, so the match reported is the one a
/// backtracking engine would report (leftmost, then by greedy/lazy preference).
struct PikeVM {
    /// Threads at one position: a sparse set of instruction indexes (in order of preference) with each thread's start.
    private struct ThreadList {
        var dense: [Int]
        var starts: [Int]
        var sparse: [Int]
        var count = 0

        init(size: Int) {
            dense = Array(repeating: 0, count: size)
            starts = Array(repeating: 0, count: size)
            sparse = Array(repeating: 0, count: size)
        }

        func contains(_ pc: Int) -> Bool {
            let slot = sparse[pc]
            return slot < count && dense[slot] == pc
        }

        mutating func insert(_ pc: Int, start: Int) {
            sparse[pc] = count
            dense[count] = pc
            starts[count] = start
            count += 1
        }
    }

    struct Outcome {
        /// Scalar offsets of the match.
        var range: Range<Int>?
        var steps: Int
    }

    let program: Program
    let text: [UInt32]
    let stepLimit: Int
    private(set) var steps = 0
    private var stack: [Int] = []

    init(program: Program, text: [UInt32], stepLimit: Int) {
        self.program = program
        self.text = text
        self.stepLimit = stepLimit
    }

    /// `wantExtent`: go on after the first match is seen to learn where the preferred match ends; otherwise stop
    /// at the first match.
    mutating func run(wantExtent: Bool) throws(PatternError) -> Outcome {
        let size = program.instructions.count
        var current = ThreadList(size: size)
        var next = ThreadList(size: size)
        var matched: Range<Int>?
        let count = text.count
        var position = 0
        while true {
            // A thread for a match starting here, at the lowest preference: earlier starts win.
            if matched == nil && (position == 0 || !program.anchoredAtStart) {
                try add(0, start: position, at: position, to: &current)
            }
            if current.count == 0 && (matched != nil || program.anchoredAtStart) { break }
            next.count = 0
            let scalar: UInt32? = position < count ? text[position] : nil
            var index = 0
            threads: while index < current.count {
                let pc = current.dense[index]
                let start = current.starts[index]
                index += 1
                try spend(1)
                switch program.instructions[pc] {
                case .scalar(let wanted):
                    if scalar == wanted { try add(pc + 1, start: start, at: position + 1, to: &next) }
                case .set(let set):
                    if let scalar, program.sets[set].contains(scalar) {
                        try add(pc + 1, start: start, at: position + 1, to: &next)
                    }
                case .match:
                    matched = start..<position
                    guard wantExtent else { return Outcome(range: matched, steps: steps) }
                    // Threads after this one are less preferred than the match: drop them.
                    break threads
                case .split, .jump, .assert:
                    // Followed when the thread was added; kept in the list only to mark them visited.
                    break
                }
            }
            if position >= count { break }
            swap(&current, &next)
            position += 1
        }
        return Outcome(range: matched, steps: steps)
    }

    /// Adds the thread at `pc` and everything reachable from it without consuming, depth first in order of
    /// preference (an explicit stack: a program may chain thousands of splits).
    private mutating func add(_ pc: Int, start: Int, at position: Int, to list: inout ThreadList) throws(PatternError) {
        stack.append(pc)
        while let pc = stack.popLast() {
            if list.contains(pc) { continue }
            list.insert(pc, start: start)
            try spend(1)
            switch program.instructions[pc] {
            case .jump(let target):
                stack.append(target)
            case .split(let preferred, let other):
                stack.append(other)
                stack.append(preferred)
            case .assert(let assertion):
                if holds(assertion, at: position) { stack.append(pc + 1) }
            case .scalar, .set, .match:
                break
            }
        }
    }

    private mutating func spend(_ amount: Int) throws(PatternError) {
        steps += amount
        if steps > stepLimit {
            stack.removeAll()
            throw PatternError(
                .stepLimit,
                "the search gave up after \(stepLimit) steps on a text of \(text.count) characters; expected a shorter text or a smaller pattern"
            )
        }
    }

    private func holds(_ assertion: Assertion, at position: Int) -> Bool {
        let count = text.count
        switch assertion {
        case .textStart: return position == 0
        case .textEnd: return position == count
        case .textEndOrFinalNewline: return position == count || (position == count - 1 && text[position] == 0x0A)
        case .lineStart: return position == 0 || text[position - 1] == 0x0A
        case .lineEnd: return position == count || text[position] == 0x0A
        case .wordBoundary, .notWordBoundary:
            let before = position > 0 && ScalarSet.word.contains(text[position - 1])
            let after = position < count && ScalarSet.word.contains(text[position])
            return (before != after) == (assertion == .wordBoundary)
        }
    }
}

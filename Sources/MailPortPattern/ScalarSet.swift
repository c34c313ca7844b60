/// A set of Unicode scalar values as sorted, disjoint, non-adjacent ranges: what one step of a pattern can consume.
struct ScalarSet: Sendable, Equatable {
    static let maxScalar: UInt32 = 0x10_FFFF

    private(set) var ranges: [ClosedRange<UInt32>]

    init(_ ranges: [ClosedRange<UInt32>] = []) {
        self.ranges = ScalarSet.normalized(ranges)
    }

    static func scalar(_ value: UInt32) -> ScalarSet { ScalarSet([value...value]) }

    static let everything = ScalarSet([0...maxScalar])
    static let lineBreaks = ScalarSet([0x0A...0x0A, 0x0D...0x0D])
    static let digits = ScalarSet([0x30...0x39])
    static let word = ScalarSet([0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A])
    static let space = ScalarSet([0x09...0x0D, 0x20...0x20])

    /// POSIX bracket classes (`[[:alpha:]]`), ASCII only like the escapes.
    static let posix: [String: ScalarSet] = [
        "alpha": ScalarSet([0x41...0x5A, 0x61...0x7A]),
        "digit": digits,
        "alnum": ScalarSet([0x30...0x39, 0x41...0x5A, 0x61...0x7A]),
        "upper": ScalarSet([0x41...0x5A]),
        "lower": ScalarSet([0x61...0x7A]),
        "space": space,
        "blank": ScalarSet([0x09...0x09, 0x20...0x20]),
        "punct": ScalarSet([0x21...0x2F, 0x3A...0x40, 0x5B...0x60, 0x7B...0x7E]),
        "xdigit": ScalarSet([0x30...0x39, 0x41...0x46, 0x61...0x66]),
        "word": word,
        "cntrl": ScalarSet([0x00...0x1F, 0x7F...0x7F]),
        "print": ScalarSet([0x20...0x7E]),
        "graph": ScalarSet([0x21...0x7E]),
    ]

    var isEmpty: Bool { ranges.isEmpty }

    /// The one scalar of a single-scalar set.
    var single: UInt32? {
        guard ranges.count == 1, ranges[0].lowerBound == ranges[0].upperBound else { return nil }
        return ranges[0].lowerBound
    }

    func contains(_ value: UInt32) -> Bool {
        var low = 0
        var high = ranges.count
        while low < high {
            let middle = (low + high) / 2
            if ranges[middle].upperBound < value {
                low = middle + 1
            } else if ranges[middle].lowerBound > value {
                high = middle
            } else {
                return true
            }
        }
        return false
    }

    func union(_ other: ScalarSet) -> ScalarSet { ScalarSet(ranges + other.ranges) }

    func inverted() -> ScalarSet {
        var result: [ClosedRange<UInt32>] = []
        var next: UInt32 = 0
        for range in ranges {
            if range.lowerBound > next { result.append(next...(range.lowerBound - 1)) }
            if range.upperBound == ScalarSet.maxScalar { return ScalarSet(result) }
            next = range.upperBound + 1
        }
        result.append(next...ScalarSet.maxScalar)
        return ScalarSet(result)
    }

    func intersects(_ other: ScalarSet) -> Bool {
        var left = 0
        var right = 0
        while left < ranges.count && right < other.ranges.count {
            if ranges[left].overlaps(other.ranges[right]) { return true }
            if ranges[left].upperBound < other.ranges[right].upperBound { left += 1 } else { right += 1 }
        }
        return false
    }

    /// The set with the other case of each member added (simple, one-scalar case mappings). Large ranges get the
    /// ASCII letters' other case only, which keeps compiling a pattern cheap.
    func caseInsensitive() -> ScalarSet {
        var added: [ClosedRange<UInt32>] = []
        for range in ranges {
            // ASCII letters, range by range.
            for (letters, offset) in [(UInt32(0x41)...0x5A, Int64(0x20)), (UInt32(0x61)...0x7A, Int64(-0x20))]
            where range.overlaps(letters) {
                let low = max(range.lowerBound, letters.lowerBound)
                let high = min(range.upperBound, letters.upperBound)
                added.append(UInt32(Int64(low) + offset)...UInt32(Int64(high) + offset))
            }
            guard range.upperBound >= 0x80, range.count <= 512 else { continue }
            for value in max(range.lowerBound, 0x80)...range.upperBound {
                for other in ScalarSet.otherCases(of: value) { added.append(other...other) }
            }
        }
        return added.isEmpty ? self : ScalarSet(ranges + added)
    }

    /// The simple lower and upper case of a scalar where each is a single scalar other than itself.
    static func otherCases(of value: UInt32) -> [UInt32] {
        guard let scalar = Unicode.Scalar(value) else { return [] }
        let properties = scalar.properties
        return [properties.lowercaseMapping, properties.uppercaseMapping, properties.titlecaseMapping].compactMap {
            text in
            let scalars = text.unicodeScalars
            guard scalars.count == 1, let first = scalars.first, first.value != value else { return nil }
            return first.value
        }
    }

    private static func normalized(_ input: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
        guard input.count > 1 else { return input }
        let sorted = input.sorted { $0.lowerBound < $1.lowerBound }
        var result: [ClosedRange<UInt32>] = [sorted[0]]
        for range in sorted.dropFirst() {
            let last = result[result.count - 1]
            if range.lowerBound <= last.upperBound || range.lowerBound == last.upperBound + 1 {
                result[result.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
            } else {
                result.append(range)
            }
        }
        return result
    }
}

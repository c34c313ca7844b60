import MailPortCore

/// An inclusive range of addresses of one family, held as integers.
public struct AddressRange: Hashable, Sendable {
    public var family: IPAddress.Family
    public var first: UInt128
    public var last: UInt128

    public init(family: IPAddress.Family, first: UInt128, last: UInt128) {
        precondition(first <= last)
        self.family = family
        self.first = first
        self.last = last
    }

    /// Number of addresses; a whole IPv6 space (2^128) does not fit, so it saturates at `UInt128.max`.
    public var count: UInt128 {
        let span = last - first
        return span == UInt128.max ? UInt128.max : span + 1
    }

    /// Whether the address lies in the range (and is of its family).
    public func contains(_ address: IPAddress) -> Bool {
        let value = address.integerValue
        return family == address.family && first <= value && value <= last
    }

    public init(_ spec: TargetSpec) {
        switch spec {
        case .address(let address):
            self.init(family: address.family, first: address.integerValue, last: address.integerValue)
        case .network(let address, let prefixLength):
            let hostBits = address.family.bitWidth - prefixLength
            let size: UInt128 = hostBits >= 128 ? UInt128.max : (UInt128(1) << hostBits) - 1
            self.init(family: address.family, first: address.integerValue, last: address.integerValue + size)
        case .range(let first, let last):
            self.init(family: first.family, first: first.integerValue, last: last.integerValue)
        case .hostname:
            preconditionFailure("host names are resolved before they become ranges")
        }
    }
}

/// A set of addresses as sorted, disjoint, non-adjacent ranges, with a prefix sum so the n-th address is found by
/// binary search. This is what keeps expansion lazy: a /8 is one range, not sixteen million values.
public struct AddressRangeSet: Sendable, Equatable {
    /// IPv4 ranges first, then IPv6, each sorted.
    public private(set) var ranges: [AddressRange]
    /// `offsets[i]` is the number of addresses in `ranges[0..<i]`.
    private var offsets: [UInt128]

    public init<S: Sequence>(_ input: S) where S.Element == AddressRange {
        let sorted = input.sorted { ($0.family == .v4 ? 0 : 1, $0.first) < ($1.family == .v4 ? 0 : 1, $1.first) }
        var merged: [AddressRange] = []
        for range in sorted {
            if var last = merged.last, last.family == range.family,
                last.last == UInt128.max || range.first <= last.last + 1
            {
                last.last = max(last.last, range.last)
                merged[merged.count - 1] = last
            } else {
                merged.append(range)
            }
        }
        ranges = merged
        offsets = []
        var total: UInt128 = 0
        for range in merged {
            offsets.append(total)
            let (sum, overflow) = total.addingReportingOverflow(range.count)
            total = overflow ? UInt128.max : sum
        }
        offsets.append(total)
    }

    /// Total number of addresses (saturating at `UInt128.max`).
    public var count: UInt128 { offsets.last ?? 0 }

    public var isEmpty: Bool { ranges.isEmpty }

    /// The set without the addresses in `other`.
    public func subtracting(_ other: AddressRangeSet) -> AddressRangeSet {
        var result: [AddressRange] = []
        var cuts = other.ranges[...]
        for range in ranges {
            var pieceStart = range.first
            var exhausted = false
            for cut in cuts where cut.family == range.family && cut.last >= pieceStart && cut.first <= range.last {
                if cut.first > pieceStart {
                    result.append(AddressRange(family: range.family, first: pieceStart, last: cut.first - 1))
                }
                if cut.last >= range.last {
                    exhausted = true
                    break
                }
                pieceStart = cut.last + 1
            }
            if !exhausted {
                result.append(AddressRange(family: range.family, first: pieceStart, last: range.last))
            }
            // Cuts wholly below the next range can never matter again.
            while let firstCut = cuts.first, firstCut.family == range.family, firstCut.last < range.first {
                cuts = cuts.dropFirst()
            }
        }
        return AddressRangeSet(result)
    }

    public func contains(_ address: IPAddress) -> Bool {
        ranges.contains { $0.contains(address) }
    }

    /// The address at position `index` (0-based, IPv4 ranges first) of the set.
    public func address(at index: UInt128) -> IPAddress {
        precondition(index < count, "address index out of range")
        var low = 0
        var high = ranges.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if offsets[mid] <= index { low = mid } else { high = mid - 1 }
        }
        let range = ranges[low]
        return IPAddress(family: range.family, integerValue: range.first + (index - offsets[low]))
    }
}

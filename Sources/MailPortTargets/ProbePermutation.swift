/// A seeded pseudo-random permutation of `0..<size`, computed position by position without a table.
///
/// Why: probes are visited in an order that spreads load over every subnet and host (no /24 sees a burst, a
/// firewall's rate limit sees a trickle), while memory stays constant for any size. A balanced Feistel network on
/// the smallest even number of bits covering `size` is a bijection on that power of two; "cycle walking" (apply it
/// again until the value falls below `size`) turns it into a bijection on `0..<size`. The domain is at most 4 × size,
/// so a position costs a few rounds on average. The order is a scatter, not cryptography.
public struct ProbePermutation: Sendable {
    public let size: UInt64
    public let seed: UInt64
    private let halfBits: UInt64
    private let halfMask: UInt64
    private let roundKeys: [UInt64]

    public init(size: UInt64, seed: UInt64) {
        precondition(size <= 1 << 62, "permutation domain too large")
        self.size = size
        self.seed = seed
        var bits: UInt64 = 2
        while bits < 64 && (UInt64(1) << bits) < size { bits += 2 }
        halfBits = bits / 2
        halfMask = (UInt64(1) << halfBits) - 1
        var state = seed
        roundKeys = (0..<4).map { _ in splitMix64(&state) }
    }

    /// The value at `position` of the permuted order; every value in `0..<size` appears at exactly one position.
    public func value(at position: UInt64) -> UInt64 {
        precondition(position < size, "position out of range")
        var value = position
        repeat {
            value = encrypt(value)
        } while value >= size
        return value
    }

    private func encrypt(_ input: UInt64) -> UInt64 {
        var left = input >> halfBits
        var right = input & halfMask
        for key in roundKeys {
            let mixed = left ^ (mix(right ^ key) & halfMask)
            left = right
            right = mixed
        }
        return left << halfBits | right
    }
}

/// SplitMix64 step: a well-known 64-bit generator; used to derive round keys and seeds.
public func splitMix64(_ state: inout UInt64) -> UInt64 {
    state &+= 0x9e37_79b9_7f4a_7c15
    return mix(state)
}

/// The SplitMix64 finaliser, a cheap bijective 64-bit mixer.
@inline(__always)
func mix(_ input: UInt64) -> UInt64 {
    var z = input
    z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
    z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
    return z ^ (z >> 31)
}

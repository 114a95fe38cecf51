import Foundation

/// A small, fast, seedable generator (xoshiro256**), so that every random choice Distillery makes
/// (masking, sampled logits, initialisation, dropout, shuffling) is reproducible from a seed.
/// `stream` derives independent generators from one seed, e.g. one per cached sequence, so that
/// results do not depend on batch boundaries or on where a resumed run restarted.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Equatable, Codable {
    private var s0, s1, s2, s3: UInt64

    public init(seed: UInt64, stream: UInt64 = 0) {
        // SplitMix64 expands (seed, stream) into the 256-bit state, as the xoshiro authors advise.
        var x = streamKey(seed: seed, stream: stream)
        func next() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            return splitMix64(x)
        }
        s0 = next(); s1 = next(); s2 = next(); s3 = next()
    }

    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// Uniform in [0, 1) with 24 bits of precision.
    public mutating func nextUnitFloat() -> Float { Float(next() >> 40) * (1.0 / 16_777_216) }

    /// Standard normal (Box–Muller), for weight initialisation.
    public mutating func nextNormal() -> Float {
        let u1 = max(Double(next() >> 11) * (1.0 / 9_007_199_254_740_992), 1e-300)
        let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992)
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }
}

/// (seed, stream) as one 64-bit word, distinct streams of one seed far apart.
@inline(__always)
func streamKey(seed: UInt64, stream: UInt64) -> UInt64 { seed ^ (stream &* 0xD1B5_4A32_D192_ED03) }

/// SplitMix64's output function (Steele, Lea & Flood 2014): a bijective 64-bit mix.
@inline(__always)
func splitMix64(_ x: UInt64) -> UInt64 {
    var z = x
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

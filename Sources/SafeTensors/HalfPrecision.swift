/// Bit-exact conversions between `Float` and the two 16-bit float formats, written out rather
/// than using `Float16` because that type is missing on some platforms (macOS on Intel).
/// Narrowing rounds to nearest, ties to even, like numpy and PyTorch; NaN stays NaN (quieted).
enum HalfPrecision {
    /// IEEE binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits. Widening is exact.
    static func float(fromHalf bits: UInt16) -> Float {
        let sign: UInt32 = UInt32(bits & 0x8000) << 16
        let exponent = Int(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x3FF)
        switch exponent {
        case 0x1F:  // infinity, NaN (payload kept)
            return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
        case 0:  // zero or subnormal: mantissa × 2^-24, exact in Float
            let magnitude = Float(mantissa) * 0x1p-24
            return sign != 0 ? -magnitude : magnitude
        default:  // rebias 15 → 127
            return Float(bitPattern: sign | UInt32(exponent + 112) << 23 | mantissa << 13)
        }
    }

    static func half(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: bits >> 16) & 0x8000
        let exponent = Int(bits >> 23) & 0xFF
        let mantissa = bits & 0x7F_FFFF
        if exponent == 0xFF {  // infinity, or NaN with the quiet bit set
            return mantissa == 0 ? sign | 0x7C00 : sign | 0x7E00 | UInt16(mantissa >> 13)
        }
        let halfExponent = exponent - 127 + 15
        if halfExponent >= 0x1F { return sign | 0x7C00 }  // too large: infinity
        if halfExponent <= 0 {
            // Subnormal result: count units of 2^-24. The value is significand × 2^(e-23) with
            // e = halfExponent - 15, i.e. significand >> shift units.
            let shift = 14 - halfExponent
            if shift > 24 { return sign }  // below half the smallest subnormal (float subnormals too)
            let significand = mantissa | 0x80_0000
            return sign | UInt16(roundShift(significand, by: shift))
        }
        // Normal: drop 13 mantissa bits. A carry out of the mantissa correctly bumps the exponent,
        // up to infinity (0x7C00).
        return sign | UInt16(roundShift(UInt32(halfExponent) << 23 | mantissa, by: 13))
    }

    /// `value >> shift`, rounded to nearest with ties to even. `shift` in 1...31.
    private static func roundShift(_ value: UInt32, by shift: Int) -> UInt32 {
        let result = value >> shift
        let remainder = value & ((1 << shift) - 1)
        let halfway: UInt32 = 1 << (shift - 1)
        return remainder > halfway || (remainder == halfway && result & 1 == 1) ? result + 1 : result
    }

    /// bfloat16 is the top half of a binary32, so widening is a shift.
    static func float(fromBFloat16 bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    static func bfloat16(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(bits >> 16) | 0x0040 }
        // Adding 0x7FFF plus the lowest kept bit rounds ties to even; a carry may reach infinity.
        let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
        return UInt16(rounded >> 16)
    }
}

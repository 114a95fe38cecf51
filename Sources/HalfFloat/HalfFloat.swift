/// Float ↔ the two 16-bit float formats, bit-exact, in one place for every reader and writer
/// (safetensors weights, HDF5 datasets, cache rows). Written out rather than using `Float16`, which
/// is missing on some platforms (macOS on Intel), and because HDF5 1.10.8's own narrowing is wrong
/// where rounding carries into the exponent (0.99999 → 0.5). Narrowing rounds to nearest, ties to
/// even, as numpy, PyTorch and Swift's Float16 do; too-large values become ±infinity; NaN stays
/// NaN, made quiet with its top payload bits. Widening is exact.
///
/// Branch-free, so that loops over rows vectorise; `@inlinable` so that they do across modules.
/// Tested against numpy and PyTorch bit patterns, the standard library's Float16, and (once, when
/// the three copies this replaced were merged) every one of the 2^32 floats.
public enum HalfFloat {
    /// Float → IEEE binary16 bits (F. Giesen's float_to_half_fast3_rtne). Normal results: rebias
    /// the exponent and round at bit 13 by adding 0xfff plus the kept lsb. Subnormal results
    /// (|x| < 2⁻¹⁴): adding 0.5 puts the 2⁻²⁴ unit at the float's last bit, and the float adder
    /// rounds to nearest even. |x| ≥ 65536 (and rounding past 65504) → infinity.
    @inlinable @inline(__always)
    public static func half(_ x: Float) -> UInt16 {
        let bits = x.bitPattern
        let magnitude = bits & 0x7fff_ffff
        let normal = (magnitude &+ 0xc800_0fff &+ ((magnitude >> 13) & 1)) >> 13  // + ((15-127) << 23) + 0xfff + lsb
        let half: UInt32 = 0x3f00_0000  // 0.5
        let subnormal = (Float(bitPattern: magnitude) + Float(bitPattern: half)).bitPattern &- half
        let finite = magnitude < 0x3880_0000 ? subnormal : normal  // 2⁻¹⁴
        let special: UInt32 = magnitude > 0x7f80_0000 ? 0x7e00 | ((magnitude >> 13) & 0x3ff) : 0x7c00
        let result = magnitude >= 0x4780_0000 ? special : finite  // 65536
        return UInt16(truncatingIfNeeded: (bits >> 16) & 0x8000 | result)
    }

    /// IEEE binary16 bits → Float: rebias the exponent; subnormals renormalised by one float subtraction.
    @inlinable @inline(__always)
    public static func float(half h: UInt16) -> Float {
        let bits = UInt32(h)
        let shifted = (bits & 0x7fff) << 13
        let exponent = shifted & 0x0f80_0000
        let normal = shifted &+ 0x3800_0000  // + ((127-15) << 23)
        let special = normal &+ 0x3800_0000  // infinity / NaN: exponent all ones
        let subnormal = (Float(bitPattern: normal &+ 0x0080_0000) - Float(bitPattern: 0x3880_0000)).bitPattern
        let magnitude = exponent == 0x0f80_0000 ? special : (exponent == 0 ? subnormal : normal)
        return Float(bitPattern: magnitude | (bits & 0x8000) << 16)
    }

    /// Float → bfloat16 bits (the top half of a binary32): adding 0x7fff plus the lowest kept bit
    /// rounds ties to even; a carry into the exponent is correct, up to infinity.
    @inlinable @inline(__always)
    public static func bfloat16(_ x: Float) -> UInt16 {
        let bits = x.bitPattern
        let rounded = (bits &+ 0x7fff &+ ((bits >> 16) & 1)) >> 16
        let nan = (bits >> 16) | 0x0040
        return UInt16(truncatingIfNeeded: bits & 0x7fff_ffff > 0x7f80_0000 ? nan : rounded)
    }

    /// bfloat16 bits → Float: a shift.
    @inlinable @inline(__always)
    public static func float(bfloat16 b: UInt16) -> Float { Float(bitPattern: UInt32(b) << 16) }
}

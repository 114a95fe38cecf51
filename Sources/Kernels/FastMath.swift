/// Elementary functions for the hot loops, branch-free so that loops over them vectorise.
/// glibc's expf and erff cost ~10 and ~40 ns per call here; softmax and GELU call them for
/// every attention score and every FFN activation.

/// e^x for x in [-87, 88]: x = n·ln2 + r with |r| ≤ ln2/2 (Cody–Waite split of ln2), e^r by its
/// Taylor series to degree 7 (truncation error r⁸/8! < 6e-9), 2ⁿ built in the exponent bits.
/// n is rounded by adding 1.5·2²³ (the float adder rounds to nearest), which also keeps NaN
/// from trapping in an integer conversion.
@inlinable @inline(__always)
func expInRange(_ x: Float) -> Float {
    let shifted = x * 1.44269504088896341 + 12_582_912
    let n = shifted - 12_582_912
    let r = (x - n * 0.693359375) - n * -2.12194440e-4
    var p: Float = 1.0 / 5040
    p = p * r + 1.0 / 720
    p = p * r + 1.0 / 120
    p = p * r + 1.0 / 24
    p = p * r + 1.0 / 6
    p = p * r + 0.5
    p = p * r + 1
    p = p * r + 1
    return p * Float(bitPattern: (shifted.bitPattern &- 0x4B40_0000 &+ 127) << 23)
}

/// e^x to ~2 ulp; below -87 it flushes to 0 (far below what a softmax sum resolves), above 88 it
/// saturates at e^88.
@inlinable @inline(__always)
public func fastExp(_ x: Float) -> Float {
    let y = expInRange(min(max(x, -87), 88))
    return x < -87 ? 0 : y
}

/// erf(x) to within 4e-7 absolute: 1 - e^(-x²)·erfcx(|x|) with erfcx from ErfPolynomial.swift,
/// |x| clamped at 4 where erf is 1 in Float.
@inlinable @inline(__always)
public func fastErf(_ x: Float) -> Float { fastErfAndGaussian(x).erf }

/// erf(x) as `fastErf`, and e^(-x²), which its formula computes anyway (0 beyond |x| = 4, where it
/// is below 1.2e-7): GELU's derivative needs both, for one exponential instead of two.
@inlinable @inline(__always)
public func fastErfAndGaussian(_ x: Float) -> (erf: Float, gaussian: Float) {
    let a = min(abs(x), 4)
    let t = 1 / (1 + erfFitP * a)
    var y = erfFitC7
    y = y * t + erfFitC6
    y = y * t + erfFitC5
    y = y * t + erfFitC4
    y = y * t + erfFitC3
    y = y * t + erfFitC2
    y = y * t + erfFitC1
    y = y * t + erfFitC0
    let gaussian = expInRange(-a * a)
    let e = 1 - gaussian * y
    return (x < 0 ? -e : e, abs(x) > 4 ? 0 : gaussian)
}

/// ln x for positive normal x, to about 2 ulp, branch-free so that loops over it vectorise (glibc's
/// log, called per element, kept the attention-KL loss scalar: 2 % of a training step).
/// x = m · 2ᵉ with m in [√½, √2), ln x = e·ln 2 + ln m, ln(1 + f) by Cephes's logf polynomial
/// (Moshier), ln 2 split in two (Cody–Waite). Zero, subnormal, infinite and NaN inputs are not
/// handled: callers keep x within [1e-30, 1e30].
@inlinable @inline(__always)
public func fastLog(_ x: Float) -> Float {
    let bits = x.bitPattern
    let mantissa = Float(bitPattern: (bits & 0x007F_FFFF) | 0x3F00_0000)  // in [0.5, 1)
    let low = mantissa < 0.70710678118654752
    let e = Float(Int32(bitPattern: (bits >> 23) & 0xFF) - 126) - (low ? 1 : 0)
    let f = (low ? mantissa + mantissa : mantissa) - 1
    let z = f * f
    var p: Float = 7.0376836292e-2
    p = p * f - 1.1514610310e-1
    p = p * f + 1.1676998740e-1
    p = p * f - 1.2420140846e-1
    p = p * f + 1.4249322787e-1
    p = p * f - 1.6668057665e-1
    p = p * f + 2.0000714765e-1
    p = p * f - 2.4999993993e-1
    p = p * f + 3.3333331174e-1
    var y = p * f * z
    y += e * -2.12194440e-4
    y -= 0.5 * z
    return f + y + e * 0.693359375
}

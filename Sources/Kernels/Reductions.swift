/// Sums over a row with sixteen running partial sums, so that the loop vectorises: Swift keeps
/// floating-point additions in the order written, and a left-to-right sum is one dependent add per
/// element (four cycles each). The order is fixed (lane j adds elements j, j + 16, …; the lanes are
/// then added pairwise, then the tail left to right), so results do not depend on threads or runs.

/// Σ x[i].
@inlinable @inline(__always)
public func vectorSum(_ x: UnsafePointer<Float>, count: Int) -> Float {
    let raw = UnsafeRawPointer(x)
    var lanes = SIMD16<Float>(repeating: 0), i = 0
    while i + 16 <= count {
        lanes += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        i += 16
    }
    var sum = lanes.sum()
    while i < count { sum += x[i]; i += 1 }
    return sum
}

/// Σ (x[i] - center)².
@inlinable @inline(__always)
public func vectorSumOfSquares(_ x: UnsafePointer<Float>, minus center: Float, count: Int) -> Float {
    let raw = UnsafeRawPointer(x), c = SIMD16<Float>(repeating: center)
    var lanes = SIMD16<Float>(repeating: 0), i = 0
    while i + 16 <= count {
        let d = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) - c
        lanes += d * d
        i += 16
    }
    var sum = lanes.sum()
    while i < count { let d = x[i] - center; sum += d * d; i += 1 }
    return sum
}

/// max x[i] (-∞ for an empty row). A maximum does not depend on the order, so this equals the
/// left-to-right one exactly (for rows without NaN).
@inlinable @inline(__always)
public func vectorMax(_ x: UnsafePointer<Float>, count: Int) -> Float {
    let raw = UnsafeRawPointer(x)
    var lanes = SIMD16<Float>(repeating: -.infinity), i = 0
    while i + 16 <= count {
        let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        lanes.replace(with: v, where: v .> lanes)
        i += 16
    }
    var m = lanes.max()
    while i < count { m = max(m, x[i]); i += 1 }
    return m
}

import Foundation
import Kernels

// Shared by the losses: the real length of a padded sequence, the exponentials of one softmax row,
// Double sums, and the per-call scratch.

/// Real tokens of one sequence: the length of its mask's prefix of ones. mask (seq), 1 = real.
/// Every loss relies on real tokens being a prefix (the relation and score losses multiply the first n rows),
/// so a 1 after a 0 stops the program.
@inline(__always)
func realLength(_ mask: UnsafePointer<Int32>, seq: Int) -> Int {
    var n = 0
    while n < seq && mask[n] != 0 { n += 1 }
    for t in n..<seq { precondition(mask[t] == 0, "mask: the real tokens of a sequence must be a prefix (a 1 follows a 0)") }
    return n
}

/// N = Σ_b n_b, the real tokens of a padded batch. mask (batch, seq).
func realTokenCount(_ mask: UnsafePointer<Int32>, batch: Int, seq: Int) -> Int {
    var total = 0
    for b in 0..<batch { total += realLength(mask + b * seq, seq: seq) }
    return total
}

/// max_j x[j], through order-preserving integer keys so that the loop vectorises (a Float max with NaN
/// rules does not). x must not hold NaN.
@inline(__always)
func rowMax(_ x: UnsafePointer<Float>, count: Int) -> Float {
    @inline(__always) func key(_ v: Float) -> Int32 {
        let b = Int32(bitPattern: v.bitPattern)
        return b ^ ((b >> 31) & 0x7fff_ffff)  // negative floats: flip the magnitude so that larger is larger
    }
    var best = Int32.min
    for j in 0..<count { best = max(best, key(x[j])) }
    return Float(bitPattern: UInt32(bitPattern: best ^ ((best >> 31) & 0x7fff_ffff)))
}

/// The unnormalised softmax of one row at inverse temperature s = 1/τ:
/// exps[j] = exp(s·x[j] − m) with m = s · max_j x[j]; returns m and Σ_j exps[j] (summed in Double).
/// So softmax(s·x)[j] = exps[j] / sum and log-softmax(s·x)[j] = s·x[j] − (m + log sum).
///
/// exp is `fastExp` (within 2.5e-7 relative, branch-free so that the loop vectorises): these rows are the hot
/// loops (30,522-wide MLM rows, B·A_r·n² relation scores) and glibc's expf measured 2.5× slower here. Its error
/// is that of rounding the inputs to Float; with the sums in Double a loss stays within ~1e-7 absolute per row.
@inline(__always)
func softmaxExps(_ exps: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, inverseTemperature s: Float,
                 count: Int) -> (max: Float, sum: Double) {
    let m = rowMax(x, count: count) * s  // s > 0 and rounding is monotone: max_j (s·x[j]) = s · max_j x[j]
    if s == 1 {
        for j in 0..<count { exps[j] = fastExp(x[j] - m) }
    } else {
        for j in 0..<count { exps[j] = fastExp(x[j] * s - m) }
    }
    return (m, sumInDouble(exps, count: count))
}

/// Σ_j x[j] in Double, four independent add chains.
@inline(__always)
func sumInDouble(_ x: UnsafePointer<Float>, count: Int) -> Double {
    var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
    var j = 0
    while j + 4 <= count {
        s0 += Double(x[j]); s1 += Double(x[j + 1]); s2 += Double(x[j + 2]); s3 += Double(x[j + 3])
        j += 4
    }
    while j < count { s0 += Double(x[j]); j += 1 }
    return (s0 + s1) + (s2 + s3)
}

/// Σ_j w[j] · (a[j] − b[j]) in Double, four independent add chains.
@inline(__always)
func weightedDifferenceSum(_ w: UnsafePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                           count: Int) -> Double {
    @inline(__always) func term(_ j: Int) -> Double { Double(w[j]) * (Double(a[j]) - Double(b[j])) }
    var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
    var j = 0
    while j + 4 <= count {
        s0 += term(j); s1 += term(j + 1); s2 += term(j + 2); s3 += term(j + 3)
        j += 4
    }
    while j < count { s0 += term(j); j += 1 }
    return (s0 + s1) + (s2 + s3)
}

/// Runs `body` with `count` zeroed Doubles, one partial loss per work item, and returns the partials summed in
/// index order: the loss does not depend on how `parallelFor` split the work.
@inline(__always)
func sumOfPartials(_ count: Int, _ body: (UnsafeMutablePointer<Double>) -> Void) -> Double {
    let partials = UnsafeMutablePointer<Double>.allocate(capacity: max(count, 1))
    partials.initialize(repeating: 0, count: max(count, 1))
    defer { partials.deallocate() }
    body(partials)
    var total = 0.0
    for i in 0..<count { total += partials[i] }
    return total
}

/// Runs `body` with `count` Floats of scratch: allocated once per worker and call, never per row.
@inline(__always)
func withScratch(_ count: Int, _ body: (UnsafeMutablePointer<Float>) -> Void) {
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
    defer { scratch.deallocate() }
    body(scratch)
}

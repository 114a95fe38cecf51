import Foundation
import TestSupport
import XCTest

/// How every loss is checked against its Double reference (a plain loop written from notes/definitions.md).
///
/// (a) value: the Swift loss (Float inputs and arithmetic, Double sums) against the reference evaluated in Double on
///     the same Float inputs, within `lossTolerance` relative (default 1e-5). Both see identical inputs, so the only
///     differences are the Swift side's Float arithmetic: scaled scores and logits rounded to Float, Float products
///     in sgemm, fastExp (≤ 2.5e-7 relative); ≈1e-6 relative is expected, 1e-5 leaves a margin (measured when
///     written: ≤ 1e-7 for every loss).
/// (b) gradient: the analytic gradient (weight w) against w × central differences of the Double reference,
///     eps = 1e-4 in Double, within `gradientTolerance` (default 1e-4) times the largest gradient entry. The central
///     difference itself is accurate to O(eps²·f''') ≈ 1e-8 relative plus Double rounding 1e-16/eps ≈ 1e-12, so the
///     error measured is the Float gradient's: differences like p − t of Float probabilities lose bits next to the
///     largest entries, hence a tolerance relative to the largest magnitude rather than per entry. Measured when
///     written: ≤ 3e-7 of the largest entry, except attention KL at 1.3e-5, where the central difference's own
///     truncation error (eps²·t/s³ for student probabilities s ≈ 0.01) is what shows.
/// (c) padding: entries listed in `zeroGradient` must be exactly 0 (never touched).
/// (d) accumulation and weights: on the same buffer, weight 0.5 then weight 1.5 must give 4× the first result
///     (gradients add into the buffer and scale with the weight), within 1e-6 of the largest entry.
struct LossCheck {
    /// The student input, as the Swift loss sees it (Float) and the reference sees it (converted to Double exactly).
    var student: [Float]
    /// The reference loss as a function of the student input; teacher and sizes are captured.
    var reference: ([Double]) -> Double
    /// The Swift loss: (gradient or nil, weight, student pointer) → loss.
    var loss: (UnsafeMutablePointer<Float>?, Float, UnsafePointer<Float>) -> Double
    /// Student entries that must get exactly zero gradient (padding, columns of other projections, …).
    var zeroGradient: [Int] = []
    /// Student entries not differentiated by finite differences (e.g. next to a clamp); still checked by (a), (d).
    var skipFiniteDifferences: Set<Int> = []
    var lossTolerance = 1e-5
    var gradientTolerance = 1e-4
    var eps = 1e-4

    /// Runs (a)–(d); returns the analytic gradient at weight 1 for further checks.
    @discardableResult
    func run(file: StaticString = #filePath, line: UInt = #line) -> [Float] {
        let x = student.map(Double.init)
        // (a) value
        let value = student.withUnsafeBufferPointer { loss(nil, 1, $0.baseAddress!) }
        let expected = reference(x)
        XCTAssertTrue(abs(value - expected) <= lossTolerance * abs(expected),
                      "loss \(value) vs reference \(expected): relative error \(abs(value - expected) / abs(expected)) > \(lossTolerance)",
                      file: file, line: line)
        // (b) gradient against central differences, weight 0.7
        let w: Float = 0.7
        var gradient = [Float](repeating: 0, count: student.count)
        let again = student.withUnsafeBufferPointer { s in gradient.withUnsafeMutableBufferPointer { loss($0.baseAddress!, w, s.baseAddress!) } }
        XCTAssertEqual(again, value, "the loss does not depend on whether a gradient is asked for", file: file, line: line)
        var numeric = [Double](repeating: 0, count: student.count)
        for i in student.indices where !skipFiniteDifferences.contains(i) {
            var plus = x, minus = x
            plus[i] += eps
            minus[i] -= eps
            numeric[i] = Double(w) * (reference(plus) - reference(minus)) / (2 * eps)
        }
        let largest = max(numeric.map(abs).max() ?? 0, 1e-30)
        var worst = 0.0, bad: [String] = []
        for i in student.indices where !skipFiniteDifferences.contains(i) {
            let err = abs(Double(gradient[i]) - numeric[i])
            if !(err <= gradientTolerance * largest) && bad.count < 5 { bad.append("[\(i)] \(gradient[i]) vs \(numeric[i])") }
            if !(err <= worst) { worst = err.isNaN ? .infinity : err }
        }
        XCTAssertTrue(bad.isEmpty, "gradient: max error \(worst) > \(gradientTolerance) × \(largest); first mismatches: \(bad.joined(separator: ", "))",
                      file: file, line: line)
        XCTAssertGreaterThan(largest, 1e-6, "the gradient is not trivially zero", file: file, line: line)
        // (c) padding
        let touched = zeroGradient.filter { gradient[$0] != 0 }
        XCTAssertEqual(touched, [], "entries that must get no gradient", file: file, line: line)
        // (d) adds into the buffer, scales with the weight
        var accumulated = [Float](repeating: 0, count: student.count)
        student.withUnsafeBufferPointer { s in
            accumulated.withUnsafeMutableBufferPointer { g in
                _ = loss(g.baseAddress!, 0.5, s.baseAddress!)
            }
        }
        let half = accumulated
        student.withUnsafeBufferPointer { s in
            accumulated.withUnsafeMutableBufferPointer { g in
                _ = loss(g.baseAddress!, 1.5, s.baseAddress!)
            }
        }
        let scaleError = zip(accumulated, half).map { abs(Double($0) - 4 * Double($1)) }.max() ?? 0
        let top = Double(half.map(abs).max() ?? 0) * 4
        XCTAssertLessThanOrEqual(scaleError, 1e-6 * top, "weight 0.5 then 1.5 on one buffer must give 4× the first", file: file, line: line)
        return gradient.map { $0 / w }
    }
}

/// Fails with the first mismatches and the largest error, not just "not equal".
func assertClose(_ actual: [Float], _ expected: [Double], tolerance: Double, _ message: String = "",
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "length", file: file, line: line)
    var worst = 0.0, bad: [String] = []
    for i in 0..<min(actual.count, expected.count) {
        let err = abs(Double(actual[i]) - expected[i])
        if !(err <= tolerance) && bad.count < 5 { bad.append("[\(i)] \(actual[i]) vs \(expected[i])") }
        if !(err <= worst) { worst = err.isNaN ? .infinity : err }
    }
    XCTAssertTrue(bad.isEmpty, "\(message) max error \(worst) > \(tolerance); first mismatches: \(bad.joined(separator: ", "))",
                  file: file, line: line)
}

// MARK: - Double helpers for the references

/// log Σ exp(x), stable.
func logSumExp(_ x: [Double]) -> Double {
    let m = x.max()!
    guard m > -.infinity else { return -.infinity }
    return m + log(x.map { exp($0 - m) }.reduce(0, +))
}

/// softmax(x) in Double.
func softmax(_ x: [Double]) -> [Double] {
    let l = logSumExp(x)
    return x.map { exp($0 - l) }
}

/// Σ_j t_j (log t_j − logP_j) with 0 · log 0 = 0.
func klFromLog(_ t: [Double], _ logP: [Double]) -> Double {
    zip(t, logP).reduce(0) { $0 + ($1.0 > 0 ? $1.0 * (log($1.0) - $1.1) : 0) }
}

/// A padded mask (batch, seq) from the real lengths.
func paddedMask(lengths: [Int], seq: Int) -> [Int32] {
    lengths.flatMap { n in (0..<seq).map { $0 < n ? Int32(1) : 0 } }
}

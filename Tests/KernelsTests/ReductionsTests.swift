import TestSupport
import XCTest
@testable import Kernels

/// The vectorised row reductions against simple references, on lengths with and without a tail.
/// Sums: within 1e-6 of Σ|x| of the exact (Double) sum, the rounding of ~log₂(n) + 16 float adds
/// on magnitudes up to Σ|x|. Maximum: exactly the scalar one, -∞ for an empty or all -∞ row.
final class ReductionsTests: XCTestCase {
    func testSumsMatchTheExactSums() {
        var rng = SeededRandom(seed: 3)
        for count in [0, 1, 15, 16, 17, 64, 100, 384, 1000] {
            let x = rng.floats(count).map { $0 * 3 }
            let exact = x.reduce(0.0) { $0 + Double($1) }, magnitude = x.reduce(0.0) { $0 + Double(abs($1)) }
            XCTAssertEqual(Double(vectorSum(x, count: count)), exact, accuracy: 1e-6 * max(1, magnitude), "sum of \(count)")
            let center: Float = 0.25
            let squares = x.reduce(0.0) { $0 + Double($1 - center) * Double($1 - center) }
            XCTAssertEqual(Double(vectorSumOfSquares(x, minus: center, count: count)), squares, accuracy: 1e-6 * max(1, squares),
                           "squares of \(count)")
        }
    }

    func testMaximumIsTheScalarOne() {
        var rng = SeededRandom(seed: 4)
        for count in [1, 7, 16, 31, 128, 130] {
            let x = rng.floats(count)
            XCTAssertEqual(vectorMax(x, count: count), x.max()!, "\(count)")
            XCTAssertEqual(vectorMax(x.map { _ in -Float.infinity }, count: count), -.infinity)
        }
        XCTAssertEqual(vectorMax([], count: 0), -.infinity)
    }
}

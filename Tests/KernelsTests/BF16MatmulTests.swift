import Foundation
import HalfFloat
import TestSupport
import XCTest
@testable import Kernels

/// Training's bf16 linear layers (`BF16Matmul`) against the fp32 kernels.
///
/// On inputs that bf16 holds exactly, every product is exact in fp32 (8 × 8 mantissa bits fit in
/// 24), so the two differ only in the order of the fp32 sums: we allow 1e-5 of the sum of the
/// products' magnitudes, and a wrong stride, transposition or a lost accumulation is off by O(1)
/// of it. On other inputs each operand is rounded by up to 2⁻⁹ relative, so each product by up to
/// 2⁻⁸ (plus 2⁻¹⁸): the error is bounded by 2⁻⁸ · Σ|a||b| and the fp32 sums' own rounding, which
/// we check with 2⁻¹⁴ of slack (the worst case seen, printed, is 0.97 of the bound on the smallest shape).
final class BF16MatmulTests: XCTestCase {
    override func setUpWithError() throws {
        if let reason = Precision.bf16.unsupportedReason { throw XCTSkip(reason) }
    }

    override func tearDown() {
        Threads.configure(1)
        super.tearDown()
    }

    /// Shapes: one short block; several uneven row blocks; out-feature blocks of the weight gradient;
    /// in-feature blocks of it (an input wider than the output).
    let shapes = [(rows: 5, inFeatures: 24, outFeatures: 40), (rows: 130, inFeatures: 48, outFeatures: 72), (rows: 300, inFeatures: 64, outFeatures: 260),
                  (rows: 130, inFeatures: 260, outFeatures: 40)]

    func testOnBFloat16ValuesForwardAndBackwardEqualFP32UpToSummationOrder() {
        var rng = SeededRandom(seed: 5)
        func exact(_ count: Int) -> [Float] { rng.floats(count).map { HalfFloat.float(bfloat16: HalfFloat.bfloat16($0)) } }
        for (rows, k, n) in shapes {
            let x = exact(rows * k), w = exact(n * k), b = rng.floats(n), g = exact(rows * n)
            let result = run(x: x, w: w, b: b, g: g, rows: rows, k: k, n: n, start: rng.floats(rows * k + n * k + n))
            for c in result {
                let (name, fast, slow, bound) = (c.name, c.fast, c.slow, c.bound)
                for i in fast.indices where abs(fast[i] - slow[i]) > 1e-5 * bound[i] + 1e-7 {
                    return XCTFail("\(rows)×\(k)×\(n) \(name)[\(i)]: bf16 \(fast[i]), fp32 \(slow[i]), Σ|a||b| \(bound[i])")
                }
            }
        }
    }

    func testGeneralInputsAreWithinTheRoundingBound() {
        var rng = SeededRandom(seed: 6)
        for (rows, k, n) in shapes {
            let x = rng.floats(rows * k), w = rng.floats(n * k), b = rng.floats(n), g = rng.floats(rows * n)
            let result = run(x: x, w: w, b: b, g: g, rows: rows, k: k, n: n, start: [Float](repeating: 0, count: rows * k + n * k + n))
            var worst: Float = 0
            for c in result {
                let (name, fast, slow, bound) = (c.name, c.fast, c.slow, c.bound)
                for i in fast.indices {
                    let error = abs(fast[i] - slow[i])
                    if bound[i] > 0 { worst = max(worst, error / bound[i]) }
                    if error > (0x1p-8 + 0x1p-14) * bound[i] + 1e-6 {
                        return XCTFail("\(rows)×\(k)×\(n) \(name)[\(i)]: bf16 \(fast[i]), fp32 \(slow[i]), bound \(0x1p-8 * bound[i])")
                    }
                }
            }
            print("bf16 matmul \(rows)×\(k)×\(n): worst error \(worst) of Σ|a||b| (bound 2⁻⁸ = \(0x1p-8 as Float))")
        }
    }

    /// Fixed blocks, one thread each: the same bits on one thread or two (alone = together).
    func testTheSameBitsOnOneThreadOrTwo() {
        var rng = SeededRandom(seed: 7)
        for (rows, k, n) in [(300, 64, 260), (300, 260, 64)] {
            let x = rng.floats(rows * k), w = rng.floats(n * k), b = rng.floats(n), g = rng.floats(rows * n)
            let start = [Float](repeating: 0, count: rows * k + n * k + n)
            Threads.configure(1)
            let one = run(x: x, w: w, b: b, g: g, rows: rows, k: k, n: n, start: start).map(\.fast)
            Threads.configure(2)
            let two = run(x: x, w: w, b: b, g: g, rows: rows, k: k, n: n, start: start).map(\.fast)
            XCTAssertTrue(one == two, "\(rows)×\(k)×\(n)")
        }
    }

    /// Forward and backward through BF16Matmul and the fp32 kernels; the gradients are added onto
    /// `start` (dinp, dweight, dbias) to check the accumulation. Each output with Σ|a||b| of its terms.
    private struct Compared { var name: String, fast: [Float], slow: [Float], bound: [Float] }

    private func run(x: [Float], w: [Float], b: [Float], g: [Float], rows: Int, k: Int, n: Int, start: [Float]) -> [Compared] {
        let bf16 = BF16Matmul()
        var fastOut = [Float](repeating: .nan, count: rows * n), slowOut = fastOut
        bf16.linearForward(&fastOut, x, w, b, rows: rows, inFeatures: k, outFeatures: n)
        linearForward(&slowOut, x, w, b, rows: rows, inFeatures: k, outFeatures: n)
        var fastX = Array(start[0..<(rows * k)]), fastW = Array(start[(rows * k)..<(rows * k + n * k)]), fastB = Array(start.suffix(n))
        var slowX = fastX, slowW = fastW, slowB = fastB
        bf16.linearBackward(&fastX, &fastW, &fastB, g, x, w, rows: rows, inFeatures: k, outFeatures: n)
        linearBackward(&slowX, &slowW, &slowB, g, x, w, rows: rows, inFeatures: k, outFeatures: n)
        // Σ|a||b| per output, plus the magnitude of what was there before (bias, start values).
        let ax = x.map(abs), aw = w.map(abs), ag = g.map(abs)
        var boundOut = [Float](repeating: 0, count: rows * n), boundX = [Float](repeating: 0, count: rows * k)
        var boundW = [Float](repeating: 0, count: n * k)
        linearForward(&boundOut, ax, aw, b.map(abs), rows: rows, inFeatures: k, outFeatures: n)
        linearBackward(&boundX, &boundW, nil, ag, ax, aw, rows: rows, inFeatures: k, outFeatures: n)
        for i in boundX.indices { boundX[i] += abs(start[i]) }
        for i in boundW.indices { boundW[i] += abs(start[rows * k + i]) }
        return [Compared(name: "out", fast: fastOut, slow: slowOut, bound: boundOut), Compared(name: "dinp", fast: fastX, slow: slowX, bound: boundX),
                Compared(name: "dweight", fast: fastW, slow: slowW, bound: boundW),
                Compared(name: "dbias", fast: fastB, slow: slowB, bound: slowB.map { abs($0) + 1 })]
    }
}

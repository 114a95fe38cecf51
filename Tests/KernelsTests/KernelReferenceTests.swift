import Foundation
import TestSupport
import XCTest
@testable import Kernels

/// Each fast kernel against a plain Double loop written from its formula.
/// Tolerances: Float accumulation over ≤ 64 terms of O(1) values stays below 1e-5 relative;
/// fastErf is within 4e-7 absolute (scripts/codegen/erf_fit.py), so GELU within 1e-6.
final class KernelReferenceTests: XCTestCase {
    var rng = SeededRandom(seed: 42)

    func testLinearForwardMatchesNaiveLoop() {
        let rows = 7, inF = 13, outF = 5
        let x = rng.floats(rows * inF), w = rng.floats(outF * inF), b = rng.floats(outF)
        var out = [Float](repeating: .nan, count: rows * outF)
        linearForward(&out, x, w, b, rows: rows, inFeatures: inF, outFeatures: outF)
        var expected = [Double](repeating: 0, count: rows * outF)
        for r in 0..<rows { for o in 0..<outF {
            var s = Double(b[o])
            for i in 0..<inF { s += Double(x[r * inF + i]) * Double(w[o * inF + i]) }
            expected[r * outF + o] = s
        } }
        assertClose(out, expected, tolerance: 1e-5)
        // Without bias.
        linearForward(&out, x, w, nil, rows: rows, inFeatures: inF, outFeatures: outF)
        for r in 0..<rows { for o in 0..<outF { expected[r * outF + o] -= Double(b[o]) } }
        assertClose(out, expected, tolerance: 1e-5)
    }

    func testLayerNormMatchesDefinition() {
        let rows = 5, dim = 24
        let x = rng.floats(rows * dim, scale: 3), g = rng.floats(dim), b = rng.floats(dim)
        var out = [Float](repeating: 0, count: rows * dim), mean = [Float](repeating: 0, count: rows), rstd = mean
        layerNormForward(&out, &mean, &rstd, x, g, b, rows: rows, dim: dim, eps: 1e-12)
        var expected = [Double]()
        for r in 0..<rows {
            let row = x[(r * dim)..<((r + 1) * dim)].map(Double.init)
            let m = row.reduce(0, +) / Double(dim)
            let v = row.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(dim)
            expected += row.enumerated().map { i, xi in (xi - m) / (v + 1e-12).squareRoot() * Double(g[i]) + Double(b[i]) }
            XCTAssertEqual(Double(mean[r]), m, accuracy: 1e-5)
        }
        assertClose(out, expected, tolerance: 2e-5)
    }

    func testFastErfMatchesErfEverywhere() {
        var worst: Double = 0
        var x: Double = -6
        while x <= 6 {
            worst = max(worst, abs(Double(fastErf(Float(x))) - erf(Double(Float(x)))))
            x += 0.000_37
        }
        XCTAssertLessThan(worst, 4e-7, "largest |fastErf - erf| = \(worst)")
        XCTAssertEqual(fastErf(.infinity), 1)
        XCTAssertEqual(fastErf(-.infinity), -1)
        XCTAssertTrue(fastErf(.nan).isNaN)
    }

    func testFastExpMatchesExpToTwoUlp() {
        var worstRelative: Double = 0
        var x: Float = -87
        while x <= 88 {
            let expected = exp(Double(x))
            worstRelative = max(worstRelative, abs(Double(fastExp(x)) - expected) / expected)
            x += 0.0137
        }
        XCTAssertLessThan(worstRelative, 2.5e-7, "largest relative error \(worstRelative)")
        XCTAssertEqual(fastExp(-100), 0)
        XCTAssertEqual(fastExp(0), 1)
        XCTAssertTrue(fastExp(.nan).isNaN)
    }

    /// Over [1e-30, 1e30] (the range the attention-KL loss gives it), relative to the larger of
    /// |ln x| and 1: near x = 1 the error is absolute, within a few ulp of ln x's size elsewhere.
    func testFastLogMatchesLog() {
        var worst: Double = 0
        var x: Float = 1e-30
        while x <= 1e30 {
            let expected = log(Double(x))
            worst = max(worst, abs(Double(fastLog(x)) - expected) / max(abs(expected), 1))
            x *= 1.000_73
        }
        var y: Float = 0.5
        while y <= 2 {  // densely around 1, where ln x crosses 0
            let expected = log(Double(y))
            worst = max(worst, abs(Double(fastLog(y)) - expected) / max(abs(expected), 1))
            y += 0.000_013
        }
        XCTAssertLessThan(worst, 2.5e-7, "largest error \(worst)")
        XCTAssertEqual(fastLog(1), 0)
    }

    /// GELU's derivative takes e^(-x²) from the erf computation: the same within 1.2e-7.
    func testFastErfAndGaussianGivesTheGaussian() {
        var x: Float = -6
        while x <= 6 {
            let (erf, gaussian) = fastErfAndGaussian(x)
            XCTAssertEqual(erf, fastErf(x))
            XCTAssertEqual(Double(gaussian), exp(-Double(x) * Double(x)), accuracy: 1.2e-7, "x = \(x)")
            x += 0.0007
        }
    }

    func testGeluForwardIsExactErfGelu() {
        let x = rng.floats(1000, scale: 4)
        var out = [Float](repeating: 0, count: x.count)
        geluForward(&out, x, count: x.count)
        assertClose(out, x.map { 0.5 * Double($0) * (1 + erf(Double($0) / 2.0.squareRoot())) }, tolerance: 1e-6)
    }

    func testGeluBackwardMatchesFiniteDifferences() {
        let x = rng.floats(200, scale: 3), dout = rng.floats(200)
        var dinp = [Float](repeating: 0, count: x.count)
        geluBackward(&dinp, x, dout, count: x.count)
        let gelu = { (v: Double) in 0.5 * v * (1 + erf(v / 2.0.squareRoot())) }
        let h = 1e-6
        let expected = x.indices.map { i in Double(dout[i]) * (gelu(Double(x[i]) + h) - gelu(Double(x[i]) - h)) / (2 * h) }
        assertClose(dinp, expected, tolerance: 1e-5)
    }

    func testAttentionMatchesNaiveWithPadding() {
        let batch = 2, seq = 5, hidden = 8, heads = 2, d = hidden / heads
        let qkv = rng.floats(batch * seq * 3 * hidden, scale: 2)
        let mask: [Int32] = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]
        var ctx = [Float](repeating: .nan, count: batch * seq * hidden)
        var probs = [Float](repeating: .nan, count: batch * heads * seq * seq)
        attentionForward(&ctx, &probs, qkv, mask, batch: batch, seq: seq, hidden: hidden, heads: heads)
        var expectedProbs = [Double](), expectedCtx = [Double](repeating: 0, count: ctx.count)
        for b in 0..<batch { for h in 0..<heads { for i in 0..<seq {
            func at(_ t: Int, _ part: Int, _ j: Int) -> Double { Double(qkv[(b * seq + t) * 3 * hidden + part * hidden + h * d + j]) }
            var scores = (0..<seq).map { t in (0..<d).map { at(i, 0, $0) * at(t, 1, $0) }.reduce(0, +) / Double(d).squareRoot() }
            for t in 0..<seq where mask[b * seq + t] == 0 { scores[t] = -.infinity }
            let m = scores.max()!, e = scores.map { exp($0 - m) }, s = e.reduce(0, +)
            let p = e.map { $0 / s }
            expectedProbs += p
            for j in 0..<d { expectedCtx[(b * seq + i) * hidden + h * d + j] = (0..<seq).map { p[$0] * at($0, 2, j) }.reduce(0, +) }
        } } }
        assertClose(probs, expectedProbs, tolerance: 1e-6)
        assertClose(ctx, expectedCtx, tolerance: 1e-5)
        // Padded keys get exactly zero probability.
        for h in 0..<heads { for i in 0..<seq { for t in 3..<5 { XCTAssertEqual(probs[((1 * heads + h) * seq + i) * seq + t], 0) } } }
    }

    func testParallelForCoversEveryIndexOnce() {
        Threads.configure(2)
        defer { Threads.configure(1) }
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: 1001)
        counts.initialize(repeating: 0, count: 1001)
        defer { counts.deallocate() }
        parallelFor(1001) { range in for i in range { counts[i] += 1 } }
        XCTAssertEqual((0..<1001).filter { counts[$0] != 1 }, [])
    }

    /// zeroFill writes +0 to exactly its range, on 1–3 threads, below and above the size it splits at.
    func testZeroFillZeroesExactlyItsRange() {
        defer { Threads.configure(1) }
        for threads in 1...3 {
            Threads.configure(threads)
            for count in [0, 1, 17, 1 << 16, (1 << 17) + 5, 3 << 17] {
                let buffer = FloatBuffer(count: count + 2, zeroed: false)
                buffer.pointer.update(repeating: -1, count: count + 2)
                zeroFill(buffer.pointer + 1, count: count)
                XCTAssertEqual(buffer[0], -1)
                XCTAssertEqual(buffer[count + 1], -1, "\(threads) threads, \(count) values: wrote past the end")
                XCTAssertTrue((1...max(1, count)).allSatisfy { count == 0 || buffer[$0].bitPattern == 0 },
                              "\(threads) threads, \(count) values: not every value is +0")
            }
        }
    }
}

final class SeededGeneratorTests: XCTestCase {
    func testSameSeedAndStreamRepeatAndStreamsDiffer() {
        var a = SeededGenerator(seed: 7, stream: 3), b = SeededGenerator(seed: 7, stream: 3), c = SeededGenerator(seed: 7, stream: 4)
        let xs = (0..<100).map { _ in a.next() }
        XCTAssertEqual(xs, (0..<100).map { _ in b.next() })
        XCTAssertNotEqual(xs, (0..<100).map { _ in c.next() })
    }

    func testUniformAndNormalMoments() {
        var g = SeededGenerator(seed: 1)
        let u = (0..<100_000).map { _ in Double(g.nextUnitFloat()) }
        XCTAssertEqual(u.reduce(0, +) / Double(u.count), 0.5, accuracy: 0.005)
        XCTAssertTrue(u.allSatisfy { $0 >= 0 && $0 < 1 })
        let n = (0..<100_000).map { _ in Double(g.nextNormal()) }
        let mean = n.reduce(0, +) / Double(n.count)
        let variance = n.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n.count)
        XCTAssertEqual(mean, 0, accuracy: 0.01)
        XCTAssertEqual(variance, 1, accuracy: 0.02)
    }
}

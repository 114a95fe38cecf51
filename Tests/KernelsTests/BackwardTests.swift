import Foundation
import TestSupport
import XCTest
@testable import Kernels

/// Every backward kernel against central finite differences of a Double reference forward written
/// here from the formula, on the scalar loss L = Σ out ⊙ R with random R.
///
/// Tolerances. The finite differences are taken in Double with h = 1e-5 on O(1) inputs: truncation
/// (h² · f''' / 6 ≈ 1e-10) and rounding (1e-16 · |L| / h ≈ 1e-10) are negligible, so the reference is
/// the exact gradient to ~1e-9. The kernels compute in Float: each gradient element is a sum of at
/// most ~100 products of O(1) values, whose rounding stays below ~100 · 6e-8 relative to the largest
/// term; we allow 2e-5 × max(1, largest |gradient|). A wrong index, a missing term or a sign error
/// gives errors of order the gradient itself.
///
/// Gradient buffers are pre-filled with random values and the kernel's result minus that fill is
/// compared, which checks that every backward ADDS.
final class BackwardTests: XCTestCase {
    var rng = SeededRandom(seed: 7)
    let tolerance = 2e-5

    override func tearDown() { Threads.configure(1) }

    // MARK: linear

    /// Both ways the weight gradient is split: over input features (wider input) and output features.
    func testLinearBackwardMatchesFiniteDifferences() {
        checkLinearBackward(rows: 7, inF: 13, outF: 5)
        checkLinearBackward(rows: 7, inF: 5, outF: 13)
    }

    private func checkLinearBackward(rows: Int, inF: Int, outF: Int) {
        let x = rng.floats(rows * inF), w = rng.floats(outF * inF), b = rng.floats(outF), r = rng.floats(rows * outF)
        func loss(_ x: [Double], _ w: [Double], _ b: [Double]) -> Double {
            var l = 0.0
            for i in 0..<rows { for o in 0..<outF {
                var s = b[o]
                for k in 0..<inF { s += x[i * inF + k] * w[o * inF + k] }
                l += s * Double(r[i * outF + o])
            } }
            return l
        }
        let xd = x.map(Double.init), wd = w.map(Double.init), bd = b.map(Double.init)
        let (dx, dw, db) = runLinearBackward(x, w, r, rows: rows, inF: inF, outF: outF)
        assertGradient(dx, centralDifferences(xd) { loss($0, wd, bd) }, "dinp")
        assertGradient(dw, centralDifferences(wd) { loss(xd, $0, bd) }, "dweight")
        assertGradient(db, centralDifferences(bd) { loss(xd, wd, $0) }, "dbias")
    }

    /// With two threads the input gradient is split into row blocks and the weight gradient over
    /// the wider of its two sides; the result must match one thread up to summation order inside BLAS.
    func testLinearBackwardParallelSplitMatchesSerial() {
        checkParallelSplit(rows: 150, inF: 24, outF: 70)
        checkParallelSplit(rows: 150, inF: 70, outF: 24)
    }

    private func checkParallelSplit(rows: Int, inF: Int, outF: Int) {
        let x = rng.floats(rows * inF), w = rng.floats(outF * inF), r = rng.floats(rows * outF)
        Threads.configure(1)
        let serial = runLinearBackward(x, w, r, rows: rows, inF: inF, outF: outF)
        Threads.configure(2)
        let parallel = runLinearBackward(x, w, r, rows: rows, inF: inF, outF: outF)
        assertGradient(parallel.0, serial.0.map(Double.init), "dinp")
        assertGradient(parallel.1, serial.1.map(Double.init), "dweight")
        assertGradient(parallel.2, serial.2.map(Double.init), "dbias")
        // Without the optional gradients nothing else changes.
        var dw = [Float](repeating: 0, count: outF * inF)
        linearBackward(nil, &dw, nil, r, x, w, rows: rows, inFeatures: inF, outFeatures: outF)
        assertGradient(dw, serial.1.map(Double.init), "dweight alone")
    }

    /// Returns the gradients with the pre-fill subtracted.
    private func runLinearBackward(_ x: [Float], _ w: [Float], _ r: [Float], rows: Int, inF: Int, outF: Int) -> ([Float], [Float], [Float]) {
        var dx = fill(rows * inF), dw = fill(outF * inF), db = fill(outF)
        linearBackward(&dx, &dw, &db, r, x, w, rows: rows, inFeatures: inF, outFeatures: outF)
        return (unfill(dx), unfill(dw), unfill(db))
    }

    // MARK: layer norm

    func testLayerNormBackwardMatchesFiniteDifferences() {
        let rows = 5, dim = 24, eps: Float = 1e-5
        let x = rng.floats(rows * dim, scale: 3), g = rng.floats(dim), b = rng.floats(dim), r = rng.floats(rows * dim)
        func loss(_ x: [Double], _ g: [Double], _ b: [Double]) -> Double {
            var l = 0.0
            for i in 0..<rows {
                let row = x[(i * dim)..<((i + 1) * dim)]
                let m = row.reduce(0, +) / Double(dim)
                let v = row.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(dim)
                for j in 0..<dim { l += ((x[i * dim + j] - m) / (v + Double(eps)).squareRoot() * g[j] + b[j]) * Double(r[i * dim + j]) }
            }
            return l
        }
        let (dx, dg, db) = runLayerNormBackward(x, g, b, r, rows: rows, dim: dim, eps: eps)
        let xd = x.map(Double.init), gd = g.map(Double.init), bd = b.map(Double.init)
        assertGradient(dx, centralDifferences(xd) { loss($0, gd, bd) }, "dinp")
        assertGradient(dg, centralDifferences(gd) { loss(xd, $0, bd) }, "dgamma")
        assertGradient(db, centralDifferences(bd) { loss(xd, gd, $0) }, "dbeta")
    }

    /// Rows split over workers for dinp and columns for dgamma/dbeta: identical sums in the same order.
    func testLayerNormBackwardParallelSplitMatchesSerial() {
        let rows = 130, dim = 128
        let x = rng.floats(rows * dim, scale: 3), g = rng.floats(dim), b = rng.floats(dim), r = rng.floats(rows * dim)
        Threads.configure(1)
        let serial = runLayerNormBackward(x, g, b, r, rows: rows, dim: dim, eps: 1e-12)
        Threads.configure(2)
        let parallel = runLayerNormBackward(x, g, b, r, rows: rows, dim: dim, eps: 1e-12)
        XCTAssertEqual(serial.0, parallel.0)
        XCTAssertEqual(serial.1, parallel.1)
        XCTAssertEqual(serial.2, parallel.2)
    }

    private func runLayerNormBackward(_ x: [Float], _ g: [Float], _ b: [Float], _ r: [Float],
                                      rows: Int, dim: Int, eps: Float) -> ([Float], [Float], [Float]) {
        var out = [Float](repeating: 0, count: rows * dim), mean = [Float](repeating: 0, count: rows), rstd = mean
        layerNormForward(&out, &mean, &rstd, x, g, b, rows: rows, dim: dim, eps: eps)
        var dx = fill(rows * dim), dg = fill(dim), db = fill(dim)
        layerNormBackward(&dx, &dg, &db, r, x, g, mean, rstd, rows: rows, dim: dim)
        return (unfill(dx), unfill(dg), unfill(db))
    }

    // MARK: attention

    func testAttentionBackwardMatchesFiniteDifferencesWithPadding() {
        checkAttentionBackward(dropout: 0)
    }

    func testAttentionBackwardWithDropoutMatchesFiniteDifferences() {
        checkAttentionBackward(dropout: 0.3)
    }

    /// L = Σ ctx ⊙ Rc + Σ probs ⊙ Rp: Rp stands for a distillation loss on the attention maps, pre-filled
    /// into dprobs. Row 1 of the batch has two padded positions, so padded keys must get no gradient and
    /// padded queries still get theirs. With dropout the mask drawn by the forward is reused by the reference.
    private func checkAttentionBackward(dropout: Float) {
        let batch = 2, seq = 5, hidden = 8, heads = 2, d = hidden / heads
        let qkv = rng.floats(batch * seq * 3 * hidden, scale: 2)
        let mask: [Int32] = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]
        let rc = rng.floats(batch * seq * hidden), rp = rng.floats(batch * heads * seq * seq)
        var ctx = [Float](repeating: .nan, count: batch * seq * hidden)
        var probs = [Float](repeating: .nan, count: batch * heads * seq * seq)
        var keep = [Float](repeating: 1, count: probs.count)
        let sites = dropout > 0 ? AttentionDropout(probability: dropout, seed: 11) : nil
        if let sites {
            attentionForward(&ctx, &probs, qkv, mask, dropout: sites, batch: batch, seq: seq, hidden: hidden, heads: heads)
            // Head (b, h) draws stream b·H + h of the seed: the mask the forward used and the backward draws again.
            for bh in 0..<(batch * heads) {
                keep.withUnsafeMutableBufferPointer { sites.mask($0.baseAddress! + bh * seq * seq, head: bh, count: seq * seq) }
            }
            XCTAssertTrue(keep.contains(0) && keep.contains(1 / (1 - dropout)), "the mask drops some and keeps some")
            // The probabilities are the undropped ones, bit for bit; ctx = (probs ⊙ keep) · v.
            var plainCtx = ctx, plainProbs = probs
            attentionForward(&plainCtx, &plainProbs, qkv, mask, batch: batch, seq: seq, hidden: hidden, heads: heads)
            XCTAssertEqual(probs, plainProbs)
            var expectedCtx = [Double](repeating: 0, count: ctx.count)
            for b in 0..<batch { for h in 0..<heads { for i in 0..<seq { for j in 0..<d {
                let row = ((b * heads + h) * seq + i) * seq
                expectedCtx[(b * seq + i) * hidden + h * d + j] = (0..<seq).map { t in
                    Double(probs[row + t]) * Double(keep[row + t]) * Double(qkv[(b * seq + t) * 3 * hidden + 2 * hidden + h * d + j])
                }.reduce(0, +)
            } } } }
            assertClose(ctx, expectedCtx, tolerance: 1e-5)
        } else {
            attentionForward(&ctx, &probs, qkv, mask, batch: batch, seq: seq, hidden: hidden, heads: heads)
        }
        func loss(_ qkv: [Double]) -> Double {
            var l = 0.0
            for b in 0..<batch { for h in 0..<heads { for i in 0..<seq {
                func at(_ t: Int, _ part: Int, _ j: Int) -> Double { qkv[(b * seq + t) * 3 * hidden + part * hidden + h * d + j] }
                var scores = (0..<seq).map { t in (0..<d).map { at(i, 0, $0) * at(t, 1, $0) }.reduce(0, +) / Double(d).squareRoot() }
                for t in 0..<seq where mask[b * seq + t] == 0 { scores[t] = -.infinity }
                let m = scores.max()!, e = scores.map { exp($0 - m) }, s = e.reduce(0, +)
                let row = ((b * heads + h) * seq + i) * seq
                let p = e.map { $0 / s }
                for t in 0..<seq { l += p[t] * Double(rp[row + t]) }
                for j in 0..<d {
                    let c = (0..<seq).map { p[$0] * Double(keep[row + $0]) * at($0, 2, j) }.reduce(0, +)
                    l += c * Double(rc[(b * seq + i) * hidden + h * d + j])
                }
            } } }
            return l
        }
        var dqkv = fill(qkv.count), dprobs = rp, dscores = [Float](repeating: .nan, count: probs.count)
        attentionBackward(&dqkv, &dprobs, &dscores, rc, qkv, probs, dropout: sites, batch: batch, seq: seq, hidden: hidden, heads: heads)
        let expected = centralDifferences(qkv.map(Double.init), loss)
        assertGradient(unfill(dqkv), expected, "dqkv")
        // Padded keys (row 1, positions 3 and 4) get exactly no key or value gradient.
        for t in 3..<5 {
            let start = (1 * seq + t) * 3 * hidden
            XCTAssertEqual(unfill(dqkv)[(start + hidden)..<(start + 3 * hidden)].map(abs).max()!, 0, accuracy: 1e-6)
        }
    }

    // MARK: embeddings, tanh, dropout

    func testEmbeddingBackwardMatchesFiniteDifferencesWithRepeatedIds() {
        let batch = 2, seq = 4, hidden = 6, vocab = 5, positions = 6, typeCount = 2
        let ids: [Int32] = [1, 3, 3, 0, 3, 1, 4, 0], types: [Int32] = [0, 0, 1, 1, 0, 1, 1, 1]
        // RoBERTa-style position ids (padding id 1 here): repeated, not the row's column.
        let positionIds: [Int32] = [2, 3, 4, 1, 2, 3, 1, 1]
        let word = rng.floats(vocab * hidden), position = rng.floats(positions * hidden), tokenType = rng.floats(typeCount * hidden)
        let r = rng.floats(batch * seq * hidden)
        func loss(_ word: [Double], _ position: [Double], _ tokenType: [Double]) -> Double {
            var l = 0.0
            for row in 0..<(batch * seq) { for i in 0..<hidden {
                let o = word[Int(ids[row]) * hidden + i] + position[Int(positionIds[row]) * hidden + i] + tokenType[Int(types[row]) * hidden + i]
                l += o * Double(r[row * hidden + i])
            } }
            return l
        }
        var dword = fill(word.count), dposition = fill(position.count), dtype = fill(tokenType.count)
        embeddingBackward(&dword, &dposition, &dtype, r, ids, positionIds, types, rows: batch * seq, hidden: hidden)
        let w = word.map(Double.init), p = position.map(Double.init), y = tokenType.map(Double.init)
        assertGradient(unfill(dword), centralDifferences(w) { loss($0, p, y) }, "dword")
        assertGradient(unfill(dposition), centralDifferences(p) { loss(w, $0, y) }, "dposition")
        assertGradient(unfill(dtype), centralDifferences(y) { loss(w, p, $0) }, "dtokenType")
    }

    /// Column-split workers give the same sums in the same order as one thread.
    func testEmbeddingBackwardParallelMatchesSerial() {
        let batch = 3, seq = 40, hidden = 192, vocab = 20
        let ids = (0..<(batch * seq)).map { _ in Int32(rng.next() % UInt64(vocab)) }
        let types = (0..<(batch * seq)).map { _ in Int32(rng.next() % 2) }
        let positionIds = (0..<(batch * seq)).map { Int32($0 % seq) }
        let r = rng.floats(batch * seq * hidden)
        func run() -> [Float] {
            var dword = [Float](repeating: 0, count: vocab * hidden), dposition = [Float](repeating: 0, count: seq * hidden)
            var dtype = [Float](repeating: 0, count: 2 * hidden)
            embeddingBackward(&dword, &dposition, &dtype, r, ids, positionIds, types, rows: batch * seq, hidden: hidden)
            return dword + dposition + dtype
        }
        Threads.configure(1)
        let serial = run()
        Threads.configure(2)
        XCTAssertEqual(run(), serial)
    }

    /// Without token types (DistilBERT) only the word and position tables get gradients.
    func testEmbeddingBackwardWithoutTokenTypes() {
        let hidden = 3, ids: [Int32] = [1, 0, 1], positionIds: [Int32] = [0, 1, 2]
        let r = rng.floats(ids.count * hidden)
        var dword = [Float](repeating: 0, count: 2 * hidden), dposition = [Float](repeating: 0, count: 3 * hidden)
        embeddingBackward(&dword, &dposition, nil, r, ids, positionIds, nil, rows: ids.count, hidden: hidden)
        XCTAssertEqual(Array(dposition), r)
        XCTAssertEqual(Array(dword[hidden...]), (0..<hidden).map { r[$0] + r[2 * hidden + $0] })
        var out = [Float](repeating: 0, count: r.count)
        let word = rng.floats(2 * hidden), position = rng.floats(3 * hidden)
        embeddingForward(&out, ids, positionIds, nil, word, position, nil, rows: ids.count, hidden: hidden)
        XCTAssertEqual(out[hidden], word[0] + position[hidden])
    }

    func testReluBackwardMatchesFiniteDifferences() {
        // Away from 0, where the derivative is defined.
        let x = rng.floats(50, scale: 3).map { abs($0) < 0.05 ? $0 + 0.1 : $0 }, r = rng.floats(50)
        var out = [Float](repeating: 0, count: x.count), dx = fill(x.count)
        reluForward(&out, x, count: x.count)
        reluBackward(&dx, r, out, count: x.count)
        let expected = centralDifferences(x.map(Double.init)) { x in zip(x, r).map { max($0, 0) * Double($1) }.reduce(0, +) }
        assertGradient(unfill(dx), expected, "dinp")
    }

    /// Pooling forward against a plain loop and its backward against finite differences, both
    /// poolings, a padded row included (padding gets neither weight nor gradient).
    func testPoolingForwardAndBackward() {
        let batch = 2, seq = 4, width = 3
        let h = rng.floats(batch * seq * width), r = rng.floats(batch * width)
        let mask: [Int32] = [1, 1, 1, 1, 1, 1, 0, 0]
        for pooling in Pooling.allCases {
            func reference(_ h: [Double]) -> [Double] {
                (0..<batch).flatMap { b -> [Double] in
                    let n = pooling == .first ? 1 : mask[(b * seq)..<((b + 1) * seq)].filter { $0 != 0 }.count
                    return (0..<width).map { i in (0..<n).map { h[(b * seq + $0) * width + i] }.reduce(0, +) / Double(n) }
                }
            }
            var out = [Float](repeating: .nan, count: batch * width)
            poolForward(&out, h, mask, pooling: pooling, batch: batch, seq: seq, width: width)
            for (a, e) in zip(out, reference(h.map(Double.init))) { XCTAssertEqual(Double(a), e, accuracy: 1e-6, "\(pooling)") }
            var dh = fill(h.count)
            poolBackward(&dh, r, mask, pooling: pooling, batch: batch, seq: seq, width: width)
            let expected = centralDifferences(h.map(Double.init)) { x in zip(reference(x), r).map { $0 * Double($1) }.reduce(0, +) }
            assertGradient(unfill(dh), expected, "dh (\(pooling))")
        }
    }

    func testTanhBackwardMatchesFiniteDifferences() {
        let x = rng.floats(50, scale: 3), r = rng.floats(50)
        var out = [Float](repeating: 0, count: x.count), dx = fill(x.count)
        tanhForward(&out, x, count: x.count)
        tanhBackward(&dx, r, out, count: x.count)
        let expected = centralDifferences(x.map(Double.init)) { x in zip(x, r).map { tanh($0) * Double($1) }.reduce(0, +) }
        assertGradient(unfill(dx), expected, "dinp")
    }

    /// The mask is exactly 0 or 1/(1-p), drops a fraction p, repeats for a seed whatever the thread count,
    /// and its backward is the same product (checked by finite differences with the mask fixed).
    func testDropoutMaskStatisticsDeterminismAndBackward() {
        let n = 20_000, p: Float = 0.25
        let x = rng.floats(n), r = rng.floats(n)
        func run(seed: UInt64) -> (out: [Float], keep: [Float]) {
            var out = [Float](repeating: .nan, count: n), keep = out
            dropoutForward(&out, &keep, x, probability: p, seed: seed, count: n)
            return (out, keep)
        }
        Threads.configure(1)
        let first = run(seed: 3)
        Threads.configure(2)
        let again = run(seed: 3)
        XCTAssertEqual(first.out, again.out)
        XCTAssertEqual(first.keep, again.keep)
        XCTAssertNotEqual(run(seed: 4).keep, first.keep)
        XCTAssertTrue(first.keep.allSatisfy { $0 == 0 || $0 == 1 / (1 - p) })
        let dropped = Double(first.keep.filter { $0 == 0 }.count) / Double(n)
        // Binomial standard deviation √(p(1-p)/n) ≈ 0.003; 5 σ.
        XCTAssertEqual(dropped, Double(p), accuracy: 0.015)
        for i in 0..<n { XCTAssertEqual(first.out[i], x[i] * first.keep[i]) }
        // In place gives the same values.
        var inPlace = x, keep = [Float](repeating: 0, count: n)
        inPlace.withUnsafeMutableBufferPointer { buffer in
            dropoutForward(buffer.baseAddress!, &keep, buffer.baseAddress!, probability: p, seed: 3, count: n)
        }
        XCTAssertEqual(inPlace, first.out)

        let small = 40
        var dx = fill(small)
        dropoutBackward(&dx, r, first.keep, count: small)
        let expected = centralDifferences(x[0..<small].map(Double.init)) { x in
            (0..<small).map { x[$0] * Double(first.keep[$0]) * Double(r[$0]) }.reduce(0, +)
        }
        assertGradient(unfill(dx), expected, "dinp")
    }

    /// The counter-based mask behaves like independent draws: in 2²⁰ elements at p = 0.1 the drop
    /// rate, neighbours both dropped (p²), the same element dropped in two streams of one seed and in
    /// one stream of two seeds (p² each), all within 5 binomial standard deviations.
    func testDropoutMasksAreIndependentAcrossElementsStreamsAndSeeds() {
        let n = 1 << 20, p: Float = 0.1
        func mask(seed: UInt64, stream: UInt64) -> [Bool] {
            var keep = [Float](repeating: .nan, count: n)
            dropoutMask(&keep, count: n, probability: p, seed: seed, stream: stream)
            return keep.map { $0 == 0 }
        }
        func assertRate(_ hits: Int, _ trials: Int, _ expected: Double, _ what: String) {
            let sigma = (expected * (1 - expected) / Double(trials)).squareRoot()
            XCTAssertEqual(Double(hits) / Double(trials), expected, accuracy: 5 * sigma, what)
        }
        let a = mask(seed: 7, stream: 0), b = mask(seed: 7, stream: 1), c = mask(seed: 8, stream: 0)
        let q = Double(p)
        assertRate(a.filter { $0 }.count, n, q, "drop rate")
        assertRate((1..<n).filter { a[$0] && a[$0 - 1] }.count, n - 1, q * q, "neighbours")
        assertRate((0..<n).filter { a[$0] && b[$0] }.count, n, q * q, "two streams")
        assertRate((0..<n).filter { a[$0] && c[$0] }.count, n, q * q, "two seeds")
        XCTAssertEqual(mask(seed: 7, stream: 1), b, "a stream repeats")
    }

    // MARK: helpers

    /// The pre-fill every gradient buffer starts from: fixed values, so `unfill` can take them off again.
    private func fill(_ n: Int) -> [Float] { (0..<n).map { Float(($0 * 7919) % 17) / 8 - 1 } }
    private func unfill(_ g: [Float]) -> [Float] { zip(g, fill(g.count)).map { $0 - $1 } }

    /// Central differences (f(x + h eᵢ) - f(x - h eᵢ)) / 2h for every i, in Double.
    private func centralDifferences(_ x: [Double], h: Double = 1e-5, _ f: ([Double]) -> Double) -> [Double] {
        var x = x
        return x.indices.map { i in
            let saved = x[i]
            x[i] = saved + h; let plus = f(x)
            x[i] = saved - h; let minus = f(x)
            x[i] = saved
            return (plus - minus) / (2 * h)
        }
    }

    /// |actual - expected| ≤ tolerance × max(1, largest |expected|) everywhere; reports the max error.
    private func assertGradient(_ actual: [Float], _ expected: [Double], _ name: String,
                                file: StaticString = #filePath, line: UInt = #line) {
        let scale = max(1, expected.map(abs).max() ?? 0)
        assertClose(actual, expected, tolerance: tolerance * scale, file: file, line: line)
        let worst = zip(actual, expected).map { abs(Double($0) - $1) }.max() ?? 0
        print("\(name): max error \(worst) (scale \(scale))")
    }
}

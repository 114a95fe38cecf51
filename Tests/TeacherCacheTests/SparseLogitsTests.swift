import Foundation
import Kernels
import XCTest

import TeacherCache

/// SparseLogits: top-k against a full sort of a Double log-softmax, ties, tail mass, extreme and −∞ logits,
/// the batched form; sampling's invariants, determinism, frequencies against the softmax (chi-square),
/// temperature, zero-probability ids, and the number of distinct ids on a Zipf-like 30k distribution.
final class SparseLogitsTests: XCTestCase {
    // MARK: - Helpers

    private let vocabulary = 30_522  // BERT's MLM vocabulary: 476 blocks of 64 and a partial one

    /// Logits ~ N(0, scale²) (Box–Muller from the seeded generator).
    private func normalLogits(_ count: Int, scale: Float, seed: UInt64) -> [Float] {
        var g = SeededGenerator(seed: seed)
        return (0..<count).map { _ in g.nextNormal() * scale }
    }

    /// A peaked distribution like an MLM teacher's: p ∝ rank^(−s) over a random permutation of the ids
    /// (logits −s·ln(rank), shifted by 3: softmax ignores the shift).
    private func zipfLogits(_ count: Int, exponent: Double, seed: UInt64) -> [Float] {
        var g = SeededGenerator(seed: seed)
        var ranks = Array(1...count)
        for i in stride(from: count - 1, to: 0, by: -1) { ranks.swapAt(i, Int(g.next() % UInt64(i + 1))) }
        return ranks.map { Float(-exponent * log(Double($0))) + 3 }
    }

    /// log_softmax(logits/τ) in Double, from the Floats as given.
    private func referenceLogSoftmax(_ logits: [Float], temperature: Float) -> [Double] {
        let z = logits.map { Double($0) / Double(temperature) }
        let m = z.max()!
        let logNormaliser = m + log(z.reduce(0) { $0 + exp($1 - m) })
        return z.map { $0 - logNormaliser }
    }

    private func softmax(_ logits: [Float], temperature: Float) -> [Double] {
        referenceLogSoftmax(logits, temperature: temperature).map { exp($0) }
    }

    private func topK(_ logits: [Float], k: Int, temperature: Float = 1) -> TopK {
        logits.withUnsafeBufferPointer { SparseLogits.topK($0, k: k, temperature: temperature) }
    }

    private func sample(_ logits: [Float], draws: Int, temperature: Float = 1, seed: UInt64, stream: UInt64 = 0)
        -> (ids: [Int32], counts: [UInt16]) {
        var g = SeededGenerator(seed: seed, stream: stream)
        return logits.withUnsafeBufferPointer { SparseLogits.sample($0, draws: draws, temperature: temperature, generator: &g) }
    }

    /// Pearson's chi-square of observed counts against expected probabilities.
    private func chiSquare(_ counts: [Int], _ probabilities: [Double], total: Int) -> Double {
        zip(counts, probabilities).reduce(0) { sum, pair in
            let expected = Double(total) * pair.1
            return sum + (Double(pair.0) - expected) * (Double(pair.0) - expected) / expected
        }
    }

    // MARK: - Top-k

    /// Against a full sort by (logit desc, id asc) of a Double log-softmax. Tolerance on each log-probability:
    /// 1e-6 + 2⁻²³·(|z| + |log p|): the Float rounding of z = logit/τ and of the result (½ ulp each, both bounded
    /// by 2⁻²³·|·| with margin), plus fastExp's ~2 ulp relative error per term of the sum (≤ 2.4e-7 in the log).
    func testTopKMatchesFullSortOfDoubleLogSoftmax() {
        for (width, seed) in [(10, UInt64(1)), (1000, 2), (vocabulary, 3)] {
            let logits = normalLogits(width, scale: 3, seed: seed)
            for temperature: Float in [1, 0.5, 2, 7] {
                let reference = referenceLogSoftmax(logits, temperature: temperature)
                let order = (0..<width).sorted { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
                for k in [1, 5, 20, 100] where k <= width {
                    let top = topK(logits, k: k, temperature: temperature)
                    XCTAssertEqual(top.ids, order[0..<k].map { Int32($0) }, "width \(width) τ \(temperature) k \(k)")
                    var worst = 0.0
                    for (id, logProb) in zip(top.ids, top.logProbs) {
                        let expected = reference[Int(id)]
                        let z = Double(logits[Int(id)]) / Double(temperature)
                        let tolerance = 1e-6 + 0x1p-23 * (abs(z) + abs(expected))
                        worst = max(worst, abs(Double(logProb) - expected))
                        XCTAssertEqual(Double(logProb), expected, accuracy: tolerance, "width \(width) τ \(temperature) id \(id)")
                    }
                    // Tail mass: the kept probabilities are summed from the stored Floats; error ≤ Σ p·(relative error) ≤ 1e-6.
                    let referenceTail = 1 - top.ids.reduce(0.0) { $0 + exp(reference[Int($1)]) }
                    XCTAssertEqual(Double(top.tailMass), referenceTail, accuracy: 1e-6, "width \(width) τ \(temperature) k \(k)")
                    XCTAssertTrue(zip(top.logProbs, top.logProbs.dropFirst()).allSatisfy { $0 >= $1 }, "sorted")
                    if width == vocabulary && temperature == 1 && k == 20 {
                        print("[topK] V \(width), k 20: max |log p − reference| \(worst), tail mass \(top.tailMass)")
                    }
                }
            }
        }
    }

    func testTopKTiesGoToTheSmallerIdAndWorstCaseOrder() {
        // Integer logits in a small range: many ties.
        var g = SeededGenerator(seed: 9)
        let tied = (0..<5000).map { _ in Float(g.next() % 7) }
        let order = (0..<tied.count).sorted { tied[$0] > tied[$1] || (tied[$0] == tied[$1] && $0 < $1) }
        for k in [1, 3, 50, 777] {
            XCTAssertEqual(topK(tied, k: k).ids, order[0..<k].map { Int32($0) }, "k \(k)")
        }
        XCTAssertEqual(topK([2, 5, 5, 1, 5], k: 2).ids, [1, 2])
        // Ascending logits: every element enters the heap (the worst case); descending: none after the first k.
        let ascending = (0..<3000).map { Float($0) * 0.01 }
        XCTAssertEqual(topK(ascending, k: 10).ids, (2990..<3000).reversed().map { Int32($0) })
        XCTAssertEqual(topK(Array(ascending.reversed()), k: 10).ids, (0..<10).map { Int32($0) })
    }

    func testTopKEdgeCases() {
        // k = 0; k beyond the row keeps everything, and then the tail is empty.
        XCTAssertEqual(topK([1, 2, 3], k: 0), TopK(ids: [], logProbs: []))
        let all = topK([0.5, -1, 3], k: 10)
        XCTAssertEqual(all.ids, [2, 0, 1])
        XCTAssertEqual(all.tailMass, 0, accuracy: 1e-7)
        // One logit: probability 1.
        XCTAssertEqual(topK([42], k: 1), TopK(ids: [0], logProbs: [0]))
        // Extreme logits stay finite and exact: log p = z − logsumexp(z) without overflow.
        let extreme = topK([1000, 0, -1000], k: 3)
        XCTAssertEqual(extreme.ids, [0, 1, 2])
        XCTAssertEqual(extreme.logProbs, [0, -1000, -2000])
        // −∞ logits have probability 0 (log p = −∞) and come last.
        let masked = topK([-.infinity, 0, -.infinity, 0], k: 4)
        XCTAssertEqual(masked.ids, [1, 3, 0, 2])
        XCTAssertEqual(masked.logProbs, [-Float(log(2.0)), -Float(log(2.0)), -.infinity, -.infinity])
        // Uniform logits: every log p = −ln V.
        let uniform = topK([Float](repeating: 3, count: vocabulary), k: 5)
        XCTAssertEqual(uniform.ids, [0, 1, 2, 3, 4])
        for l in uniform.logProbs { XCTAssertEqual(Double(l), -log(Double(vocabulary)), accuracy: 2e-6) }
    }

    func testBatchedTopKEqualsRowByRowOnAnyThreadCount() {
        let width = 1111, rows = 37, k = 13
        let logits = normalLogits(width * rows, scale: 4, seed: 21)
        let saved = Threads.count
        defer { Threads.configure(saved) }
        for threads in [1, 2, 3] {
            Threads.configure(threads)
            var ids = [Int32](repeating: -1, count: rows * k)
            var logProbs = [Float](repeating: .nan, count: rows * k)
            logits.withUnsafeBufferPointer { l in
                ids.withUnsafeMutableBufferPointer { i in
                    logProbs.withUnsafeMutableBufferPointer { p in
                        SparseLogits.topK(rows: l, width: width, k: k, temperature: 1.5, ids: i, logProbs: p)
                    }
                }
            }
            for r in 0..<rows {
                let single = topK(Array(logits[(r * width)..<((r + 1) * width)]), k: k, temperature: 1.5)
                XCTAssertEqual(Array(ids[(r * k)..<((r + 1) * k)]), single.ids, "row \(r), \(threads) threads")
                XCTAssertEqual(Array(logProbs[(r * k)..<((r + 1) * k)]), single.logProbs, "row \(r), \(threads) threads")
            }
        }
    }

    // MARK: - Sampling

    func testSampleInvariantsAndDeterminism() {
        let logits = normalLogits(vocabulary, scale: 2, seed: 5)
        for draws in [1, 50, 1000] {
            let result = sample(logits, draws: draws, seed: 1)
            XCTAssertEqual(result.ids.count, result.counts.count)
            XCTAssertEqual(result.counts.reduce(0) { $0 + Int($1) }, draws, "counts sum to N")
            XCTAssertTrue(zip(result.ids, result.ids.dropFirst()).allSatisfy { $0 < $1 }, "distinct, ascending")
            XCTAssertTrue(result.ids.allSatisfy { $0 >= 0 && Int($0) < vocabulary })
            XCTAssertTrue(result.counts.allSatisfy { $0 > 0 })
            let again = sample(logits, draws: draws, seed: 1)
            XCTAssertTrue(again.ids == result.ids && again.counts == result.counts, "same seed, same draws")
        }
        let a = sample(logits, draws: 50, seed: 1), b = sample(logits, draws: 50, seed: 2), c = sample(logits, draws: 50, seed: 1, stream: 1)
        XCTAssertNotEqual(a.ids, b.ids, "another seed draws differently")
        XCTAssertNotEqual(a.ids, c.ids, "another stream draws differently")
        XCTAssertTrue(sample(logits, draws: 0, seed: 1) == ([], []))
    }

    func testSampleConsumesExactlyOneGeneratorValuePerDraw() {
        let logits = normalLogits(300, scale: 1, seed: 6)
        var used = SeededGenerator(seed: 77, stream: 3)
        _ = logits.withUnsafeBufferPointer { SparseLogits.sample($0, draws: 50, temperature: 1, generator: &used) }
        var expected = SeededGenerator(seed: 77, stream: 3)
        for _ in 0..<50 { _ = expected.next() }
        XCTAssertEqual(used, expected)
    }

    /// Empirical frequencies against softmax(logits/τ). Pearson's statistic with d = V − 1 degrees of freedom has
    /// mean d and standard deviation √(2d); the bound d + 6√(2d) is exceeded with probability < 1e-5 for a
    /// correct sampler, while a wrong temperature or an off-by-one in the walk gives statistics in the thousands.
    func testSampleFrequenciesMatchSoftmax() {
        // 200 ids (3 full blocks and a partial one), every expected count ≥ 10; logits in [−2, 2].
        var g = SeededGenerator(seed: 8)
        let logits = (0..<200).map { _ in g.nextUnitFloat() * 4 - 2 }
        for temperature: Float in [1, 2, 0.7] {
            let probabilities = softmax(logits, temperature: temperature)
            var counts = [Int](repeating: 0, count: logits.count)
            var generator = SeededGenerator(seed: 99)
            var total = 0
            for _ in 0..<2000 {  // 2000 rows of N = 50, as the cache draws them
                let result = logits.withUnsafeBufferPointer {
                    SparseLogits.sample($0, draws: 50, temperature: temperature, generator: &generator)
                }
                for (id, count) in zip(result.ids, result.counts) { counts[Int(id)] += Int(count) }
                total += 50
            }
            let statistic = chiSquare(counts, probabilities, total: total)
            let d = Double(logits.count - 1)
            XCTAssertLessThan(statistic, d + 6 * (2 * d).squareRoot(), "τ \(temperature)")
            // The same counts are far from the softmax at another temperature: the test can tell them apart.
            let other = softmax(logits, temperature: temperature * 3)
            XCTAssertGreaterThan(chiSquare(counts, other, total: total), 3 * d, "τ \(temperature) vs \(temperature * 3)")
        }
        // One call with many draws over few classes: 60,000 draws, 9 degrees of freedom.
        let classes: [Float] = [0, 1, 2, -1, 0.5, 3, -2, 1.5, 0.1, 2.5]
        let big = sample(classes, draws: 60_000, seed: 4)
        var counts = [Int](repeating: 0, count: classes.count)
        for (id, count) in zip(big.ids, big.counts) { counts[Int(id)] = Int(count) }
        XCTAssertLessThan(chiSquare(counts, softmax(classes, temperature: 1), total: 60_000), 9 + 6 * 18.0.squareRoot())
    }

    func testTemperatureSpreadsOrSharpensTheDraws() {
        let logits = normalLogits(1000, scale: 2, seed: 12)
        func meanDistinct(_ temperature: Float) -> Double {
            var g = SeededGenerator(seed: 5)
            var total = 0
            for _ in 0..<100 {
                total += logits.withUnsafeBufferPointer { SparseLogits.sample($0, draws: 50, temperature: temperature, generator: &g) }.ids.count
            }
            return Double(total) / 100
        }
        let cold = meanDistinct(0.1), normal = meanDistinct(1), hot = meanDistinct(100)
        print("[sample] V 1000, N 50, mean distinct ids: τ 0.1 → \(cold), τ 1 → \(normal), τ 100 → \(hot)")
        // τ 100 is nearly uniform over 1000 ids: E[distinct] = 1000·(1 − (1 − 1/1000)^50) ≈ 48.8.
        XCTAssertEqual(hot, 48.8, accuracy: 1)
        XCTAssertLessThan(cold, normal)
        XCTAssertLessThan(normal, hot)
        // τ 0.1 with logit spread 2: the largest logit dominates; a handful of ids at most.
        XCTAssertLessThan(cold, 5)
    }

    func testSampleNeverDrawsZeroProbabilityIds() {
        // Mass only on ids 0 and V−1 (the last, partial block), −∞ everywhere else.
        var logits = [Float](repeating: -.infinity, count: vocabulary)
        logits[vocabulary - 1] = 0
        XCTAssertTrue(sample(logits, draws: 500, seed: 3) == ([Int32(vocabulary - 1)], [500]))
        logits[0] = 0
        let two = sample(logits, draws: 1000, seed: 3)
        XCTAssertEqual(two.ids, [0, Int32(vocabulary - 1)])
        XCTAssertEqual(Double(two.counts[0]), 500, accuracy: 5 * 15.8, "binomial(1000, ½): sd 15.8")
        // Every other id −∞ across many rows: only the finite ids ever appear.
        var g = SeededGenerator(seed: 4)
        var sparse = [Float](repeating: -.infinity, count: 4096)
        for i in stride(from: 7, to: 4096, by: 97) { sparse[i] = g.nextUnitFloat() }
        for row in 0..<200 {
            let result = sparse.withUnsafeBufferPointer { SparseLogits.sample($0, draws: 50, temperature: 1, generator: &g) }
            XCTAssertTrue(result.ids.allSatisfy { sparse[Int($0)].isFinite }, "row \(row)")
        }
        // Logits far below the maximum (probability e^−200) are not drawn.
        XCTAssertTrue(sample([0, -200, -300], draws: 1000, seed: 1) == ([0], [1000]))
    }

    /// Rows the cache should never produce (it checks the teacher's outputs first) give documented results, no crash.
    func testDegenerateRowsGiveNoIdsInsteadOfCrashing() {
        XCTAssertTrue(sample([-.infinity, -.infinity], draws: 10, seed: 1) == ([], []), "no probability anywhere")
        XCTAssertTrue(sample([.nan, 1, 2], draws: 10, seed: 1) == ([], []), "NaN poisons the sum")
        let nan = topK([1, .nan, 3, 2], k: 2)
        XCTAssertEqual(nan.ids.count, 2)
        XCTAssertTrue(nan.logProbs.allSatisfy(\.isNaN), "a NaN logit makes the normaliser NaN")
    }

    /// On a Zipf-like distribution over 30,522 ids, the mean number of distinct ids among N = 50 draws agrees with
    /// its exact expectation Σ_i 1 − (1 − p_i)^N. Over 400 rows the mean's standard error is below 0.2 here;
    /// the tolerance is 0.6 (≥ 3 standard errors).
    func testDistinctIdsOnAPeakedVocabularyDistribution() {
        for exponent in [1.1, 1.5] {
            let logits = zipfLogits(vocabulary, exponent: exponent, seed: 31)
            let probabilities = softmax(logits, temperature: 1)
            let expected = probabilities.reduce(0.0) { $0 + 1 - pow(1 - $1, 50) }
            var g = SeededGenerator(seed: 17)
            var distinct: [Int] = []
            for _ in 0..<400 {
                distinct.append(logits.withUnsafeBufferPointer { SparseLogits.sample($0, draws: 50, temperature: 1, generator: &g) }.ids.count)
            }
            let mean = Double(distinct.reduce(0, +)) / Double(distinct.count)
            print(String(format: "[sample] Zipf s=%.1f over %d ids, top p %.3f, N 50: mean distinct ids %.2f (expected %.2f, range %d…%d)",
                         exponent, vocabulary, probabilities.max()!, mean, expected, distinct.min()!, distinct.max()!))
            XCTAssertEqual(mean, expected, accuracy: 0.6, "s \(exponent)")
            XCTAssertTrue((3...45).contains(Int(mean.rounded())), "a plausible count for a peaked distribution")
        }
    }

    /// Prints µs per row for V = 30,522: top-k (k = 20, single rows and the batched form) and sampling (N = 50).
    func testThroughputPrint() {
        #if DEBUG
        let rows = 32  // unoptimised code: fewer rows, so the suite stays quick
        #else
        let rows = 256
        #endif
        let logits = normalLogits(vocabulary * rows, scale: 3, seed: 41)
        func microseconds(_ body: () -> Void) -> Double {
            var best = Double.infinity
            for _ in 0..<3 {
                let start = DispatchTime.now().uptimeNanoseconds
                body()
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1000 / Double(rows))
            }
            return best
        }
        var checksum: Int32 = 0
        let single = microseconds {
            logits.withUnsafeBufferPointer { l in
                for r in 0..<rows {
                    checksum &+= SparseLogits.topK(UnsafeBufferPointer(rebasing: l[(r * vocabulary)..<((r + 1) * vocabulary)]), k: 20).ids[0]
                }
            }
        }
        var ids = [Int32](repeating: 0, count: rows * 20), logProbs = [Float](repeating: 0, count: rows * 20)
        let saved = Threads.count
        Threads.configure(1)
        let batched = microseconds {
            logits.withUnsafeBufferPointer { l in
                ids.withUnsafeMutableBufferPointer { i in
                    logProbs.withUnsafeMutableBufferPointer { p in SparseLogits.topK(rows: l, width: vocabulary, k: 20, ids: i, logProbs: p) }
                }
            }
        }
        Threads.configure(saved)
        var g = SeededGenerator(seed: 1)
        let sampling = microseconds {
            logits.withUnsafeBufferPointer { l in
                for r in 0..<rows {
                    checksum &+= Int32(SparseLogits.sample(UnsafeBufferPointer(rebasing: l[(r * vocabulary)..<((r + 1) * vocabulary)]),
                                                           draws: 50, temperature: 1, generator: &g).ids.count)
                }
            }
        }
        XCTAssertEqual(ids[0], topK(Array(logits[0..<vocabulary]), k: 20).ids[0])
        var line = String(format: "[throughput] SparseLogits, V %d, 1 thread: topK(k 20) %.1f µs/row, batched %.1f µs/row; sample(N 50) %.1f µs/row",
                          vocabulary, single, batched, sampling)
        #if DEBUG
        line += " (debug build: run with -c release for representative figures)"
        #endif
        print(line + " [checksum \(checksum)]")
    }
}

import Foundation
import Kernels
import Objectives
import TestSupport
import XCTest

// References for definitions.md §4–5, in Double.

func topKRenormalisedReference(_ zs: [Double], ids: [Int32], logProbs: [Float], temperature tau: Double, scaled: Bool,
                               k: Int, vocab: Int) -> Double {
    let rows = ids.count / k
    var total = 0.0
    for r in 0..<rows {
        let rowIds = (0..<k).map { Int(ids[r * k + $0]) }
        let t = softmax((0..<k).map { Double(logProbs[r * k + $0]) / tau })
        let b = rowIds.map { zs[r * vocab + $0] / tau }
        let lse = logSumExp(b)
        total += klFromLog(t, b.map { $0 - lse })
    }
    return (scaled ? tau * tau : 1) * total / Double(rows)
}

func topKGhostReference(_ zs: [Double], ids: [Int32], logProbs: [Float], k: Int, vocab: Int) -> Double {
    let rows = ids.count / k
    var total = 0.0
    for r in 0..<rows {
        let lse = logSumExp(Array(zs[(r * vocab)..<((r + 1) * vocab)]))
        let logP = (0..<k).map { zs[r * vocab + Int(ids[r * k + $0])] - lse }
        let t = (0..<k).map { exp(Double(logProbs[r * k + $0])) }
        let tailT = 1 - t.reduce(0, +), tailP = 1 - logP.map(exp).reduce(0, +)
        total += klFromLog(t, logP) + tailT * (log(max(tailT, 1e-12)) - log(max(tailP, 1e-12)))
    }
    return total / Double(rows)
}

func sampledKDReference(_ zs: [Double], ids: [Int32], counts: [Int32], offsets: [Int32], temperature tau: Double, scaled: Bool,
                        vocab: Int) -> Double {
    let rows = offsets.count - 1
    var total = 0.0
    for r in 0..<rows {
        let range = Int(offsets[r])..<Int(offsets[r + 1])
        let draws = Double(range.map { Int(counts[$0]) }.reduce(0, +))
        guard draws > 0 else { continue }
        let s = zs[(r * vocab)..<((r + 1) * vocab)].map { $0 / tau }
        let lse = logSumExp(s)
        total += klFromLog(range.map { Double(counts[$0]) / draws }, range.map { s[Int(ids[$0])] - lse })
    }
    return (scaled ? tau * tau : 1) * total / Double(rows)
}

/// The cache's top-k row in Double: ids of the k largest logits, log-probabilities over the full row, rounded to Float.
func topKOf(_ teacher: [Float], k: Int, vocab: Int) -> (ids: [Int32], logProbs: [Float]) {
    var ids: [Int32] = [], logProbs: [Float] = []
    for r in 0..<(teacher.count / vocab) {
        let row = teacher[(r * vocab)..<((r + 1) * vocab)].map(Double.init)
        let lse = logSumExp(row)
        let order = row.indices.sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }.prefix(k)
        ids += order.map { Int32($0) }
        logProbs += order.map { Float(row[$0] - lse) }
    }
    return (ids, logProbs)
}

final class SparseDistillationTests: XCTestCase {
    var rng = SeededRandom(seed: 5)

    func testTopKRenormalised() {
        let rows = 3, vocab = 12, k = 4
        let (ids, logProbs) = topKOf(rng.floats(rows * vocab, scale: 4), k: k, vocab: vocab)
        let others = (0..<rows).flatMap { r in (0..<vocab).filter { !ids[(r * k)..<((r + 1) * k)].contains(Int32($0)) }.map { r * vocab + $0 } }
        LossCheck(student: rng.floats(rows * vocab, scale: 4),
                  reference: { topKRenormalisedReference($0, ids: ids, logProbs: logProbs, temperature: 2, scaled: true, k: k, vocab: vocab) },
                  loss: { g, w, z in
                      topKRenormalisedKDLoss(gradient: g, weight: w, student: z, teacherIds: ids, teacherLogProbs: logProbs,
                                             temperature: 2, rows: rows, k: k, vocab: vocab)
                  },
                  zeroGradient: others).run()
    }

    func testTopKRenormalisedUnscaled() {
        let rows = 2, vocab = 9, k = 3
        let (ids, logProbs) = topKOf(rng.floats(rows * vocab, scale: 4), k: k, vocab: vocab)
        LossCheck(student: rng.floats(rows * vocab, scale: 4),
                  reference: { topKRenormalisedReference($0, ids: ids, logProbs: logProbs, temperature: 1.5, scaled: false, k: k, vocab: vocab) },
                  loss: { g, w, z in
                      topKRenormalisedKDLoss(gradient: g, weight: w, student: z, teacherIds: ids, teacherLogProbs: logProbs,
                                             temperature: 1.5, scaleByTemperatureSquared: false, rows: rows, k: k, vocab: vocab)
                  }).run()
    }

    func testTopKGhostToken() {
        let rows = 3, vocab = 12, k = 4
        let (ids, logProbs) = topKOf(rng.floats(rows * vocab, scale: 4), k: k, vocab: vocab)
        LossCheck(student: rng.floats(rows * vocab, scale: 4),
                  reference: { topKGhostReference($0, ids: ids, logProbs: logProbs, k: k, vocab: vocab) },
                  loss: { g, w, z in
                      topKGhostKDLoss(gradient: g, weight: w, student: z, teacherIds: ids, teacherLogProbs: logProbs, rows: rows, k: k, vocab: vocab)
                  }).run()
    }

    /// The student puts all but e⁻⁴⁰ of its mass on the teacher's ids: 1 − P < 1e-12, the clamp is active and the
    /// tail term has no gradient (the reference's central differences see the same flat clamp).
    func testTopKGhostTokenWithClampedStudentTail() {
        let rows = 2, vocab = 8, k = 3
        let (ids, logProbs) = topKOf(rng.floats(rows * vocab, scale: 4), k: k, vocab: vocab)
        var student = rng.floats(rows * vocab, scale: 0.5)
        for r in 0..<rows { for i in 0..<k { student[r * vocab + Int(ids[r * k + i])] += 40 } }
        let check = LossCheck(
            student: student,
            reference: { topKGhostReference($0, ids: ids, logProbs: logProbs, k: k, vocab: vocab) },
            loss: { g, w, z in
                topKGhostKDLoss(gradient: g, weight: w, student: z, teacherIds: ids, teacherLogProbs: logProbs, rows: rows, k: k, vocab: vocab)
            })
        check.run()
    }

    /// k = V keeps the whole distribution: both top-k losses are full KD (renormalised at any τ; ghost at τ = 1, whose
    /// tail term then holds only rounding, |1 − T| ≈ 1e-7). Ids in a shuffled order, so scatter is exercised.
    func testTopKWithKEqualToVocabularyIsFullKD() {
        let rows = 3, vocab = 50
        let teacher = rng.activations(rows * vocab, scale: 10), student = rng.activations(rows * vocab, scale: 10)
        var (ids, logProbs) = topKOf(teacher, k: vocab, vocab: vocab)
        for r in 0..<rows {  // reverse each row: order must not matter
            ids[(r * vocab)..<((r + 1) * vocab)].reverse()
            logProbs[(r * vocab)..<((r + 1) * vocab)].reverse()
        }
        for (tau, ghost) in [(Float(2), false), (Float(1), false), (Float(1), true)] {
            var expectedGradient = [Float](repeating: 0, count: student.count), gradient = expectedGradient
            let expected = vanillaKDLoss(gradient: &expectedGradient, weight: 1, student: student, teacher: teacher, temperature: tau,
                                         rows: rows, classes: vocab)
            let loss = ghost
                ? topKGhostKDLoss(gradient: &gradient, weight: 1, student: student, teacherIds: ids, teacherLogProbs: logProbs,
                                  rows: rows, k: vocab, vocab: vocab)
                : topKRenormalisedKDLoss(gradient: &gradient, weight: 1, student: student, teacherIds: ids, teacherLogProbs: logProbs,
                                         temperature: tau, rows: rows, k: vocab, vocab: vocab)
            XCTAssertEqual(loss, expected, accuracy: 1e-5 * expected, "τ = \(tau), ghost \(ghost)")
            let top = Double(expectedGradient.map(abs).max()!)
            assertClose(gradient, expectedGradient.map(Double.init), tolerance: 1e-5 * top, "τ = \(tau), ghost \(ghost)")
        }
    }

    func testSampledKDWithRaggedRowsAndAnEmptyRow() {
        let vocab = 12
        let ids: [Int32] = [3, 7, 1, 0, 2, 9, 11, 4]
        let counts: [Int32] = [5, 2, 3, 10, 1, 1, 1, 7]
        let offsets: [Int32] = [0, 3, 4, 8, 8]  // row 3 has no draws
        let rows = offsets.count - 1
        LossCheck(student: rng.floats(rows * vocab, scale: 4),
                  reference: { sampledKDReference($0, ids: ids, counts: counts, offsets: offsets, temperature: 2, scaled: true, vocab: vocab) },
                  loss: { g, w, z in
                      sampledKDLoss(gradient: g, weight: w, student: z, sampledIds: ids, sampledCounts: counts, offsets: offsets,
                                    temperature: 2, rows: rows, vocab: vocab)
                  },
                  zeroGradient: Array((3 * vocab)..<(4 * vocab))).run()
    }

    func testSampledKDUnscaled() {
        let vocab = 7
        let ids: [Int32] = [6, 0, 2, 5]
        let counts: [Int32] = [30, 20, 49, 1]
        let offsets: [Int32] = [0, 2, 4]
        LossCheck(student: rng.floats(2 * vocab, scale: 3),
                  reference: { sampledKDReference($0, ids: ids, counts: counts, offsets: offsets, temperature: 1, scaled: false, vocab: vocab) },
                  loss: { g, w, z in
                      sampledKDLoss(gradient: g, weight: w, student: z, sampledIds: ids, sampledCounts: counts, offsets: offsets,
                                    temperature: 1, scaleByTemperatureSquared: false, rows: 2, vocab: vocab)
                  }).run()
    }

    /// E[t̂] = softmax(z_t/τ), so the sampled-KD gradient s/(τ·rows)·(p − t̂) averaged over many samplings approaches
    /// full KD's. Over S samplings of N draws, each mean t̂_j has standard error √(t_j(1−t_j)/(N·S)); every gradient
    /// entry must be within 5 standard errors (times s/(τ·rows)) of full KD's. Seeded, so the outcome is fixed; a
    /// biased estimator (e.g. renormalised top-k, or t̂ off by one draw) misses by far more.
    func testSampledKDGradientIsUnbiased() {
        let rows = 2, vocab = 20, draws = 50, samplings = 4000
        let tau: Float = 2
        let teacher = rng.activations(rows * vocab, scale: 8), student = rng.activations(rows * vocab, scale: 8)
        var fullGradient = [Float](repeating: 0, count: student.count)
        vanillaKDLoss(gradient: &fullGradient, weight: 1, student: student, teacher: teacher, temperature: tau, rows: rows, classes: vocab)
        let probabilities = (0..<rows).map { r in softmax(teacher[(r * vocab)..<((r + 1) * vocab)].map { Double($0 / tau) }) }

        var generator = SeededGenerator(seed: 11)
        var sum = [Double](repeating: 0, count: student.count)
        var gradient = [Float](repeating: 0, count: student.count)
        for _ in 0..<samplings {
            var ids: [Int32] = [], counts: [Int32] = [], offsets: [Int32] = [0]
            for r in 0..<rows {
                var drawn = [Int32](repeating: 0, count: vocab)
                for _ in 0..<draws {  // inverse CDF with a 53-bit uniform
                    let u = Double(generator.next() >> 11) * 0x1p-53
                    var cumulative = 0.0, j = 0
                    while j < vocab - 1 { cumulative += probabilities[r][j]; if u < cumulative { break }; j += 1 }
                    drawn[j] += 1
                }
                for j in 0..<vocab where drawn[j] > 0 { ids.append(Int32(j)); counts.append(drawn[j]) }
                offsets.append(Int32(ids.count))
            }
            gradient = [Float](repeating: 0, count: student.count)
            sampledKDLoss(gradient: &gradient, weight: 1, student: student, sampledIds: ids, sampledCounts: counts, offsets: offsets,
                          temperature: tau, rows: rows, vocab: vocab)
            for i in sum.indices { sum[i] += Double(gradient[i]) }
        }
        let c = Double(tau) / Double(rows)  // s/(τ·rows) with s = τ²
        for r in 0..<rows {
            for j in 0..<vocab {
                let i = r * vocab + j, t = probabilities[r][j]
                let standardError = c * (t * (1 - t) / Double(draws * samplings)).squareRoot()
                let err = abs(sum[i] / Double(samplings) - Double(fullGradient[i]))
                XCTAssertLessThanOrEqual(err, 5 * standardError + 1e-6, "entry \(i): mean \(sum[i] / Double(samplings)) vs \(fullGradient[i])")
            }
        }
    }
}

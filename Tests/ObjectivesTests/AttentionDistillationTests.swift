import Foundation
import Objectives
import TestSupport
import XCTest

// References for definitions.md §8 and §10, in Double, over real (query, key) pairs only.

func attentionKLReference(_ s: [Double], teacher: [Float], lengths: [Int], heads: Int, seq: Int) -> Double {
    var total = 0.0
    for (b, n) in lengths.enumerated() { for h in 0..<heads { for i in 0..<n { for j in 0..<n {
        let index = (((b * heads + h) * seq) + i) * seq + j
        let t = Double(teacher[index])
        if t > 0 { total += t * (log(t) - log(max(s[index], Double(Float(1e-7))))) }
    } } } }
    return total / Double(heads * lengths.reduce(0, +))
}

/// Scores S_h[i][j] = Q_h[i]·K_h[j]/√d of one sequence from a fused (batch, seq, 3·width) [q|k|v] tensor.
func scores(_ qkv: [Double], b: Int, h: Int, i: Int, j: Int, seq: Int, width: Int, heads: Int, left: Int = 0, right: Int = 1) -> Double {
    let d = width / heads, stride = 3 * width
    var dot = 0.0
    for c in 0..<d {
        dot += qkv[(b * seq + i) * stride + left * width + h * d + c] * qkv[(b * seq + j) * stride + right * width + h * d + c]
    }
    return dot / Double(d).squareRoot()
}

func attentionScoreMSEReference(_ student: [Double], teacher: [Double], lengths: [Int], seq: Int, studentWidth: Int, teacherWidth: Int,
                                heads: Int) -> Double {
    var total = 0.0
    for (b, n) in lengths.enumerated() { for h in 0..<heads { for i in 0..<n { for j in 0..<n {
        let diff = scores(student, b: b, h: h, i: i, j: j, seq: seq, width: studentWidth, heads: heads)
            - scores(teacher, b: b, h: h, i: i, j: j, seq: seq, width: teacherWidth, heads: heads)
        total += diff * diff
    } } } }
    return total / Double(heads * lengths.map { $0 * $0 }.reduce(0, +))
}

/// Attention-like probabilities (batch, heads, seq, seq): softmax over the real keys of real query rows,
/// padded keys 0, padded query rows uniform over the real keys (as a masked softmax leaves them).
func attentionProbabilities(_ rng: inout SeededRandom, lengths: [Int], heads: Int, seq: Int, scale: Float) -> [Float] {
    var probs = [Float](repeating: 0, count: lengths.count * heads * seq * seq)
    for (b, n) in lengths.enumerated() { for h in 0..<heads { for i in 0..<seq {
        let row = softmax(rng.floats(n, scale: scale).map { i < n ? Double($0) : 0 })
        for j in 0..<n { probs[(((b * heads + h) * seq) + i) * seq + j] = Float(row[j]) }
    } } }
    return probs
}

final class AttentionDistillationTests: XCTestCase {
    var rng = SeededRandom(seed: 13)

    /// Includes a zero teacher probability (0 · log 0 = 0, no gradient) and two student probabilities below the 1e-7
    /// clamp (loss with log 1e-7, gradient exactly 0; left out of the central differences, which would straddle it).
    func testAttentionKL() {
        let lengths = [4, 3, 2], heads = 2, seq = 4
        var teacher = attentionProbabilities(&rng, lengths: lengths, heads: heads, seq: seq, scale: 2)
        var student = attentionProbabilities(&rng, lengths: lengths, heads: heads, seq: seq, scale: 2)
        func index(_ b: Int, _ h: Int, _ i: Int, _ j: Int) -> Int { (((b * heads + h) * seq) + i) * seq + j }
        teacher[index(0, 1, 2, 3)] = 0
        let clamped = [index(0, 0, 1, 2), index(1, 1, 2, 0)]
        for i in clamped { student[i] = 3e-9 }
        var padding: [Int] = []
        for (b, n) in lengths.enumerated() { for h in 0..<heads { for i in 0..<seq { for j in 0..<seq where i >= n || j >= n {
            padding.append(index(b, h, i, j))
        } } } }
        let mask = paddedMask(lengths: lengths, seq: seq)
        LossCheck(student: student,
                  reference: { attentionKLReference($0, teacher: teacher, lengths: lengths, heads: heads, seq: seq) },
                  loss: { g, w, s in
                      attentionKLLoss(gradient: g, weight: w, student: s, teacher: teacher, mask: mask, batch: lengths.count, seq: seq, heads: heads)
                  },
                  zeroGradient: padding + clamped + [index(0, 1, 2, 3)],
                  skipFiniteDifferences: Set(clamped)).run()
    }

    func testAttentionKLOfIdenticalProbabilitiesIsZero() {
        let lengths = [3, 2], heads = 3, seq = 3
        let probs = attentionProbabilities(&rng, lengths: lengths, heads: heads, seq: seq, scale: 3)
        let loss = attentionKLLoss(gradient: nil, weight: 1, student: probs, teacher: probs, mask: paddedMask(lengths: lengths, seq: seq),
                                   batch: 2, seq: seq, heads: heads)
        XCTAssertEqual(loss, 0)
    }

    /// Different widths (student 4, teacher 6 with 2 heads: d = 2 and 3), fused [q|k|v] layouts: the values and every
    /// padded token get no gradient.
    func testAttentionScoreMSE() {
        let lengths = [4, 2, 3], seq = 4, heads = 2, studentWidth = 4, teacherWidth = 6
        let student = rng.activations(lengths.count * seq * 3 * studentWidth, scale: 3)
        let teacher = rng.activations(lengths.count * seq * 3 * teacherWidth, scale: 3)
        let mask = paddedMask(lengths: lengths, seq: seq)
        LossCheck(student: student,
                  reference: {
                      attentionScoreMSEReference($0, teacher: teacher.map(Double.init), lengths: lengths, seq: seq,
                                                 studentWidth: studentWidth, teacherWidth: teacherWidth, heads: heads)
                  },
                  loss: { g, w, s in
                      attentionScoreMSELoss(gradient: g, weight: w, student: s, studentStride: 3 * studentWidth, studentWidth: studentWidth,
                                            teacher: teacher, teacherStride: 3 * teacherWidth, teacherWidth: teacherWidth,
                                            mask: mask, batch: lengths.count, seq: seq, heads: heads)
                  },
                  zeroGradient: fusedEntries(lengths: lengths, seq: seq, width: studentWidth, keep: [0, 1])).run()
    }
}

/// Entries of a fused (batch, seq, 3·width) [q|k|v] tensor that must get no gradient: every entry of padded tokens,
/// and in real tokens the parts (0 = q, 1 = k, 2 = v) not in `keep`.
func fusedEntries(lengths: [Int], seq: Int, width: Int, keep: Set<Int>) -> [Int] {
    var result: [Int] = []
    for (b, n) in lengths.enumerated() { for t in 0..<seq { for part in 0..<3 where t >= n || !keep.contains(part) {
        let base = (b * seq + t) * 3 * width + part * width
        result += base..<(base + width)
    } } }
    return result
}

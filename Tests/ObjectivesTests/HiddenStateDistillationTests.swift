import Foundation
import Objectives
import TestSupport
import XCTest

// References for definitions.md §6–7, in Double, over real tokens only.

func hiddenMSEReference(_ x: [Double], teacher: [Float], lengths: [Int], seq: Int, width: Int) -> Double {
    var total = 0.0
    for (b, n) in lengths.enumerated() { for t in 0..<n { for c in 0..<width {
        let i = (b * seq + t) * width + c
        total += (x[i] - Double(teacher[i])) * (x[i] - Double(teacher[i]))
    } } }
    return total / Double(lengths.reduce(0, +) * width)
}

func hiddenCosineReference(_ x: [Double], teacher: [Float], lengths: [Int], seq: Int, width: Int) -> Double {
    var total = 0.0
    for (b, n) in lengths.enumerated() { for t in 0..<n {
        let base = (b * seq + t) * width
        var dot = 0.0, xx = 0.0, hh = 0.0
        for c in 0..<width {
            let h = Double(teacher[base + c])
            dot += x[base + c] * h; xx += x[base + c] * x[base + c]; hh += h * h
        }
        total += 1 - dot / max((xx * hh).squareRoot(), 1e-8)
    } }
    return total / Double(lengths.reduce(0, +))
}

/// Indices of every entry of padded tokens in a (batch, seq, width) tensor.
func paddingEntries(lengths: [Int], seq: Int, width: Int) -> [Int] {
    lengths.enumerated().flatMap { b, n in ((b * seq + n) * width)..<((b + 1) * seq * width) }
}

final class HiddenStateDistillationTests: XCTestCase {
    var rng = SeededRandom(seed: 7)
    let lengths = [4, 2, 1], seq = 4, width = 5

    func testHiddenMSE() {
        let (seq, width, lengths) = (self.seq, self.width, self.lengths)
        let count = lengths.count * seq * width
        let teacher = rng.activations(count, scale: 2), mask = paddedMask(lengths: lengths, seq: seq)
        LossCheck(student: rng.activations(count, scale: 2),
                  reference: { hiddenMSEReference($0, teacher: teacher, lengths: lengths, seq: seq, width: width) },
                  loss: { g, w, x in
                      hiddenMSELoss(gradient: g, weight: w, student: x, teacher: teacher, mask: mask, batch: lengths.count, seq: seq, width: width)
                  },
                  zeroGradient: paddingEntries(lengths: lengths, seq: seq, width: width)).run()
    }

    func testHiddenCosine() {
        let (seq, width, lengths) = (self.seq, self.width, self.lengths)
        let count = lengths.count * seq * width
        let teacher = rng.activations(count, scale: 2), mask = paddedMask(lengths: lengths, seq: seq)
        LossCheck(student: rng.activations(count, scale: 2),
                  reference: { hiddenCosineReference($0, teacher: teacher, lengths: lengths, seq: seq, width: width) },
                  loss: { g, w, x in
                      hiddenCosineLoss(gradient: g, weight: w, student: x, teacher: teacher, mask: mask, batch: lengths.count, seq: seq, width: width)
                  },
                  zeroGradient: paddingEntries(lengths: lengths, seq: seq, width: width)).run()
    }

    /// ‖x‖·‖h‖ < 1e-8: the denominator is the constant 1e-8, so 1 − cos has gradient −h/(N·1e-8) exactly.
    func testHiddenCosineClampedDenominator() {
        let width = 3
        let student: [Float] = [1e-9, -2e-9, 1e-9, 1, 2, 3], teacher: [Float] = [0.5, 1, -1, 1, 2, 3]
        var gradient = [Float](repeating: 0, count: 6)
        let loss = hiddenCosineLoss(gradient: &gradient, weight: 1, student: student, teacher: teacher, mask: [1, 1],
                                    batch: 1, seq: 2, width: width)
        // token 0: cos = (0.5e-9 − 2e-9 − 1e-9)/1e-8 = −0.25; token 1: cos = 1
        XCTAssertEqual(loss, (1.25 + 0) / 2, accuracy: 1e-6)
        assertClose(Array(gradient[0..<3]), teacher[0..<3].map { -Double($0) / (2 * 1e-8) }, tolerance: 1e-7 * 1e8)
        assertClose(Array(gradient[3..<6]), [0, 0, 0], tolerance: 1e-6)
    }

    func testNoRealTokensGivesZero() {
        var gradient = [Float](repeating: 0, count: 4)
        XCTAssertEqual(hiddenMSELoss(gradient: &gradient, weight: 1, student: [1, 2, 3, 4], teacher: [0, 0, 0, 0], mask: [0, 0],
                                     batch: 1, seq: 2, width: 2), 0)
        XCTAssertEqual(gradient, [0, 0, 0, 0])
    }
}

import Foundation
import Kernels
import Objectives
import TestSupport
import XCTest

// Reference for definitions.md §9, in Double: relation heads of width d_r = width/A_r, softmax over real keys.

/// KL(R_t ‖ R_s) of one projection (part 0 = Q, 1 = K, 2 = V) of fused (batch, seq, 3·width) tensors.
func relationKLReference(_ student: [Double], teacher: [Double], part: Int, lengths: [Int], seq: Int,
                         studentWidth: Int, teacherWidth: Int, relationHeads: Int) -> Double {
    var total = 0.0
    for (b, n) in lengths.enumerated() { for h in 0..<relationHeads { for i in 0..<n {
        let s = (0..<n).map { j in scores(student, b: b, h: h, i: i, j: j, seq: seq, width: studentWidth, heads: relationHeads, left: part, right: part) }
        let t = (0..<n).map { j in scores(teacher, b: b, h: h, i: i, j: j, seq: seq, width: teacherWidth, heads: relationHeads, left: part, right: part) }
        let lse = logSumExp(s)
        total += klFromLog(softmax(t), s.map { $0 - lse })
    } } }
    return total / Double(relationHeads * lengths.reduce(0, +))
}

final class RelationDistillationTests: XCTestCase {
    var rng = SeededRandom(seed: 17)

    /// MiniLM v2: Q-Q + K-K + V-V with 2 relation heads, student width 4, teacher 6 (d_r = 2 and 3), a sequence with no
    /// real tokens; every part of real tokens gets a gradient, padded tokens none.
    func testMiniLMv2Relations() {
        let lengths = [4, 0, 2, 3], seq = 4, heads = 2, studentWidth = 4, teacherWidth = 6
        let student = rng.activations(lengths.count * seq * 3 * studentWidth, scale: 4)
        let teacher = rng.activations(lengths.count * seq * 3 * teacherWidth, scale: 4).map(Double.init)
        let teacherFloat = teacher.map { Float($0) }
        let mask = paddedMask(lengths: lengths, seq: seq)
        LossCheck(student: student,
                  reference: { x in
                      (0..<3).map { part in
                          relationKLReference(x, teacher: teacher, part: part, lengths: lengths, seq: seq,
                                              studentWidth: studentWidth, teacherWidth: teacherWidth, relationHeads: heads)
                      }.reduce(0, +)
                  },
                  loss: { g, w, s in
                      miniLMv2RelationLoss(gradient: g, weight: w, studentQKV: s, teacherQKV: teacherFloat, mask: mask,
                                           batch: lengths.count, seq: seq, studentHidden: studentWidth, teacherHidden: teacherWidth,
                                           relationHeads: heads)
                  },
                  zeroGradient: fusedEntries(lengths: lengths, seq: seq, width: studentWidth, keep: [0, 1, 2])).run()
    }

    /// MiniLM v1 value relation: V-V with A_r = attention heads (3 heads, widths 6 and 9); Q and K get no gradient.
    func testValueRelation() {
        let lengths = [3, 2], seq = 3, heads = 3, studentWidth = 6, teacherWidth = 9
        let student = rng.activations(lengths.count * seq * 3 * studentWidth, scale: 4)
        let teacher = rng.activations(lengths.count * seq * 3 * teacherWidth, scale: 4)
        let mask = paddedMask(lengths: lengths, seq: seq)
        LossCheck(student: student,
                  reference: { x in
                      relationKLReference(x, teacher: teacher.map(Double.init), part: 2, lengths: lengths, seq: seq,
                                          studentWidth: studentWidth, teacherWidth: teacherWidth, relationHeads: heads)
                  },
                  loss: { g, w, s in
                      valueRelationLoss(gradient: g, weight: w, studentQKV: s, teacherQKV: teacher, mask: mask,
                                        batch: lengths.count, seq: seq, studentHidden: studentWidth, teacherHidden: teacherWidth, heads: heads)
                  },
                  zeroGradient: fusedEntries(lengths: lengths, seq: seq, width: studentWidth, keep: [2])).run()
    }

    /// The generic form on a plain strided X (stride 5 > width 4, one relation head), not inside a fused buffer.
    func testRelationKLOnAStridedProjection() {
        let lengths = [3, 4], seq = 4, width = 4, stride = 5, heads = 1
        let student = rng.activations(lengths.count * seq * stride, scale: 3)
        let teacher = rng.activations(lengths.count * seq * stride, scale: 3)
        // The reference reads fused [q|k|v] tensors: copy X into the q part of one with width 4.
        func fused(_ x: [Double]) -> [Double] {
            var out = [Double](repeating: 0, count: lengths.count * seq * 3 * width)
            for token in 0..<(lengths.count * seq) { for c in 0..<width { out[token * 3 * width + c] = x[token * stride + c] } }
            return out
        }
        let mask = paddedMask(lengths: lengths, seq: seq)
        var unused: [Int] = []  // the fifth column of every token, and padded tokens
        for (b, n) in lengths.enumerated() { for t in 0..<seq {
            let base = (b * seq + t) * stride
            unused += t < n ? [base + 4] : Array(base..<(base + stride))
        } }
        LossCheck(student: student,
                  reference: { x in
                      relationKLReference(fused(x), teacher: fused(teacher.map(Double.init)), part: 0, lengths: lengths, seq: seq,
                                          studentWidth: width, teacherWidth: width, relationHeads: heads)
                  },
                  loss: { g, w, s in
                      relationKLLoss(gradient: g, weight: w, student: s, studentStride: stride, studentWidth: width,
                                     teacher: teacher, teacherStride: stride, teacherWidth: width,
                                     mask: mask, batch: lengths.count, seq: seq, relationHeads: heads)
                  },
                  zeroGradient: unused).run()
    }

    /// By hand, A_r = 1, X = Q of width 1, one sequence of 2 real tokens and one padded (whose values must not matter):
    /// student q = (1, 0): scores [[1, 0], [0, 0]], rows softmax([1, 0]) = (e, 1)/(e+1) and (½, ½);
    /// teacher q = (1, 1): scores all 1, rows (½, ½). KL row 0 = log(1+e) − ½ − log 2, row 1 = 0; loss = ½ KL row 0.
    /// With a = e/(e+1) − ½: G = ½ [[a, −a], [0, 0]], dq = (G + Gᵀ) q = (a, −a/2); k and v untouched.
    func testRelationByHand() {
        let student: [Float] = [1, 9, 9, 0, 9, 9, 7, 7, 7]  // (1, 3, 3): [q|k|v] per token, the third token padded
        let teacher: [Float] = [1, -5, -5, 1, -5, -5, 3, 3, 3]
        var gradient = [Float](repeating: 0, count: 9)
        let loss = relationKLLoss(gradient: &gradient, weight: 1, student: student, studentStride: 3, studentWidth: 1,
                                  teacher: teacher, teacherStride: 3, teacherWidth: 1, mask: [1, 1, 0], batch: 1, seq: 3, relationHeads: 1)
        let e = exp(1.0), a = e / (e + 1) - 0.5
        XCTAssertEqual(loss, 0.5 * (log(1 + e) - 0.5 - log(2)), accuracy: 1e-7)
        assertClose(gradient, [a, 0, 0, -a / 2, 0, 0, 0, 0, 0], tolerance: 1e-7)
    }

    func testIdenticalRelationsGiveZero() {
        let lengths = [3, 2], seq = 3, width = 8
        let qkv = rng.activations(lengths.count * seq * 3 * width, scale: 3)
        var gradient = [Float](repeating: 0, count: qkv.count)
        let loss = miniLMv2RelationLoss(gradient: &gradient, weight: 1, studentQKV: qkv, teacherQKV: qkv,
                                        mask: paddedMask(lengths: lengths, seq: seq), batch: 2, seq: seq,
                                        studentHidden: width, teacherHidden: width, relationHeads: 4)
        XCTAssertEqual(loss, 0)
        XCTAssertEqual(gradient.map(abs).max(), 0)
    }

    /// Two workers give bit-identical losses and gradients (partials summed in (b, h) order, disjoint gradient slices).
    func testTwoThreadsMatchOne() {
        let lengths = [16, 9, 12, 3, 16], seq = 16, heads = 4, studentWidth = 16, teacherWidth = 24
        let student = rng.activations(lengths.count * seq * 3 * studentWidth, scale: 3)
        let teacher = rng.activations(lengths.count * seq * 3 * teacherWidth, scale: 3)
        let mask = paddedMask(lengths: lengths, seq: seq)
        func run() -> (Double, [Float]) {
            var gradient = [Float](repeating: 0, count: student.count)
            var loss = miniLMv2RelationLoss(gradient: &gradient, weight: 1, studentQKV: student, teacherQKV: teacher, mask: mask,
                                            batch: lengths.count, seq: seq, studentHidden: studentWidth, teacherHidden: teacherWidth,
                                            relationHeads: heads)
            loss += attentionScoreMSELoss(gradient: &gradient, weight: 1, student: student, studentStride: 3 * studentWidth,
                                    studentWidth: studentWidth, teacher: teacher, teacherStride: 3 * teacherWidth,
                                    teacherWidth: teacherWidth, mask: mask, batch: lengths.count, seq: seq, heads: heads)
            return (loss, gradient)
        }
        let one = run()
        Threads.configure(2)
        defer { Threads.configure(1) }
        let two = run()
        XCTAssertEqual(one.0, two.0)
        XCTAssertEqual(one.1, two.1)
    }
}

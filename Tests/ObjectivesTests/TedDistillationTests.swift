import Foundation
import Kernels
import Objectives
import TestSupport
import XCTest

// References for docs/objectives.md §11 (TED), in Double: the filters, the stage-one head, and both losses.

/// y (rows, F) of a filter whose parameters are `p` in TedFilter's layout, on x (rows, C).
func tedFilterReference(_ p: [Double], kind: TedFilterKind, _ x: [Double], rows: Int, inputWidth c: Int, width f: Int) -> [Double] {
    func linear(_ inp: [Double], weight: Int, bias: Int, inFeatures: Int) -> [Double] {
        var out = [Double](repeating: 0, count: rows * f)
        for r in 0..<rows { for j in 0..<f {
            var s = p[bias + j]
            for k in 0..<inFeatures { s += inp[r * inFeatures + k] * p[weight + j * inFeatures + k] }
            out[r * f + j] = s
        } }
        return out
    }
    let a = linear(x, weight: 0, bias: f * c, inFeatures: c)
    guard kind == .mlp else { return a }
    let g = a.map { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) }
    return linear(g, weight: f * c + f, bias: f * c + f + f * f, inFeatures: f)
}

/// Logits (rows, K) of the stage-one head with parameters `p` in TedTaskHead's layout.
func tedHeadReference(_ p: [Double], _ cls: [Double], rows: Int, width f: Int, classes k: Int) -> [Double] {
    var logits = [Double](repeating: 0, count: rows * k)
    for r in 0..<rows {
        let pooled = (0..<f).map { j in
            tanh((0..<f).reduce(p[f * f + j]) { $0 + cls[r * f + $1] * p[j * f + $1] })
        }
        for y in 0..<k {
            let w = f * f + f
            logits[r * k + y] = (0..<f).reduce(p[w + k * f + y]) { $0 + pooled[$1] * p[w + y * f + $1] }
        }
    }
    return logits
}

/// Mean over labelled rows of −log softmax(z)[y].
func crossEntropyReference(_ logits: [Double], labels: [Int32], classes k: Int) -> Double {
    var total = 0.0, counted = 0
    for (r, y) in labels.enumerated() where y != -100 {
        let z = Array(logits[(r * k)..<((r + 1) * k)])
        total += logSumExp(z) - z[Int(y)]
        counted += 1
    }
    return total / Double(counted)
}

final class TedDistillationTests: XCTestCase {
    var rng = SeededRandom(seed: 11)

    private func filter(_ kind: TedFilterKind, inputWidth: Int, width: Int, rows: Int, trainable: Bool = true) -> TedFilter {
        let filter = TedFilter(kind: kind, inputWidth: inputWidth, width: width, maxRows: rows, trainable: trainable)
        let values = rng.activations(filter.parameters.count, scale: 1.5)
        for i in values.indices { filter.parameters[i] = values[i] }
        return filter
    }

    /// Forward against the Double reference on the same Float inputs: only Float sgemm and fastErf differ
    /// (≤ 4e-7 relative), so 1e-5 of the largest output.
    func testFilterForwardMatchesReference() {
        let (rows, c, f) = (5, 6, 4)
        for kind in TedFilterKind.allCases {
            let filter = filter(kind, inputWidth: c, width: f, rows: rows)
            let x = rng.activations(rows * c, scale: 2)
            filter.forward(x, rows: rows)
            let expected = tedFilterReference(filter.parameters.toArray().map(Double.init), kind: kind, x.map(Double.init), rows: rows, inputWidth: c, width: f)
            let largest = expected.map(abs).max()!
            assertClose(Array(filter.output.toArray()[0..<(rows * f)]), expected, tolerance: 1e-5 * largest, "\(kind)")
            XCTAssertEqual(filter.parameters.count, kind == .linear ? f * c + f : f * c + f + f * f + f)
        }
    }

    /// Backward through the filter alone, with loss = Σ y ⊙ r for a fixed random r: the input gradient and
    /// every parameter's against central differences (LossCheck's tolerances: 1e-4 of the largest entry; the
    /// Float sgemm accumulations and fastErf/fastExp in GELU' are good to ~1e-6 relative).
    func testFilterBackwardAgainstFiniteDifferences() {
        let (rows, c, f) = (4, 5, 3)
        for kind in TedFilterKind.allCases {
            let filter = filter(kind, inputWidth: c, width: f, rows: rows)
            let r = rng.activations(rows * f, scale: 2), x = rng.activations(rows * c, scale: 2)
            let p = filter.parameters.toArray()
            func reference(_ params: [Double], _ input: [Double]) -> Double {
                zip(tedFilterReference(params, kind: kind, input, rows: rows, inputWidth: c, width: f), r).reduce(0) { $0 + $1.0 * Double($1.1) }
            }
            func run(_ input: UnsafePointer<Float>, _ gradient: UnsafeMutablePointer<Float>?, _ w: Float) -> Double {
                filter.forward(input, rows: rows)
                let y = filter.output.toArray()
                filter.backward(gradient, r.map { $0 * w }, input, rows: rows)
                return (0..<(rows * f)).reduce(0.0) { $0 + Double(y[$1]) * Double(r[$1]) }
            }
            // Input gradient.
            LossCheck(student: x, reference: { reference(p.map(Double.init), $0) }, loss: { g, w, input in run(input, g, w) }).run()
            // Parameter gradients: the "student" is the parameter vector.
            LossCheck(student: p, reference: { reference($0, x.map(Double.init)) }, loss: { g, w, params in
                filter.parameters.pointer.update(from: params, count: p.count)
                filter.gradients.zero()
                let loss = x.withUnsafeBufferPointer { run($0.baseAddress!, nil, w) }
                if let g { for i in 0..<p.count { g[i] += filter.gradients[i] } }
                return loss
            }).run()
        }
    }

    /// Stage one: CE of head(filter(x)) on the [CLS] rows, one row unlabelled (−100: no gradient to its input).
    /// Checked against central differences of the Double reference with respect to the input and to the filter's
    /// and head's parameters together (tolerances as LossCheck's; softmax − onehot differences lose a few bits).
    func testTaskLossAgainstFiniteDifferences() {
        let (rows, c, f, k) = (4, 5, 3, 3)
        let labels: [Int32] = [2, 0, -100, 1]
        for kind in TedFilterKind.allCases {
            let filter = filter(kind, inputWidth: c, width: f, rows: rows)
            let head = TedTaskHead(width: f, classes: k, maxRows: rows)
            let hp = rng.activations(head.parameters.count, scale: 1.5)
            for i in hp.indices { head.parameters[i] = hp[i] }
            let fp = filter.parameters.toArray(), x = rng.activations(rows * c, scale: 2)
            let fc = fp.count
            func reference(_ params: [Double], _ input: [Double]) -> Double {
                let y = tedFilterReference(Array(params[0..<fc]), kind: kind, input, rows: rows, inputWidth: c, width: f)
                return crossEntropyReference(tedHeadReference(Array(params[fc...]), y, rows: rows, width: f, classes: k), labels: labels, classes: k)
            }
            let all = (fp + hp).map(Double.init)
            LossCheck(student: x, reference: { reference(all, $0) }, loss: { g, w, input in
                tedTaskLoss(gradient: g, weight: w, learn: false, filter: filter, head: head, input: input, labels: labels, rows: rows)
            }, zeroGradient: Array((2 * c)..<(3 * c))).run()
            LossCheck(student: fp + hp, reference: { reference($0, x.map(Double.init)) }, loss: { g, w, params in
                filter.parameters.pointer.update(from: params, count: fc)
                head.parameters.pointer.update(from: params + fc, count: hp.count)
                filter.gradients.zero(); head.gradients.zero()
                let loss = tedTaskLoss(gradient: nil, weight: w, learn: g != nil, filter: filter, head: head, input: x, labels: labels, rows: rows)
                if let g {
                    for i in 0..<fc { g[i] += filter.gradients[i] }
                    for i in 0..<hp.count { g[fc + i] += head.gradients[i] }
                }
                return loss
            }).run()
        }
    }

    /// Stage two: MSE between the student's and the frozen teacher's filtered states over real tokens, student
    /// width 4 and teacher width 6 filtered to 3; gradients with respect to the student's hidden state (padding
    /// exactly 0) and the student filter's parameters, against central differences (LossCheck's tolerances).
    func testTedMSELossAgainstFiniteDifferences() {
        let lengths = [4, 2, 1], seq = 4, (cs, ct, f) = (4, 6, 3)
        let rows = lengths.count * seq
        let mask = paddedMask(lengths: lengths, seq: seq)
        for kind in TedFilterKind.allCases {
            let studentFilter = filter(kind, inputWidth: cs, width: f, rows: rows)
            let teacherFilter = filter(kind, inputWidth: ct, width: f, rows: rows, trainable: false)
            let hs = rng.activations(rows * cs, scale: 2), ht = rng.activations(rows * ct, scale: 2)
            let sp = studentFilter.parameters.toArray()
            let targets = tedFilterReference(teacherFilter.parameters.toArray().map(Double.init), kind: kind, ht.map(Double.init),
                                             rows: rows, inputWidth: ct, width: f).map(Float.init)
            func reference(_ params: [Double], _ input: [Double]) -> Double {
                hiddenMSEReference(tedFilterReference(params, kind: kind, input, rows: rows, inputWidth: cs, width: f),
                                   teacher: targets, lengths: lengths, seq: seq, width: f)
            }
            // The teacher side is computed in Float by the loss and in Double (rounded to Float) here: agreement to
            // ~1e-6 relative, well inside the value tolerance.
            LossCheck(student: hs, reference: { reference(sp.map(Double.init), $0) }, loss: { g, w, input in
                tedMSELoss(gradient: g, weight: w, learn: false, studentFilter: studentFilter, teacherFilter: teacherFilter,
                           student: input, teacher: ht, mask: mask, batch: lengths.count, seq: seq)
            }, zeroGradient: paddingEntries(lengths: lengths, seq: seq, width: cs)).run()
            LossCheck(student: sp, reference: { reference($0, hs.map(Double.init)) }, loss: { g, w, params in
                studentFilter.parameters.pointer.update(from: params, count: sp.count)
                studentFilter.gradients.zero()
                let loss = tedMSELoss(gradient: nil, weight: w, learn: g != nil, studentFilter: studentFilter, teacherFilter: teacherFilter,
                                      student: hs, teacher: ht, mask: mask, batch: lengths.count, seq: seq)
                if let g { for i in 0..<sp.count { g[i] += studentFilter.gradients[i] } }
                return loss
            }).run()
        }
    }

    /// Without `learn` and without an input gradient nothing is written (evaluation).
    func testEvaluationLeavesGradientsAlone() {
        let s = filter(.mlp, inputWidth: 4, width: 3, rows: 2), t = filter(.mlp, inputWidth: 4, width: 3, rows: 2, trainable: false)
        let loss = tedMSELoss(gradient: nil, weight: 1, learn: false, studentFilter: s, teacherFilter: t,
                              student: rng.activations(8), teacher: rng.activations(8), mask: [1, 1], batch: 1, seq: 2)
        XCTAssertGreaterThan(loss, 0)
        XCTAssertEqual(s.gradients.toArray(), [Float](repeating: 0, count: s.gradients.count))
    }
}

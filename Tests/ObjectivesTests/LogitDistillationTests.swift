import Foundation
import Kernels
import Objectives
import TestSupport
import XCTest

// References for definitions.md §1–3, in Double, straight from the formulas.

func crossEntropyReference(_ z: [Double], labels: [Int32], ignoreIndex: Int32?, classes: Int) -> Double {
    var total = 0.0, counted = 0
    for (r, y) in labels.enumerated() where y != ignoreIndex {
        let row = Array(z[(r * classes)..<((r + 1) * classes)])
        total += -(row[Int(y)] - logSumExp(row))
        counted += 1
    }
    return total / Double(counted)
}

func vanillaKDReference(_ zs: [Double], teacher zt: [Double], temperature tau: Double, scaled: Bool, classes: Int) -> Double {
    let rows = zs.count / classes
    var total = 0.0
    for r in 0..<rows {
        let s = zs[(r * classes)..<((r + 1) * classes)].map { $0 / tau }
        let t = softmax(zt[(r * classes)..<((r + 1) * classes)].map { $0 / tau })
        let lse = logSumExp(s)
        total += klFromLog(t, s.map { $0 - lse })
    }
    return (scaled ? tau * tau : 1) * total / Double(rows)
}

final class LogitDistillationTests: XCTestCase {
    var rng = SeededRandom(seed: 3)

    func testCrossEntropyWithIgnoredRows() {
        let rows = 5, classes = 4
        let labels: [Int32] = [2, 0, -100, 3, 1]
        let logits = rng.floats(rows * classes, scale: 3)
        LossCheck(student: logits,
                  reference: { crossEntropyReference($0, labels: labels, ignoreIndex: -100, classes: classes) },
                  loss: { g, w, z in crossEntropyLoss(gradient: g, weight: w, logits: z, labels: labels, rows: rows, classes: classes) },
                  zeroGradient: Array(8..<12)).run()
    }

    func testCrossEntropyWithoutIgnoreIndexOverAWideRow() {
        let rows = 3, classes = 257
        let labels: [Int32] = [0, 256, 100]
        let logits = rng.floats(rows * classes, scale: 4)
        LossCheck(student: logits,
                  reference: { crossEntropyReference($0, labels: labels, ignoreIndex: nil, classes: classes) },
                  loss: { g, w, z in
                      crossEntropyLoss(gradient: g, weight: w, logits: z, labels: labels, ignoreIndex: nil, rows: rows, classes: classes)
                  }).run()
    }

    func testCrossEntropyAllRowsIgnoredIsZero() {
        let logits = rng.floats(6)
        var gradient = [Float](repeating: 0, count: 6)
        XCTAssertEqual(crossEntropyLoss(gradient: &gradient, weight: 1, logits: logits, labels: [-100, -100], rows: 2, classes: 3), 0)
        XCTAssertEqual(gradient, [Float](repeating: 0, count: 6))
    }

    func testRegressionMSE() {
        let rows = 6
        let target = rng.floats(rows, scale: 2)
        LossCheck(student: rng.floats(rows, scale: 2),
                  reference: { x in zip(x, target).map { ($0 - Double($1)) * ($0 - Double($1)) }.reduce(0, +) / Double(rows) },
                  loss: { g, w, z in regressionMSELoss(gradient: g, weight: w, student: z, target: target, rows: rows) }).run()
    }

    func testVanillaKDWithTemperatureSquared() {
        let rows = 3, classes = 5
        let teacher = rng.floats(rows * classes, scale: 4)
        LossCheck(student: rng.floats(rows * classes, scale: 4),
                  reference: { vanillaKDReference($0, teacher: teacher.map(Double.init), temperature: 2, scaled: true, classes: classes) },
                  loss: { g, w, z in
                      vanillaKDLoss(gradient: g, weight: w, student: z, teacher: teacher, temperature: 2, rows: rows, classes: classes)
                  }).run()
    }

    func testVanillaKDUnscaledAtFractionalTemperature() {
        let rows = 4, classes = 3
        let teacher = rng.floats(rows * classes, scale: 3)
        LossCheck(student: rng.floats(rows * classes, scale: 3),
                  reference: { vanillaKDReference($0, teacher: teacher.map(Double.init), temperature: 0.7, scaled: false, classes: classes) },
                  loss: { g, w, z in
                      vanillaKDLoss(gradient: g, weight: w, student: z, teacher: teacher, temperature: 0.7, scaleByTemperatureSquared: false,
                                    rows: rows, classes: classes)
                  }).run()
    }

    /// Masked-LM shaped rows: wide, logits spread like a trained head's (a few large, most small).
    func testVanillaKDOnWideRows() {
        let rows = 2, vocab = 301
        let teacher = rng.activations(rows * vocab, scale: 12), student = rng.activations(rows * vocab, scale: 12)
        LossCheck(student: student,
                  reference: { vanillaKDReference($0, teacher: teacher.map(Double.init), temperature: 1, scaled: true, classes: vocab) },
                  loss: { g, w, z in
                      vanillaKDLoss(gradient: g, weight: w, student: z, teacher: teacher, temperature: 1, rows: rows, classes: vocab)
                  }).run()
    }

    func testKDOfIdenticalLogitsIsExactlyZero() {
        let rows = 4, classes = 1000
        let logits = rng.activations(rows * classes, scale: 10)
        var gradient = [Float](repeating: 0, count: logits.count)
        for tau: Float in [1, 2, 0.5] {
            XCTAssertEqual(vanillaKDLoss(gradient: &gradient, weight: 1, student: logits, teacher: logits, temperature: tau,
                                         rows: rows, classes: classes), 0)
        }
        XCTAssertEqual(gradient.map(abs).max(), 0)
    }

    /// Two workers give bit-identical losses and gradients: partial losses are summed in row order.
    func testTwoThreadsMatchOne() {
        let rows = 16, classes = 2000
        let teacher = rng.activations(rows * classes, scale: 8), student = rng.activations(rows * classes, scale: 8)
        func run() -> (Double, [Float]) {
            var gradient = [Float](repeating: 0, count: student.count)
            let loss = vanillaKDLoss(gradient: &gradient, weight: 1, student: student, teacher: teacher, temperature: 2,
                                     rows: rows, classes: classes)
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

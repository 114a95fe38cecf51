import Bert
import Kernels
import TestSupport
import XCTest
@testable import Training

/// The optimiser's vectorised loops against the plain element-by-element loops they replaced, bit
/// for bit: a trained student must not change when its arithmetic is merely spread over lanes.
/// (AdamW against PyTorch is `GoldenStepTests`; these pin the exact bits.)
final class OptimizerKernelTests: XCTestCase {
    /// Lengths around the 16 lanes, and ones long enough to be split over threads mid-lane.
    static let lengths = [1, 7, 15, 16, 17, 33, 1_000, 70_001, 131_075]

    func testAdamWEqualsTheScalarLoopBitForBit() {
        for threads in [1, 2, 3] {
            Threads.configure(threads)
            defer { Threads.configure(1) }
            var rng = SeededGenerator(seed: 7)
            let model = Self.lengths.map { n in (0..<n).map { _ in rng.nextNormal() } }
            let settings = AdamW.Settings(weightDecay: 0.01)
            var reference = model.map { ScalarAdamW(values: $0) }
            let buffers = model.map { values -> (FloatBuffer, FloatBuffer) in
                let v = FloatBuffer(count: values.count), g = FloatBuffer(count: values.count)
                v.pointer.update(from: values, count: values.count)
                return (v, g)
            }
            let segments = buffers.enumerated().map { i, b in
                ParameterSegment(name: "s\(i)", values: b.0.pointer, gradients: b.1.pointer, count: b.0.count, decays: i % 2 == 0)
            }
            let optimizer = AdamW(segments: segments, settings: settings)
            for step in 1...4 {
                let scale: Float = step == 3 ? 0.37 : 1
                for (i, s) in segments.enumerated() {
                    // Some exact zeros, as an embedding's untouched rows give.
                    let g = (0..<s.count).map { j in j % 5 == 0 ? 0 : rng.nextNormal() * 1e-2 }
                    s.gradients.update(from: g, count: s.count)
                    reference[i].update(gradients: g, step: step, learningRate: 1e-3, scale: scale,
                                        decays: s.decays, settings: settings)
                }
                optimizer.update(learningRate: 1e-3, gradientScale: scale)
                for (i, s) in segments.enumerated() {
                    let values = Array(UnsafeBufferPointer(start: s.values, count: s.count))
                    XCTAssertEqual(values.map(\.bitPattern), reference[i].values.map(\.bitPattern),
                                   "segment of \(s.count), step \(step), \(threads) threads")
                    XCTAssertTrue(UnsafeBufferPointer(start: s.gradients, count: s.count).allSatisfy { $0 == 0 },
                                  "gradients left at zero")
                }
            }
            let (first, second) = optimizer.moments
            XCTAssertEqual(first.toArray().map(\.bitPattern), reference.flatMap(\.m).map(\.bitPattern))
            XCTAssertEqual(second.toArray().map(\.bitPattern), reference.flatMap(\.v).map(\.bitPattern))
            withExtendedLifetime(buffers) {}  // the segments only point into them
        }
    }

    func testGradientNormEqualsOneBlockAtATime() {
        let block = 1 << 16
        // 19 whole blocks and a short one: groups of eight, whole blocks left over, the short tail.
        for count in [5, block, 19 * block + 123, 8 * block] {
            var rng = SeededGenerator(seed: UInt64(count))
            let g = FloatBuffer(count: count)
            for i in 0..<count { g.pointer[i] = rng.nextNormal() * (i % 3 == 0 ? 1e-3 : 1) }
            let small = FloatBuffer(count: 37)
            for i in 0..<37 { small.pointer[i] = Float(i) * 0.25 }
            let segments = [g, small].enumerated().map { i, b in
                ParameterSegment(name: "s\(i)", values: b.pointer, gradients: b.pointer, count: b.count, decays: false)
            }
            var expected = 0.0
            for s in segments {
                var blockSums: [Double] = []
                for start in stride(from: 0, to: s.count, by: block) {
                    var partial: Float = 0
                    for i in start..<min(s.count, start + block) { partial += s.gradients[i] * s.gradients[i] }
                    blockSums.append(Double(partial))
                }
                expected += blockSums.reduce(0, +)
            }
            for threads in [1, 2, 3] {
                Threads.configure(threads)
                XCTAssertEqual(gradientNorm(segments).bitPattern, expected.squareRoot().bitPattern,
                               "\(count) values, \(threads) threads")
            }
            Threads.configure(1)
            withExtendedLifetime((g, small)) {}
        }
    }
}

extension OptimizerKernelTests {
    func testGradientRowsRunsAndLifecycle() {
        let rows = GradientRows(width: 10, count: 8)
        XCTAssertNil(rows.rows, "nothing known before the first clear")
        XCTAssertEqual(rows.touchedRuns(in: 3..<47), [3..<47])
        rows.clear()
        XCTAssertEqual(rows.rows, [])
        XCTAssertEqual(rows.touchedRuns(in: 0..<80), [])
        let ids: [Int32] = [5, 1, 2, 5, 7]
        ids.withUnsafeBufferPointer { rows.add($0.baseAddress!, count: $0.count) }
        XCTAssertEqual(rows.rows, [1, 2, 5, 7])
        // Adjacent rows 1 and 2 form one run; ranges cut through rows.
        XCTAssertEqual(rows.touchedRuns(in: 0..<80), [10..<30, 50..<60, 70..<80])
        XCTAssertEqual(rows.touchedRuns(in: 15..<55), [15..<30, 50..<55])
        XCTAssertEqual(rows.touchedRuns(in: 30..<50), [])
        XCTAssertEqual(rows.touchedRuns(in: 20..<21), [20..<21])
        let more: [Int32] = [0, 7]
        more.withUnsafeBufferPointer { rows.add($0.baseAddress!, count: $0.count) }
        XCTAssertEqual(rows.rows, [0, 1, 2, 5, 7], "a union until cleared")
        rows.addAll()
        XCTAssertNil(rows.rows)
        more.withUnsafeBufferPointer { rows.add($0.baseAddress!, count: $0.count) }
        XCTAssertNil(rows.rows, "still any row")
        rows.clear()
        XCTAssertEqual(rows.rows, [])
    }

    /// AdamW and the norm over a tracked table skip the untouched rows and give the bits of the
    /// full loops: rows 384 wide over several 64 Ki blocks (rows cut by block edges), odd widths.
    func testTrackedRowsGiveTheSameUpdateAndNorm() {
        for (width, count) in [(384, 400), (24, 50)] {
            let touched: [Int32] = [0, 3, 4, 170, 171, 341, Int32(count - 1)].filter { $0 < count }
            for threads in [1, 2, 3] {
                Threads.configure(threads)
                defer { Threads.configure(1) }
                var rng = SeededGenerator(seed: UInt64(width))
                let initial = (0..<(width * count)).map { _ in rng.nextNormal() }
                let tracked = GradientRows(width: width, count: count)
                var results: [(values: [Float], norm: Double)] = []
                for track in [false, true] {
                    let values = FloatBuffer(count: initial.count), gradients = FloatBuffer(count: initial.count)
                    values.pointer.update(from: initial, count: initial.count)
                    let segment = ParameterSegment(name: "table", values: values.pointer, gradients: gradients.pointer, count: initial.count,
                                                   decays: true, nonzeroRows: track ? tracked : nil)
                    let optimizer = AdamW(segments: [segment])
                    var gradientRNG = SeededGenerator(seed: 11)
                    var norms: [Double] = []
                    for _ in 0..<3 {
                        for r in touched { for j in 0..<width { gradients.pointer[Int(r) * width + j] = gradientRNG.nextNormal() } }
                        if track { touched.withUnsafeBufferPointer { tracked.add($0.baseAddress!, count: $0.count) } }
                        let (norm, scale) = gradientClipping([segment], maxNorm: 1)
                        norms.append(norm)
                        optimizer.update(learningRate: 1e-3, gradientScale: scale)
                        XCTAssertTrue(gradients.toArray().allSatisfy { $0 == 0 })
                    }
                    if track { XCTAssertEqual(tracked.rows, [], "cleared by the update") }
                    results.append((values.toArray(), norms.reduce(0, +)))
                    withExtendedLifetime((values, gradients)) {}
                }
                XCTAssertEqual(results[0].values.map(\.bitPattern), results[1].values.map(\.bitPattern), "\(width)×\(count), \(threads) threads")
                XCTAssertEqual(results[0].norm.bitPattern, results[1].norm.bitPattern, "\(width)×\(count) norms")
            }
        }
    }

    /// The training graph reports the batch's token ids (every row with the tied MLM decoder), and a
    /// student trained with the rows tracked equals one trained without, bit for bit.
    func testTrainingWithTrackedWordRowsGivesTheSameStudent() {
        let model = TestModel()
        for maskedLM in [false, true] {
            func train(tracked: Bool) -> (values: [Float], rows: [[Int]?]) {
                let parameters = BertParameters(layout: model.layout), gradients = BertParameters(layout: model.layout)
                parameters.storage.pointer.update(from: model.parameters.storage.pointer, count: model.parameters.storage.count)
                let graph = BertTrainingGraph(layout: model.layout, maxBatch: 2, maxSeq: 6, dropout: 0.1)
                let segments = ParameterSegment.segments(of: parameters, gradients: gradients,
                                                         wordEmbeddingRows: tracked ? graph.wordEmbeddingRows : nil)
                let optimizer = AdamW(segments: segments)
                var seen: [[Int]?] = []
                for step in 0..<3 {
                    // No MLM rows: the tied decoder does not run (nil would mean every row).
                    graph.forward(parameters, model.input, mlmRows: maskedLM ? model.mlmRows : [], training: true, seed: UInt64(step))
                    var rng = SeededRandom(seed: UInt64(step))
                    if maskedLM {
                        LossSeeds(model: model, rng: &rng).add(to: graph)
                    } else {
                        let seed = rng.floats(model.input.batch * model.input.seq * model.layout.config.hiddenSize)
                        for i in seed.indices { graph.hiddenStateGradient(layer: 2)[i] += seed[i] }
                    }
                    graph.backward(parameters, gradients)
                    seen.append(graph.wordEmbeddingRows.rows)
                    let (_, scale) = gradientClipping(segments, maxNorm: 0.5)
                    optimizer.update(learningRate: 1e-2, gradientScale: scale)
                }
                return (parameters.storage.toArray(), seen)
            }
            let plain = train(tracked: false), tracked = train(tracked: true)
            XCTAssertEqual(plain.values.map(\.bitPattern), tracked.values.map(\.bitPattern), "maskedLM \(maskedLM)")
            let batchIds = Array(Set(model.input.inputIds.map(Int.init))).sorted()
            XCTAssertEqual(tracked.rows, maskedLM ? [nil, nil, nil] : [nil, batchIds, batchIds])
        }
    }
}

/// AdamW as it was written before it was vectorised: one element at a time.
private struct ScalarAdamW {
    var values: [Float], m: [Float], v: [Float]
    init(values: [Float]) {
        self.values = values
        m = [Float](repeating: 0, count: values.count)
        v = m
    }

    mutating func update(gradients: [Float], step: Int, learningRate: Float, scale: Float, decays: Bool, settings: AdamW.Settings) {
        let b1 = settings.beta1, b2 = settings.beta2, eps = settings.epsilon
        let correction1 = 1 - Float(pow(Double(b1), Double(step)))
        let correction2 = 1 - Float(pow(Double(b2), Double(step)))
        let stepSize = learningRate / correction1, rootCorrection2 = correction2.squareRoot()
        let keep: Float = decays ? 1 - learningRate * settings.weightDecay : 1
        for i in values.indices {
            let gi = gradients[i] * scale
            m[i] = b1 * m[i] + (1 - b1) * gi
            v[i] = b2 * v[i] + (1 - b2) * gi * gi
            let denominator = v[i].squareRoot() / rootCorrection2 + eps
            values[i] = values[i] * keep - stepSize * m[i] / denominator
        }
    }
}

import Kernels
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

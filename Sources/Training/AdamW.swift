import Foundation
import Kernels

/// AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization"), as `torch.optim.AdamW`:
///   θ ← θ − lr·λ·θ                       (decay, only where the segment decays)
///   m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²
///   θ ← θ − lr · (m / (1−β₁ᵗ)) / (√(v / (1−β₂ᵗ)) + ε)
/// The moments live in two buffers laid out like the concatenated segments, so a step is one
/// flat loop per segment.
public final class AdamW {
    public struct Settings: Codable, Equatable, Sendable {
        public var beta1: Float = 0.9
        public var beta2: Float = 0.999
        public var epsilon: Float = 1e-8
        public var weightDecay: Float = 0.01
        public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0.01) {
            self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon; self.weightDecay = weightDecay
        }
    }

    public let segments: [ParameterSegment]
    public let settings: Settings
    public private(set) var step = 0
    private let firstMoment: FloatBuffer, secondMoment: FloatBuffer
    private let offsets: [Int]

    public init(segments: [ParameterSegment], settings: Settings = Settings()) {
        self.segments = segments
        self.settings = settings
        var offsets: [Int] = [], total = 0
        for s in segments { offsets.append(total); total += s.count }
        self.offsets = offsets
        firstMoment = FloatBuffer(count: total)
        secondMoment = FloatBuffer(count: total)
    }

    /// The optimiser's state for a checkpoint: the step count and both moments (segment layout).
    public var moments: (first: FloatBuffer, second: FloatBuffer) { (firstMoment, secondMoment) }

    /// Continues from a checkpoint: `first` and `second` hold the moments in segment layout.
    public func restore(step: Int, first: [Float], second: [Float]) throws {
        guard first.count == firstMoment.count, second.count == secondMoment.count, step >= 0 else {
            throw AdamWStateError(expected: firstMoment.count, first: first.count, second: second.count)
        }
        self.step = step
        firstMoment.pointer.update(from: first, count: first.count)
        secondMoment.pointer.update(from: second, count: second.count)
    }

    /// One update with learning rate `learningRate`, from the gradients currently in the segments
    /// times `gradientScale` (gradient clipping's factor). Consumes the gradients: every one is left
    /// at zero for the next step to accumulate into (zeroing them here, while each is read anyway,
    /// saves a pass over all of them).
    public func update(learningRate: Float, gradientScale: Float = 1) {
        step += 1
        let b1 = settings.beta1, b2 = settings.beta2, eps = settings.epsilon
        let correction1 = 1 - Float(pow(Double(b1), Double(step)))
        let correction2 = 1 - Float(pow(Double(b2), Double(step)))
        let stepSize = learningRate / correction1
        let rootCorrection2 = correction2.squareRoot()
        for (index, s) in segments.enumerated() {
            let step = AdamWElementStep(b1: b1, b2: b2, eps: eps, rootCorrection2: rootCorrection2, stepSize: stepSize,
                                        keep: s.decays ? 1 - learningRate * settings.weightDecay : 1,
                                        gradientScale: gradientScale)
            let state = AdamWPointers(theta: s.values, g: s.gradients,
                                      m: firstMoment.pointer + offsets[index], v: secondMoment.pointer + offsets[index])
            // Where the segment tracks its nonzero rows, the others get the update with g = 0,
            // without reading g or zeroing it again.
            parallelFor(s.count, minimumPerThread: 1 << 15) { range in
                var i = range.lowerBound
                for run in s.nonzeroRows?.touchedRuns(in: range) ?? [range] {
                    step.apply(state, i..<run.lowerBound, zeroGradient: true)
                    step.apply(state, run)
                    i = run.upperBound
                }
                step.apply(state, i..<range.upperBound, zeroGradient: true)
            }
            s.nonzeroRows?.clear()
        }
    }
}

/// The four arrays one segment's update reads and writes, each at the segment's offset.
struct AdamWPointers {
    let theta, g, m, v: UnsafeMutablePointer<Float>
}

/// One element's update, written once for sixteen lanes and applied to the tail through the same
/// code (padded with zeros), so every element takes exactly the same operations in the same order:
/// the vectorised loop gives the bits the scalar one gave (no fused multiply-adds, no reordering).
struct AdamWElementStep {
    let b1, b2, eps, rootCorrection2, stepSize, keep, gradientScale: Float

    typealias Lanes = SIMD16<Float>

    /// Updates `range`, then zeroes its gradients. `zeroGradient`: the gradients there are known to be
    /// +0 already, so they are neither read nor written (the arithmetic is the same).
    @inline(__always)
    func apply(_ p: AdamWPointers, _ range: Range<Int>, zeroGradient: Bool = false) {
        var i = range.lowerBound
        while i + Lanes.scalarCount <= range.upperBound {
            var theta = load(p.theta, i), m = load(p.m, i), v = load(p.v, i)
            update(&theta, zeroGradient ? Lanes() : load(p.g, i), &m, &v)
            store(theta, p.theta, i); store(m, p.m, i); store(v, p.v, i)
            if !zeroGradient { store(Lanes(), p.g, i) }
            i += Lanes.scalarCount
        }
        let tail = range.upperBound - i
        guard tail > 0 else { return }
        var theta = Lanes(), g = Lanes(), m = Lanes(), v = Lanes()
        for j in 0..<tail { theta[j] = p.theta[i + j]; m[j] = p.m[i + j]; v[j] = p.v[i + j] }
        if !zeroGradient { for j in 0..<tail { g[j] = p.g[i + j] } }
        update(&theta, g, &m, &v)
        for j in 0..<tail { p.theta[i + j] = theta[j]; p.m[i + j] = m[j]; p.v[i + j] = v[j] }
        if !zeroGradient { for j in 0..<tail { p.g[i + j] = 0 } }
    }

    @inline(__always)
    func update(_ theta: inout Lanes, _ g: Lanes, _ m: inout Lanes, _ v: inout Lanes) {
        let gi = g * gradientScale
        m = b1 * m + (1 - b1) * gi
        v = b2 * v + (1 - b2) * gi * gi
        let denominator = v.squareRoot() / rootCorrection2 + eps
        theta = theta * keep - stepSize * m / denominator
    }

    @inline(__always) private func load(_ p: UnsafeMutablePointer<Float>, _ i: Int) -> Lanes {
        UnsafeRawPointer(p + i).loadUnaligned(as: Lanes.self)
    }
    @inline(__always) private func store(_ x: Lanes, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
        UnsafeMutableRawPointer(p + i).storeBytes(of: x, as: Lanes.self)
    }
}

/// A checkpoint's optimiser moments do not fit the model being resumed.
public struct AdamWStateError: Error, CustomStringConvertible {
    public let expected: Int, first: Int, second: Int
    public var description: String { "optimiser moments hold \(first) and \(second) values; this model needs \(expected)" }
}

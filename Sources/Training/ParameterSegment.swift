import Bert
import Kernels

/// A run of trainable values with its gradient, as the optimiser sees it. The student's
/// parameter buffer gives one segment per tensor (so weight decay can be chosen per tensor);
/// objective-owned parameters (projections, filters) add their own.
public struct ParameterSegment {
    public let name: String
    public let values: UnsafeMutablePointer<Float>
    public let gradients: UnsafeMutablePointer<Float>
    public let count: Int
    /// Decoupled weight decay applies (matrices and embeddings; never biases or LayerNorm).
    public let decays: Bool
    /// The rows whose gradient may be nonzero, where the segment's writer tracks them (nil: any).
    public let nonzeroRows: GradientRows?

    public init(name: String, values: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>, count: Int, decays: Bool,
                nonzeroRows: GradientRows? = nil) {
        precondition(nonzeroRows.map { $0.width * $0.count == count } ?? true, "\(name): row tracking does not cover the segment")
        self.name = name; self.values = values; self.gradients = gradients; self.count = count; self.decays = decays
        self.nonzeroRows = nonzeroRows
    }

    /// One segment per tensor of a BERT parameter buffer; matrices (rank ≥ 2) decay. `wordEmbeddingRows`:
    /// the rows of the word-embedding gradient the training graph has touched (`BertTrainingGraph.wordEmbeddingRows`).
    public static func segments(of parameters: BertParameters, gradients: BertParameters,
                                wordEmbeddingRows: GradientRows? = nil) -> [ParameterSegment] {
        precondition(parameters.layout == gradients.layout, "gradients must share the parameters' layout")
        return parameters.layout.tensors.map { t in
            ParameterSegment(name: t.name, values: parameters[t], gradients: gradients[t], count: t.count, decays: t.shape.count >= 2,
                             nonzeroRows: t == parameters.layout.wordEmbeddings ? wordEmbeddingRows : nil)
        }
    }
}

/// √(Σ g²) over every segment. Blocks of 64 Ki values are summed in Float in parallel and
/// the block sums in Double, in a fixed order (the same norm whatever the thread count).
public func gradientNorm(_ segments: [ParameterSegment]) -> Double {
    let block = 1 << 16
    var sum = 0.0
    for s in segments {
        let blocks = (s.count + block - 1) / block
        var partials = [Double](repeating: 0, count: blocks)
        partials.withUnsafeMutableBufferPointer { out in
            let out = out.baseAddress!, g = UnsafePointer(s.gradients)
            if let tracked = s.nonzeroRows, tracked.rows != nil {
                // Only the touched rows, in order: each block's sum is the one the dense loop
                // gives (the rows left out add exactly +0); a block without any stays +0.
                for run in tracked.touchedRuns(in: 0..<s.count) {
                    var i = run.lowerBound
                    while i < run.upperBound {
                        let b = i / block, end = min(run.upperBound, (b + 1) * block)
                        var partial = Float(out[b])  // exact: it holds a Float sum
                        while i < end { partial += g[i] * g[i]; i += 1 }
                        out[b] = Double(partial)
                    }
                }
                return
            }
            parallelFor(blocks, minimumPerThread: 4) { range in
                var b = range.lowerBound
                // Eight whole blocks side by side: each keeps its own left-to-right sum (so the
                // same bits as one block at a time), and eight independent chains of adds hide
                // the latency that makes a single chain one add per four cycles.
                while b + 8 <= range.upperBound, (b + 8) * block <= s.count {
                    let sums = blockSumsOfSquares8(g + b * block, stride: block, count: block)
                    for j in 0..<8 { out[b + j] = Double(sums[j]) }
                    b += 8
                }
                while b < range.upperBound {
                    let start = b * block, end = min(s.count, start + block)
                    var partial: Float = 0
                    for i in start..<end { partial += g[i] * g[i] }
                    out[b] = Double(partial)
                    b += 1
                }
            }
        }
        sum += partials.reduce(0, +)
    }
    return sum.squareRoot()
}

/// Σ x² left to right over each of eight runs of `count` values, `stride` apart.
@inline(__always)
private func blockSumsOfSquares8(_ x: UnsafePointer<Float>, stride: Int, count: Int) -> SIMD8<Float> {
    let x0 = x, x1 = x + stride, x2 = x + 2 * stride, x3 = x + 3 * stride
    let x4 = x + 4 * stride, x5 = x + 5 * stride, x6 = x + 6 * stride, x7 = x + 7 * stride
    var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
    var s4: Float = 0, s5: Float = 0, s6: Float = 0, s7: Float = 0
    for i in 0..<count {
        s0 += x0[i] * x0[i]; s1 += x1[i] * x1[i]; s2 += x2[i] * x2[i]; s3 += x3[i] * x3[i]
        s4 += x4[i] * x4[i]; s5 += x5[i] * x5[i]; s6 += x6[i] * x6[i]; s7 += x7[i] * x7[i]
    }
    return SIMD8(s0, s1, s2, s3, s4, s5, s6, s7)
}

/// The global gradient norm and the factor that clips it to at most `maxNorm` (as
/// `torch.nn.utils.clip_grad_norm_`: maxNorm / (norm + 1e-6) when the norm exceeds it, else 1).
/// `AdamW.update(learningRate:gradientScale:)` applies the factor as it reads each gradient, the
/// same product as scaling the gradients first, without a pass of its own over all of them.
public func gradientClipping(_ segments: [ParameterSegment], maxNorm: Double) -> (norm: Double, scale: Float) {
    let norm = gradientNorm(segments)
    guard maxNorm > 0, norm > maxNorm else { return (norm, 1) }
    return (norm, Float(maxNorm / (norm + 1e-6)))
}

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

    public init(name: String, values: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>, count: Int, decays: Bool) {
        self.name = name; self.values = values; self.gradients = gradients; self.count = count; self.decays = decays
    }

    /// One segment per tensor of a BERT parameter buffer; matrices (rank ≥ 2) decay.
    public static func segments(of parameters: BertParameters, gradients: BertParameters) -> [ParameterSegment] {
        precondition(parameters.layout == gradients.layout, "gradients must share the parameters' layout")
        return parameters.layout.tensors.map { t in
            ParameterSegment(name: t.name, values: parameters[t], gradients: gradients[t], count: t.count, decays: t.shape.count >= 2)
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
            let out = out.baseAddress!, g = s.gradients
            parallelFor(blocks, minimumPerThread: 4) { range in
                for b in range {
                    var partial: Float = 0
                    for i in (b * block)..<min(s.count, (b + 1) * block) { partial += g[i] * g[i] }
                    out[b] = Double(partial)
                }
            }
        }
        sum += partials.reduce(0, +)
    }
    return sum.squareRoot()
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

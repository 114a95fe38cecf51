import Kernels

/// The small task head a TED teacher filter learns with in stage one: BERT's pooler and classifier on the
/// filter's output at the [CLS] token.
///
///     p = tanh(c·W_pᵀ + b_p)       c (rows, F) the [CLS] rows of the filter output, W_p (F, F)
///     z = p·W_cᵀ + b_c             W_c (K, F), K classes
///
/// Parameters in one buffer in the order of `tensors` (`pooler.dense.weight`, `pooler.dense.bias`,
/// `classifier.weight`, `classifier.bias`), gradients with the same layout; activations for `maxRows` rows.
public final class TedTaskHead {
    public let width: Int, classes: Int, maxRows: Int
    public let tensors: [TedFilter.Tensor]
    public let parameters: FloatBuffer, gradients: FloatBuffer
    /// p (maxRows, F) saved for backward, and z (maxRows, K).
    let pooled: FloatBuffer
    public let logits: FloatBuffer
    /// Scratch: ∂loss/∂z (maxRows, K) and ∂loss/∂p (maxRows, F).
    public let logitsGradient: FloatBuffer
    let pooledGradient: FloatBuffer

    public init(width: Int, classes: Int, maxRows: Int) {
        precondition(width > 0 && classes > 0 && maxRows >= 0, "TedTaskHead: width \(width), classes \(classes), rows \(maxRows)")
        self.width = width; self.classes = classes; self.maxRows = maxRows
        let f = width
        tensors = [TedFilter.Tensor(name: "pooler.dense.weight", offset: 0, shape: [f, f]),
                   TedFilter.Tensor(name: "pooler.dense.bias", offset: f * f, shape: [f]),
                   TedFilter.Tensor(name: "classifier.weight", offset: f * f + f, shape: [classes, f]),
                   TedFilter.Tensor(name: "classifier.bias", offset: f * f + f + classes * f, shape: [classes])]
        let count = f * f + f + classes * f + classes
        parameters = FloatBuffer(count: count)
        gradients = FloatBuffer(count: count)
        pooled = FloatBuffer(count: maxRows * f)
        pooledGradient = FloatBuffer(count: maxRows * f)
        logits = FloatBuffer(count: maxRows * classes)
        logitsGradient = FloatBuffer(count: maxRows * classes)
    }

    /// Weights ~ N(0, std²), biases 0; tensor k draws from SeededGenerator(seed, stream: stream + k).
    public func initialize(seed: UInt64, stream: UInt64, std: Float) {
        initializeNormal(parameters, tensors: tensors, seed: seed, stream: stream, std: std)
    }

    /// logits (rows, K) = head(cls (rows, F)).
    public func forward(_ cls: UnsafePointer<Float>, rows: Int) {
        precondition(rows <= maxRows, "TedTaskHead: \(rows) rows beyond the buffers' \(maxRows)")
        let (wp, bp, wc, bc) = views(parameters.pointer)
        linearForward(pooled.pointer, cls, wp, bp, rows: rows, inFeatures: width, outFeatures: width)
        tanhForward(pooled.pointer, pooled.pointer, count: rows * width)
        linearForward(logits.pointer, pooled.pointer, wc, bc, rows: rows, inFeatures: width, outFeatures: classes)
    }

    /// Backward of the last `forward(cls, rows)`: from dlogits (rows, K), ADDS into `gradients` and into
    /// dcls (rows, F) when not nil.
    public func backward(_ dcls: UnsafeMutablePointer<Float>?, _ dlogits: UnsafePointer<Float>, _ cls: UnsafePointer<Float>, rows: Int) {
        let (wp, _, wc, _) = views(parameters.pointer)
        let (dwp, dbp, dwc, dbc) = views(gradients.pointer)
        let dp = pooledGradient.pointer
        dp.update(repeating: 0, count: rows * width)
        // z = p·W_cᵀ + b_c
        linearBackward(dp, dwc, dbc, dlogits, pooled.pointer, wc, rows: rows, inFeatures: width, outFeatures: classes)
        // p = tanh(pre): d pre = dp · (1 − p²), in place (dp is not read again)
        for i in 0..<(rows * width) { dp[i] *= 1 - pooled[i] * pooled[i] }
        // pre = c·W_pᵀ + b_p
        linearBackward(dcls, dwp, dbp, dp, cls, wp, rows: rows, inFeatures: width, outFeatures: width)
    }

    private func views(_ base: UnsafeMutablePointer<Float>) -> (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>,
                                                                  UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) {
        (base + tensors[0].offset, base + tensors[1].offset, base + tensors[2].offset, base + tensors[3].offset)
    }
}

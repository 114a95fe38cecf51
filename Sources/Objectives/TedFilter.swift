import Kernels

/// The two shapes of a TED filter (Liang et al. 2023, "Less is More: Task-aware Layer-wise Distillation for
/// Language Model Compression").
public enum TedFilterKind: String, Codable, CaseIterable, Sendable {
    /// y = x·W₀ᵀ + b₀
    case linear
    /// y = GELU(x·W₀ᵀ + b₀)·W₂ᵀ + b₂ (exact-erf GELU, as BERT's)
    case mlp
}

/// One TED filter: maps a hidden state x (rows, C) to the filtered space y (rows, F), token by token.
///
///     linear:  y = x·W₀ᵀ + b₀                          W₀ (F, C), b₀ (F)
///     mlp:     a = x·W₀ᵀ + b₀;  y = GELU(a)·W₂ᵀ + b₂     W₂ (F, F), b₂ (F)
///
/// Parameters sit in one buffer in the order of `tensors` (named as PyTorch's nn.Sequential(Linear, GELU,
/// Linear): `0.weight`, `0.bias`, `2.weight`, `2.bias`); gradients share the layout. Activations are allocated
/// once for `maxRows` rows. A frozen filter (`trainable: false`, the teacher's in stage two) has no gradient
/// buffers and is only run forward.
public final class TedFilter {
    public struct Tensor: Sendable, Equatable {
        public let name: String, offset: Int, shape: [Int]
        public var count: Int { shape.reduce(1, *) }
    }

    public let kind: TedFilterKind
    public let inputWidth: Int, width: Int, maxRows: Int
    public let tensors: [Tensor]
    public let parameters: FloatBuffer
    /// ∂loss/∂θ, same layout as `parameters`; empty for a frozen filter.
    public let gradients: FloatBuffer
    /// y (maxRows, F) after `forward`.
    public let output: FloatBuffer
    /// Scratch for ∂loss/∂y (maxRows, F), filled by the losses before `backward`; empty when frozen.
    public let outputGradient: FloatBuffer
    /// mlp only: a = x·W₀ᵀ + b₀ and GELU(a) (maxRows, F) saved for backward, and their gradients.
    let preActivation: FloatBuffer, activation: FloatBuffer
    let preActivationGradient: FloatBuffer, activationGradient: FloatBuffer

    public init(kind: TedFilterKind, inputWidth: Int, width: Int, maxRows: Int, trainable: Bool = true) {
        precondition(inputWidth > 0 && width > 0 && maxRows >= 0, "TedFilter: input \(inputWidth), width \(width), rows \(maxRows)")
        self.kind = kind; self.inputWidth = inputWidth; self.width = width; self.maxRows = maxRows
        var tensors = [Tensor(name: "0.weight", offset: 0, shape: [width, inputWidth]),
                       Tensor(name: "0.bias", offset: width * inputWidth, shape: [width])]
        if kind == .mlp {
            let start = width * inputWidth + width
            tensors += [Tensor(name: "2.weight", offset: start, shape: [width, width]),
                        Tensor(name: "2.bias", offset: start + width * width, shape: [width])]
        }
        self.tensors = tensors
        let count = tensors.reduce(0) { $0 + $1.count }
        parameters = FloatBuffer(count: count)
        gradients = FloatBuffer(count: trainable ? count : 0)
        let activations = maxRows * width, hidden = kind == .mlp ? activations : 0
        output = FloatBuffer(count: activations)
        outputGradient = FloatBuffer(count: trainable ? activations : 0)
        preActivation = FloatBuffer(count: hidden)
        activation = FloatBuffer(count: hidden)
        preActivationGradient = FloatBuffer(count: trainable ? hidden : 0)
        activationGradient = FloatBuffer(count: trainable ? hidden : 0)
    }

    public var trainable: Bool { gradients.count == parameters.count }

    /// Weights ~ N(0, std²), biases 0; tensor k draws from SeededGenerator(seed, stream: stream + k).
    public func initialize(seed: UInt64, stream: UInt64, std: Float) {
        initializeNormal(parameters, tensors: tensors, seed: seed, stream: stream, std: std)
    }

    /// output (rows, F) = filter(inp (rows, C)).
    public func forward(_ inp: UnsafePointer<Float>, rows: Int) {
        precondition(rows <= maxRows, "TedFilter: \(rows) rows beyond the buffers' \(maxRows)")
        let w0 = parameters.pointer, b0 = w0 + width * inputWidth
        switch kind {
        case .linear:
            linearForward(output.pointer, inp, w0, b0, rows: rows, inFeatures: inputWidth, outFeatures: width)
        case .mlp:
            let w2 = b0 + width, b2 = w2 + width * width
            linearForward(preActivation.pointer, inp, w0, b0, rows: rows, inFeatures: inputWidth, outFeatures: width)
            geluForward(activation.pointer, preActivation.pointer, count: rows * width)
            linearForward(output.pointer, activation.pointer, w2, b2, rows: rows, inFeatures: width, outFeatures: width)
        }
    }

    /// Backward of the last `forward(inp, rows)`: from dout (rows, F), ADDS into `gradients` and into dinp (rows, C)
    /// when not nil.
    public func backward(_ dinp: UnsafeMutablePointer<Float>?, _ dout: UnsafePointer<Float>, _ inp: UnsafePointer<Float>, rows: Int) {
        precondition(trainable, "TedFilter: backward through a frozen filter")
        let w0 = parameters.pointer, b0 = w0 + width * inputWidth
        let dw0 = gradients.pointer, db0 = dw0 + width * inputWidth
        switch kind {
        case .linear:
            // y = x·W₀ᵀ + b₀
            linearBackward(dinp, dw0, db0, dout, inp, w0, rows: rows, inFeatures: inputWidth, outFeatures: width)
        case .mlp:
            let w2 = b0 + width, dw2 = db0 + width, db2 = dw2 + width * width
            let da = preActivationGradient.pointer, dg = activationGradient.pointer
            da.update(repeating: 0, count: rows * width)
            dg.update(repeating: 0, count: rows * width)
            // y = GELU(a)·W₂ᵀ + b₂
            linearBackward(dg, dw2, db2, dout, activation.pointer, w2, rows: rows, inFeatures: width, outFeatures: width)
            // GELU(a)
            geluBackward(da, preActivation.pointer, dg, count: rows * width)
            // a = x·W₀ᵀ + b₀
            linearBackward(dinp, dw0, db0, da, inp, w0, rows: rows, inFeatures: inputWidth, outFeatures: width)
        }
    }
}

/// Matrices of `tensors` ~ N(0, std²), vectors 0; tensor k draws from SeededGenerator(seed, stream: stream + k).
func initializeNormal(_ parameters: FloatBuffer, tensors: [TedFilter.Tensor], seed: UInt64, stream: UInt64, std: Float) {
    for (k, t) in tensors.enumerated() {
        let values = parameters.pointer + t.offset
        if t.shape.count == 2 {
            var generator = SeededGenerator(seed: seed, stream: stream &+ UInt64(k))
            for i in 0..<t.count { values[i] = generator.nextNormal() * std }
        } else {
            values.update(repeating: 0, count: t.count)
        }
    }
}

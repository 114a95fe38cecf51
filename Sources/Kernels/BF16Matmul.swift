import CDNNL
import Foundation

/// The linear layers of training in bf16: `linearForward` and `linearBackward` with every matrix
/// product taking bf16 inputs (rounded to nearest even per call: the weights change every step)
/// and accumulating in fp32 into fp32 outputs, through oneDNN's matmul. Biases, their gradients
/// and everything outside the products stay fp32.
///
/// Split as the fp32 kernels are, into fixed blocks (`parallelBlocks`) that each run one
/// single-threaded product: the blocks depend only on the shape, so a student gives the same bits
/// on one thread or many (alone = together). Rounded operands live in buffers kept between calls.
/// Not for concurrent use: one owner (a training graph) calls it from one thread at a time.
public final class BF16Matmul: @unchecked Sendable {
    private struct Shape: Hashable {
        var m, n, k: Int
        var sourceTransposed: Bool, sourceStride: Int
        var weightsTransposed: Bool, weightsStride: Int
        var destinationStride: Int, accumulate: Bool
    }

    private var primitives: [Shape: DNNLMatmul] = [:]
    private let lock = NSLock()
    private let scratchpads = (0..<8).map { _ in AlignedBytes() }
    /// The rounded operands of the product being computed.
    private let first = AlignedBytes(), second = AlignedBytes()

    public init() {}

    /// out (rows, outFeatures) = inp (rows, inFeatures) · weightᵀ + bias, weight (outFeatures, inFeatures).
    public func linearForward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
                              _ bias: UnsafePointer<Float>?, rows: Int, inFeatures: Int, outFeatures: Int) {
        if rows == 0 { return }
        let x = roundedBFloat16(inp, rows: rows, columns: inFeatures, into: first), w = roundedBFloat16(weight, rows: outFeatures, columns: inFeatures, into: second)
        parallelBlocks(rows, minimumBlock: 64) { block, range in
            if let bias { for r in range { (out + r * outFeatures).update(from: bias, count: outFeatures) } }
            // (count, in) · Wᵀ: W (out, in) row-major read as (in, out) with the strides swapped.
            product(out + range.lowerBound * outFeatures, source: x + range.lowerBound * inFeatures, weights: w,
                    Shape(m: range.count, n: outFeatures, k: inFeatures, sourceTransposed: false, sourceStride: inFeatures,
                          weightsTransposed: true, weightsStride: inFeatures, destinationStride: outFeatures, accumulate: bias != nil),
                    block: block)
        }
    }

    /// The backward of `linearForward`, ADDING into dinp (rows, in), dweight (out, in) and dbias (out),
    /// as `linearBackward` does. `dinp` nil skips the input gradient, `dbias` nil a layer without bias.
    public func linearBackward(_ dinp: UnsafeMutablePointer<Float>?, _ dweight: UnsafeMutablePointer<Float>, _ dbias: UnsafeMutablePointer<Float>?,
                               _ dout: UnsafePointer<Float>, _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
                               rows: Int, inFeatures: Int, outFeatures: Int) {
        if rows == 0 { return }
        let g = roundedBFloat16(dout, rows: rows, columns: outFeatures, into: first)
        if let dinp {
            // dinp (rows, in) += dout (rows, out) · weight (out, in), in fixed row blocks.
            let w = roundedBFloat16(weight, rows: outFeatures, columns: inFeatures, into: second)
            parallelBlocks(rows, minimumBlock: 64) { block, range in
                product(dinp + range.lowerBound * inFeatures, source: g + range.lowerBound * outFeatures, weights: w,
                        Shape(m: range.count, n: inFeatures, k: outFeatures, sourceTransposed: false, sourceStride: outFeatures,
                              weightsTransposed: false, weightsStride: inFeatures, destinationStride: inFeatures, accumulate: true),
                        block: block)
            }
        }
        // dweight (out, in) += doutᵀ (out, rows) · inp (rows, in), in `linearBackward`'s fixed blocks.
        let x = roundedBFloat16(inp, rows: rows, columns: inFeatures, into: second)
        weightGradientBlocks(outFeatures: outFeatures, inFeatures: inFeatures) { block, o, i in
            product(dweight + o.lowerBound * inFeatures + i.lowerBound, source: g + o.lowerBound, weights: x + i.lowerBound,
                    Shape(m: o.count, n: i.count, k: rows, sourceTransposed: true, sourceStride: outFeatures,
                          weightsTransposed: false, weightsStride: inFeatures, destinationStride: inFeatures, accumulate: true),
                    block: block)
        }
        if let dbias {
            parallelBlocks(outFeatures, minimumBlock: 32) { range in addColumnSums(dbias, dout, rows: rows, columns: range, stride: outFeatures) }
        }
    }

    /// destination (m, n) (+)= source (m, k) · weights (k, n), one thread, block `block`'s scratchpad.
    /// A transposed operand is the stored matrix read with its strides swapped.
    private func product(_ destination: UnsafeMutablePointer<Float>, source: UnsafePointer<UInt16>, weights: UnsafePointer<UInt16>,
                         _ shape: Shape, block: Int) {
        let matmul = primitive(shape)
        matmul.run(source: source, weights: weights, destination: destination,
                   scratchpad: scratchpads[block].reserve(matmul.scratchpadBytes), threads: 1)
    }

    private func primitive(_ s: Shape) -> DNNLMatmul {
        lock.lock(); defer { lock.unlock() }
        if let p = primitives[s] { return p }
        func matrix(rows: Int, columns: Int, transposed: Bool, stride: Int) -> dnnl_memory_desc_t {
            transposed ? dnnlMatrix(dnnl_bf16, rows: rows, columns: columns, rowStride: 1, columnStride: stride)
                       : dnnlMatrix(dnnl_bf16, rows: rows, columns: columns, rowStride: stride)
        }
        let p = DNNLMatmul(source: matrix(rows: s.m, columns: s.k, transposed: s.sourceTransposed, stride: s.sourceStride),
                           weights: matrix(rows: s.k, columns: s.n, transposed: s.weightsTransposed, stride: s.weightsStride),
                           destination: dnnlMatrix(dnnl_f32, rows: s.m, columns: s.n, rowStride: s.destinationStride),
                           accumulate: s.accumulate)
        primitives[s] = p
        return p
    }
}

/// How a model's linear layers multiply: fp32 (OpenBLAS sgemm) or bf16 inputs with fp32
/// accumulation (`BF16Matmul`). The training graph holds one and routes every linear layer through it.
public struct LinearProducts: @unchecked Sendable {
    public let precision: Precision
    private let bf16: BF16Matmul?

    public static let fp32 = LinearProducts(precision: .fp32)

    public init(precision: Precision) {
        self.precision = precision
        bf16 = precision == .bf16 ? BF16Matmul() : nil
    }

    public func forward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
                        _ bias: UnsafePointer<Float>?, rows: Int, inFeatures: Int, outFeatures: Int) {
        if let bf16 {
            bf16.linearForward(out, inp, weight, bias, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
        } else {
            linearForward(out, inp, weight, bias, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
        }
    }

    public func backward(_ dinp: UnsafeMutablePointer<Float>?, _ dweight: UnsafeMutablePointer<Float>, _ dbias: UnsafeMutablePointer<Float>?,
                         _ dout: UnsafePointer<Float>, _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
                         rows: Int, inFeatures: Int, outFeatures: Int) {
        if let bf16 {
            bf16.linearBackward(dinp, dweight, dbias, dout, inp, weight, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
        } else {
            linearBackward(dinp, dweight, dbias, dout, inp, weight, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
        }
    }
}

import CDNNL
import Foundation

/// One linear layer of inference, y (rows, N) = x (rows, K) · Wᵀ + b, through oneDNN's matmul with W
/// reordered once, when built, into the layout the primitive prefers: OpenBLAS packs both operands
/// in every call, and in fixed row blocks it packed the weights once per block (12 % of the fp32
/// teacher's time), where here only x is read per call. Bias and GELU run inside the product, on
/// each tile while it is in cache. For inference, where the weights stay fixed; training multiplies
/// with OpenBLAS (fp32) or rounds the changing weights per call (`BF16Matmul`).
///
/// `precision` fp32: fp32 in and out. bf16: W held in bf16, x rounded to bf16 per call (to nearest
/// even), accumulated and written in fp32 (or, for a next bf16 layer, in bf16).
/// One primitive per row count (and bias, GELU, output type), built on first use; its work is
/// split by oneDNN over `Threads.count` threads into tiles of the output, each summed over all of K
/// in one order, so one thread or many give the same bits.
/// Not for concurrent use: one owner (a forward pass) calls it from one thread at a time.
public final class PackedLinear: @unchecked Sendable {
    public let inFeatures: Int, outFeatures: Int
    public let precision: Precision
    private let packed = AlignedBytes(), scratchpad = AlignedBytes()
    private var packedLayout: dnnl_memory_desc_t
    private struct Variant: Hashable { var rows: Int, bias: Bool, gelu: Bool, bf16Output: Bool = false }
    private var primitives: [Variant: DNNLMatmul] = [:]
    private let input = AlignedBytes(), output = AlignedBytes()

    /// `weight` (N, K) row-major, as `linearForward` takes it. bf16 needs a CPU with AVX-512 BF16.
    public init(weight: UnsafePointer<Float>, outFeatures: Int, inFeatures: Int, precision: Precision) {
        self.inFeatures = inFeatures; self.outFeatures = outFeatures; self.precision = precision
        let type = precision.elementType
        let engine = DNNLContext.shared.engine
        // W (N, K) row-major is Wᵀ (K, N) with the strides swapped.
        var stored = dnnlMatrix(type, rows: inFeatures, columns: outFeatures, rowStride: 1, columnStride: inFeatures)
        var any = dnnl_memory_desc_t(), dims: [dnnl_dim_t] = [dnnl_dim_t(inFeatures), dnnl_dim_t(outFeatures)]
        dnnlCheck(dnnl_memory_desc_init_by_tag(&any, 2, &dims, type, dnnl_format_tag_any))
        // The preferred layout, asked of a matmul of a typical size (it does not depend on the rows).
        packedLayout = Self.matmul(rows: 512, weights: any, type: type, inFeatures: inFeatures, outFeatures: outFeatures).weightsLayout
        let destination = packed.reserve(dnnl_memory_desc_get_size(&packedLayout))!
        let rounded = AlignedBytes()
        let bits = precision == .bf16 ? UnsafeRawPointer(roundedBFloat16(weight, rows: outFeatures, columns: inFeatures, into: rounded))
                                      : UnsafeRawPointer(weight)
        var reorderDesc: dnnl_primitive_desc_t?, reorder: dnnl_primitive_t?, stream: dnnl_stream_t?
        dnnlCheck(dnnl_reorder_primitive_desc_create(&reorderDesc, &stored, engine, &packedLayout, engine, nil))
        dnnlCheck(dnnl_primitive_create(&reorder, reorderDesc))
        dnnlCheck(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue))
        var source: dnnl_memory_t?, target: dnnl_memory_t?
        dnnlCheck(dnnl_memory_create(&source, &stored, engine, UnsafeMutableRawPointer(mutating: bits)))
        dnnlCheck(dnnl_memory_create(&target, &packedLayout, engine, destination))
        var arguments = [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: source), dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: target)]
        dnnlCheck(dnnl_primitive_execute(reorder, stream, 2, &arguments))
        dnnlCheck(dnnl_stream_wait(stream))
        withExtendedLifetime(rounded) {}  // the rounded weights stay allocated until the reorder is done
        dnnl_memory_destroy(source); dnnl_memory_destroy(target)
        dnnl_stream_destroy(stream); dnnl_primitive_destroy(reorder); dnnl_primitive_desc_destroy(reorderDesc)
    }

    /// out (rows, N) = x (rows, K) · Wᵀ (+ bias (N)), then GELU (erf) when `gelu`, on all
    /// `Threads.count` threads. Bias and GELU run inside the product (oneDNN's bias and post-op),
    /// on each tile while it is in cache.
    public func forward(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?, rows: Int, gelu: Bool = false) {
        guard rows > 0 else { return }
        let source = precision == .bf16 ? UnsafeRawPointer(roundedBFloat16(x, rows: rows, columns: inFeatures, into: input)) : UnsafeRawPointer(x)
        run(Variant(rows: rows, bias: bias != nil, gelu: gelu), source, out, bias)
    }

    /// `forward` with x already in bfloat16 bits (rows, K), as `forwardToBFloat16` returns them (bf16 only).
    public func forward(_ out: UnsafeMutablePointer<Float>, bfloat16 x: UnsafePointer<UInt16>, _ bias: UnsafePointer<Float>?, rows: Int, gelu: Bool = false) {
        precondition(precision == .bf16, "bfloat16 inputs are for a bf16 layer")
        guard rows > 0 else { return }
        run(Variant(rows: rows, bias: bias != nil, gelu: gelu), x, out, bias)
    }

    /// `forward`, its result rounded to bfloat16 (to nearest even, by oneDNN as it writes each
    /// tile) into a buffer of this layer's, valid until its next call: the input of a next bf16
    /// layer without an fp32 copy and a rounding pass in between (the FFN's 4·C-wide activation
    /// was the largest thing the bf16 teacher rounded). The same bits as rounding `forward`'s output.
    public func forwardToBFloat16(_ x: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?, rows: Int, gelu: Bool = false) -> UnsafePointer<UInt16> {
        precondition(precision == .bf16, "bfloat16 outputs are for a bf16 layer")
        let out = output.reserve(max(1, rows * outFeatures) * MemoryLayout<UInt16>.stride)!
        if rows > 0 {
            run(Variant(rows: rows, bias: bias != nil, gelu: gelu, bf16Output: true),
                roundedBFloat16(x, rows: rows, columns: inFeatures, into: input), out, bias)
        }
        return UnsafePointer(out.assumingMemoryBound(to: UInt16.self))
    }

    private func run(_ variant: Variant, _ source: UnsafeRawPointer, _ destination: UnsafeMutableRawPointer, _ bias: UnsafePointer<Float>?) {
        let matmul = primitive(variant)
        matmul.run(source: source, weights: packed.pointer!, destination: destination, bias: bias,
                   scratchpad: scratchpad.reserve(matmul.scratchpadBytes), threads: Threads.count)
    }

    private func primitive(_ v: Variant) -> DNNLMatmul {
        if let p = primitives[v] { return p }
        let p = Self.matmul(rows: v.rows, weights: packedLayout, type: precision.elementType, inFeatures: inFeatures, outFeatures: outFeatures, bias: v.bias, gelu: v.gelu,
                            output: v.bf16Output ? dnnl_bf16 : dnnl_f32)
        primitives[v] = p
        return p
    }

    private static func matmul(rows: Int, weights: dnnl_memory_desc_t, type: dnnl_data_type_t, inFeatures: Int, outFeatures: Int,
                               bias: Bool = false, gelu: Bool = false, output: dnnl_data_type_t = dnnl_f32) -> DNNLMatmul {
        DNNLMatmul(source: dnnlMatrix(type, rows: rows, columns: inFeatures, rowStride: inFeatures), weights: weights,
                   destination: dnnlMatrix(output, rows: rows, columns: outFeatures, rowStride: outFeatures), bias: bias, gelu: gelu)
    }
}

private extension Precision {
    /// The products' input type.
    var elementType: dnnl_data_type_t { self == .bf16 ? dnnl_bf16 : dnnl_f32 }
}

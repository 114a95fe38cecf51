import CDNNL
import Foundation
import HalfFloat

/// The arithmetic of the matrix products: fp32 (OpenBLAS sgemm), or bf16 inputs with fp32
/// accumulation and output on AVX-512 BF16 (oneDNN's matmul primitive). Everything else —
/// LayerNorm, softmax, GELU, residuals, losses — stays fp32 either way.
public enum Precision: String, Codable, CaseIterable, Sendable {
    case fp32, bf16

    /// Why this CPU cannot run `self` (nil when it can): bf16 needs AVX-512 BF16, which oneDNN
    /// reports as its effective ISA. `DISTILLERY_FAULT_NO_BF16=1` pretends it is missing (tests).
    public var unsupportedReason: String? {
        guard self == .bf16 else { return nil }
        let isa = dnnl_get_effective_cpu_isa().rawValue, bf16 = dnnl_cpu_isa_avx512_core_bf16.rawValue
        if ProcessInfo.processInfo.environment["DISTILLERY_FAULT_NO_BF16"] == "1" || isa & bf16 != bf16 {
            return "--precision bf16 needs a CPU with AVX-512 BF16 (avx512_bf16 in /proc/cpuinfo), which this one lacks; use --precision fp32"
        }
        return nil
    }
}

/// One linear layer y (rows, N) = x (rows, K) · Wᵀ + b with W held in bf16 in the layout oneDNN's
/// matmul prefers (reordered once when built), x rounded to bf16 per call (round to nearest even),
/// products accumulated and written in fp32. One primitive per row count, built on first use.
/// Not for concurrent use: one owner (a forward pass) calls it from one thread at a time.
public final class BF16Linear: @unchecked Sendable {
    public let inFeatures: Int, outFeatures: Int
    private let weights: dnnl_memory_t
    private var weightsDesc: dnnl_memory_desc_t
    private var primitives: [Int: dnnl_primitive_t] = [:]
    private var input: [UInt16] = []

    /// `weight` (N, K) row-major, as `linearForward` takes it.
    public init(weight: UnsafePointer<Float>, outFeatures: Int, inFeatures: Int) {
        self.inFeatures = inFeatures; self.outFeatures = outFeatures
        let context = DNNLContext.shared
        // W (N, K) row-major is Wᵀ (K, N) in column order: oneDNN's `ba` tag.
        var stored = dnnl_memory_desc_t(), wanted = dnnl_memory_desc_t()
        var dims: [dnnl_dim_t] = [dnnl_dim_t(inFeatures), dnnl_dim_t(outFeatures)]
        check(dnnl_memory_desc_init_by_tag(&stored, 2, &dims, dnnl_bf16, dnnl_ba))
        check(dnnl_memory_desc_init_by_tag(&wanted, 2, &dims, dnnl_bf16, dnnl_format_tag_any))
        // The preferred layout, asked of a matmul of a typical size (it does not depend on the rows).
        let probe = Self.primitiveDescriptor(rows: 512, weights: &wanted, inFeatures: inFeatures, outFeatures: outFeatures)
        weightsDesc = dnnl_primitive_desc_query_md(probe, dnnl_query_weights_md, 0)!.pointee
        dnnl_primitive_desc_destroy(probe)
        var bits = (0..<(outFeatures * inFeatures)).map { HalfFloat.bfloat16(weight[$0]) }
        var packed: dnnl_memory_t?
        check(dnnl_memory_create(&packed, &weightsDesc, context.engine, distillery_dnnl_memory_allocate()))
        var reorderDesc: dnnl_primitive_desc_t?, reorder: dnnl_primitive_t?
        check(dnnl_reorder_primitive_desc_create(&reorderDesc, &stored, context.engine, &weightsDesc, context.engine, nil))
        check(dnnl_primitive_create(&reorder, reorderDesc))
        // The rounded weights are read through their pointer, so the reorder runs while it is valid.
        bits.withUnsafeMutableBytes { raw in
            var source: dnnl_memory_t?
            check(dnnl_memory_create(&source, &stored, context.engine, raw.baseAddress))
            var arguments = [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: source), dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: packed)]
            check(dnnl_primitive_execute(reorder, context.stream, 2, &arguments))
            check(dnnl_stream_wait(context.stream))
            dnnl_memory_destroy(source)
        }
        dnnl_primitive_destroy(reorder); dnnl_primitive_desc_destroy(reorderDesc)
        weights = packed!
    }

    deinit {
        for p in primitives.values { dnnl_primitive_destroy(p) }
        dnnl_memory_destroy(weights)
    }

    /// out (rows, N) = x (rows, K) · Wᵀ (+ bias (N)).
    public func forward(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?, rows: Int) {
        guard rows > 0 else { return }
        let context = DNNLContext.shared, k = inFeatures, n = outFeatures
        if input.count < rows * k { input = [UInt16](repeating: 0, count: rows * k) }
        input.withUnsafeMutableBufferPointer { bits in
            let b = bits.baseAddress!
            parallelFor(rows, minimumPerThread: 16) { range in
                for i in (range.lowerBound * k)..<(range.upperBound * k) { b[i] = HalfFloat.bfloat16(x[i]) }
            }
            var source = dnnl_memory_desc_t(), destination = dnnl_memory_desc_t()
            var sourceDims: [dnnl_dim_t] = [dnnl_dim_t(rows), dnnl_dim_t(k)], destinationDims: [dnnl_dim_t] = [dnnl_dim_t(rows), dnnl_dim_t(n)]
            check(dnnl_memory_desc_init_by_tag(&source, 2, &sourceDims, dnnl_bf16, dnnl_ab))
            check(dnnl_memory_desc_init_by_tag(&destination, 2, &destinationDims, dnnl_f32, dnnl_ab))
            var sourceMemory: dnnl_memory_t?, destinationMemory: dnnl_memory_t?
            check(dnnl_memory_create(&sourceMemory, &source, context.engine, UnsafeMutableRawPointer(b)))
            check(dnnl_memory_create(&destinationMemory, &destination, context.engine, UnsafeMutableRawPointer(out)))
            var arguments = [dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: sourceMemory), dnnl_exec_arg_t(arg: DNNL_ARG_WEIGHTS, memory: weights),
                             dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: destinationMemory)]
            check(dnnl_primitive_execute(primitive(rows: rows), context.stream, 3, &arguments))
            check(dnnl_stream_wait(context.stream))
            dnnl_memory_destroy(sourceMemory); dnnl_memory_destroy(destinationMemory)
        }
        if let bias {
            parallelFor(rows, minimumPerThread: 16) { range in
                for r in range { let o = out + r * n; for j in 0..<n { o[j] += bias[j] } }
            }
        }
    }

    private func primitive(rows: Int) -> dnnl_primitive_t {
        if let p = primitives[rows] { return p }
        let descriptor = Self.primitiveDescriptor(rows: rows, weights: &weightsDesc, inFeatures: inFeatures, outFeatures: outFeatures)
        var p: dnnl_primitive_t?
        check(dnnl_primitive_create(&p, descriptor))
        dnnl_primitive_desc_destroy(descriptor)
        primitives[rows] = p!
        return p!
    }

    private static func primitiveDescriptor(rows: Int, weights: inout dnnl_memory_desc_t, inFeatures: Int, outFeatures: Int) -> dnnl_primitive_desc_t {
        var source = dnnl_memory_desc_t(), destination = dnnl_memory_desc_t(), matmul = dnnl_matmul_desc_t()
        var sourceDims: [dnnl_dim_t] = [dnnl_dim_t(rows), dnnl_dim_t(inFeatures)], destinationDims: [dnnl_dim_t] = [dnnl_dim_t(rows), dnnl_dim_t(outFeatures)]
        check(dnnl_memory_desc_init_by_tag(&source, 2, &sourceDims, dnnl_bf16, dnnl_ab))
        check(dnnl_memory_desc_init_by_tag(&destination, 2, &destinationDims, dnnl_f32, dnnl_ab))
        check(dnnl_matmul_desc_init(&matmul, &source, &weights, nil, &destination))
        var descriptor: dnnl_primitive_desc_t?
        check(dnnl_primitive_desc_create(&descriptor, &matmul, nil, DNNLContext.shared.engine, nil))
        return descriptor!
    }
}

/// The process's oneDNN CPU engine and stream, and its OpenMP thread count kept equal to `Threads.count`.
final class DNNLContext: @unchecked Sendable {
    static let shared = DNNLContext()
    let engine: dnnl_engine_t
    let stream: dnnl_stream_t

    private init() {
        var engine: dnnl_engine_t?, stream: dnnl_stream_t?
        check(dnnl_engine_create(&engine, dnnl_cpu, 0))
        check(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue))
        self.engine = engine!; self.stream = stream!
    }
}

/// oneDNN calls only fail on programming errors (shapes and types are ours): stop, naming the status.
private func check(_ status: dnnl_status_t, file: StaticString = #fileID, line: UInt = #line) {
    precondition(status == dnnl_success, "oneDNN call failed with status \(status.rawValue)", file: file, line: line)
}

import CDNNL
import Foundation
import HalfFloat

/// One oneDNN matmul primitive: dst (m, n) = src (m, k) · weights (k, n) (+ bias (n)), or += with
/// `accumulate`, optionally through GELU (erf) inside the product; bf16 inputs accumulated and
/// written in fp32. The caller hands in the scratchpad (oneDNN's user mode): with the library's
/// own scratchpad a primitive may only run on the thread that built it, and our kernels run on
/// whichever worker takes a block.
final class DNNLMatmul {
    private let primitive: dnnl_primitive_t
    private var source, weights, destination: dnnl_memory_desc_t
    private var bias: dnnl_memory_desc_t?
    /// Bytes of scratch one execution needs.
    let scratchpadBytes: Int

    /// `weights` may be `dnnl_format_tag_any`'s descriptor; `weightsLayout` is then the layout chosen.
    init(source: dnnl_memory_desc_t, weights: dnnl_memory_desc_t, destination: dnnl_memory_desc_t, accumulate: Bool = false,
         bias: Bool = false, gelu: Bool = false) {
        self.source = source; self.weights = weights; self.destination = destination
        var attributes: dnnl_primitive_attr_t?, postOps: dnnl_post_ops_t?
        dnnlCheck(dnnl_primitive_attr_create(&attributes))
        dnnlCheck(dnnl_primitive_attr_set_scratchpad_mode(attributes, dnnl_scratchpad_mode_user))
        if accumulate || gelu {
            dnnlCheck(dnnl_post_ops_create(&postOps))
            if accumulate { dnnlCheck(dnnl_post_ops_append_sum(postOps, 1)) }
            if gelu { dnnlCheck(dnnl_post_ops_append_eltwise(postOps, 1, dnnl_eltwise_gelu_erf, 0, 0)) }
            dnnlCheck(dnnl_primitive_attr_set_post_ops(attributes, postOps))
        }
        let columns = Int(destination.dims.1)
        var biasDesc = bias ? dnnlMatrix(dnnl_f32, rows: 1, columns: columns, rowStride: columns) : dnnl_memory_desc_t()
        self.bias = bias ? biasDesc : nil
        var matmul = dnnl_matmul_desc_t(), descriptor: dnnl_primitive_desc_t?
        dnnlCheck(bias ? dnnl_matmul_desc_init(&matmul, &self.source, &self.weights, &biasDesc, &self.destination)
                       : dnnl_matmul_desc_init(&matmul, &self.source, &self.weights, nil, &self.destination))
        dnnlCheck(dnnl_primitive_desc_create(&descriptor, &matmul, attributes, DNNLContext.shared.engine, nil))
        self.weights = dnnl_primitive_desc_query_md(descriptor, dnnl_query_weights_md, 0)!.pointee
        scratchpadBytes = dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(descriptor, dnnl_query_scratchpad_md, 0))
        var primitive: dnnl_primitive_t?
        dnnlCheck(dnnl_primitive_create(&primitive, descriptor))
        self.primitive = primitive!
        dnnl_primitive_desc_destroy(descriptor)
        if let postOps { dnnl_post_ops_destroy(postOps) }
        dnnl_primitive_attr_destroy(attributes)
    }

    deinit { dnnl_primitive_destroy(primitive) }

    /// The weights' layout the primitive reads (the one chosen when built with `format_tag_any`).
    var weightsLayout: dnnl_memory_desc_t { weights }

    /// Runs on the calling thread's OpenMP team of `threads` (1 inside our own row blocks).
    /// `bias` is required when the primitive was built with one.
    func run(source s: UnsafeRawPointer, weights w: UnsafeRawPointer, destination d: UnsafeMutableRawPointer, bias b: UnsafePointer<Float>? = nil,
             scratchpad: UnsafeMutableRawPointer?, threads: Int) {
        precondition((bias == nil) == (b == nil), "a bias is given exactly when the primitive has one")
        distillery_omp_set_num_threads(Int32(threads))
        let engine = DNNLContext.shared.engine
        var memories: [dnnl_memory_t?] = [nil, nil, nil, nil, nil]
        dnnlCheck(dnnl_memory_create(&memories[0], &source, engine, UnsafeMutableRawPointer(mutating: s)))
        dnnlCheck(dnnl_memory_create(&memories[1], &weights, engine, UnsafeMutableRawPointer(mutating: w)))
        dnnlCheck(dnnl_memory_create(&memories[2], &destination, engine, d))
        var arguments = [dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: memories[0]), dnnl_exec_arg_t(arg: DNNL_ARG_WEIGHTS, memory: memories[1]),
                         dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: memories[2])]
        if let b {
            dnnlCheck(dnnl_memory_create(&memories[4], &bias!, engine, UnsafeMutableRawPointer(mutating: b)))
            arguments.append(dnnl_exec_arg_t(arg: DNNL_ARG_BIAS, memory: memories[4]))
        }
        if scratchpadBytes > 0 {
            var pad = dnnl_memory_desc_t(), dims: [dnnl_dim_t] = [dnnl_dim_t(scratchpadBytes)]
            dnnlCheck(dnnl_memory_desc_init_by_tag(&pad, 1, &dims, dnnl_u8, dnnl_a))
            dnnlCheck(dnnl_memory_create(&memories[3], &pad, engine, scratchpad!))
            arguments.append(dnnl_exec_arg_t(arg: DNNL_ARG_SCRATCHPAD, memory: memories[3]))
        }
        // A stream per call: a CPU stream is a thin handle, and sharing one between workers is not promised safe.
        var stream: dnnl_stream_t?
        dnnlCheck(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue))
        dnnlCheck(dnnl_primitive_execute(primitive, stream, Int32(arguments.count), &arguments))
        dnnlCheck(dnnl_stream_wait(stream))
        dnnl_stream_destroy(stream)
        for m in memories where m != nil { dnnl_memory_destroy(m) }
    }
}

/// A plain 2-D memory descriptor: (rows, columns) of `type` with a row stride and a column stride,
/// so a transposed view is the same buffer with the strides swapped.
func dnnlMatrix(_ type: dnnl_data_type_t, rows: Int, columns: Int, rowStride: Int, columnStride: Int = 1) -> dnnl_memory_desc_t {
    var desc = dnnl_memory_desc_t()
    var dims: [dnnl_dim_t] = [dnnl_dim_t(rows), dnnl_dim_t(columns)], strides: [dnnl_dim_t] = [dnnl_dim_t(rowStride), dnnl_dim_t(columnStride)]
    dnnlCheck(dnnl_memory_desc_init_by_strides(&desc, 2, &dims, type, &strides))
    return desc
}

/// 64-byte aligned raw bytes that grow on demand and are kept: a primitive's scratchpad, packed weights.
final class AlignedBytes: @unchecked Sendable {
    private(set) var pointer: UnsafeMutableRawPointer?
    private var capacity = 0

    /// At least `bytes`, keeping nothing of the old contents when it grows.
    func reserve(_ bytes: Int) -> UnsafeMutableRawPointer? {
        guard bytes > 0 else { return pointer }
        if bytes > capacity {
            pointer?.deallocate()
            pointer = .allocate(byteCount: bytes, alignment: 64)
            capacity = bytes
        }
        return pointer
    }

    deinit { pointer?.deallocate() }
}

/// The process's oneDNN CPU engine.
final class DNNLContext: @unchecked Sendable {
    static let shared = DNNLContext()
    let engine: dnnl_engine_t

    private init() {
        var engine: dnnl_engine_t?
        dnnlCheck(dnnl_engine_create(&engine, dnnl_cpu, 0))
        self.engine = engine!
    }
}

/// oneDNN calls only fail on programming errors (shapes and types are ours): stop, naming the status.
func dnnlCheck(_ status: dnnl_status_t, file: StaticString = #fileID, line: UInt = #line) {
    precondition(status == dnnl_success, "oneDNN call failed with status \(status.rawValue)", file: file, line: line)
}

/// `matrix` (rows, columns) rounded to bfloat16 bits (to nearest even) into `buffer` (kept between
/// calls), split over the workers.
func roundedBFloat16(_ matrix: UnsafePointer<Float>, rows: Int, columns: Int, into buffer: AlignedBytes) -> UnsafePointer<UInt16> {
    let bits = buffer.reserve(rows * columns * MemoryLayout<UInt16>.stride)!.bindMemory(to: UInt16.self, capacity: rows * columns)
    parallelFor(rows, minimumPerThread: max(1, 16384 / max(1, columns))) { range in
        for r in range {
            let s = matrix + r * columns, d = bits + r * columns
            for j in 0..<columns { d[j] = HalfFloat.bfloat16(s[j]) }
        }
    }
    return UnsafePointer(bits)
}

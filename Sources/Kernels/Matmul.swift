import CBLAS

/// out (rows, outFeatures) = inp (rows, inFeatures) · weightᵀ + bias, with weight (outFeatures, inFeatures)
/// as PyTorch's `nn.Linear` stores it. `bias` may be nil.
public func linearForward(
    _ out: UnsafeMutablePointer<Float>,
    _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
    rows: Int, inFeatures: Int, outFeatures: Int
) {
    // Fixed row blocks (the same on any thread count), each a single-threaded GEMM.
    parallelBlocks(rows, minimumBlock: 64) { range in
        if let bias {
            // Seed every output row with the bias so sgemm can accumulate onto it (beta = 1).
            for r in range { (out + r * outFeatures).update(from: bias, count: outFeatures) }
        }
        sgemm(out + range.lowerBound * outFeatures, inp + range.lowerBound * inFeatures, weight,
              m: range.count, n: outFeatures, k: inFeatures, transA: false, transB: true, beta: bias == nil ? 0 : 1)
    }
}

/// C (m, n) = alpha · op(A) · op(B) + beta · C, all row-major and densely packed
/// unless leading dimensions are given. op(X) is X or Xᵀ.
@inline(__always)
public func sgemm(
    _ c: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
    m: Int, n: Int, k: Int, transA: Bool, transB: Bool,
    alpha: Float = 1, beta: Float = 0, lda: Int? = nil, ldb: Int? = nil, ldc: Int? = nil
) {
    let lda = lda ?? (transA ? m : k)
    let ldb = ldb ?? (transB ? k : n)
    let ldc = ldc ?? n
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
}

/// Backward of `linearForward`: out (rows, outFeatures) = inp (rows, inFeatures) · weightᵀ + bias,
/// weight (outFeatures, inFeatures) as `nn.Linear` stores it.
/// dout (rows, outFeatures); dinp (rows, inFeatures), dweight (outFeatures, inFeatures), dbias (outFeatures)
/// are ADDED into (sgemm with beta 1). `dinp` nil skips the input gradient, `dbias` nil a layer without bias.
public func linearBackward(
    _ dinp: UnsafeMutablePointer<Float>?, _ dweight: UnsafeMutablePointer<Float>, _ dbias: UnsafeMutablePointer<Float>?,
    _ dout: UnsafePointer<Float>, _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
    rows: Int, inFeatures: Int, outFeatures: Int
) {
    if rows == 0 { return }
    if let dinp {
        // out = inp · weightᵀ  →  dinp (rows, in) += dout (rows, out) · weight (out, in),
        // in fixed blocks as in the forward.
        parallelOutputBlocks(rows: rows, columns: inFeatures, minimumRows: 64, minimumColumns: 32) { _, r, i in
            sgemm(dinp + r.lowerBound * inFeatures + i.lowerBound, dout + r.lowerBound * outFeatures, weight + i.lowerBound,
                  m: r.count, n: i.count, k: outFeatures, transA: false, transB: false, beta: 1, ldb: inFeatures, ldc: inFeatures)
        }
    }
    // out = inp · weightᵀ  →  dweight (out, in) += doutᵀ (out, rows) · inp (rows, in): one GEMM over
    // all rows, in fixed blocks of dweight so every element has one owner.
    parallelOutputBlocks(rows: outFeatures, columns: inFeatures, minimumRows: 32, minimumColumns: 32) { _, o, i in
        sgemm(dweight + o.lowerBound * inFeatures + i.lowerBound, dout + o.lowerBound, inp + i.lowerBound,
              m: o.count, n: i.count, k: rows, transA: true, transB: false, beta: 1, lda: outFeatures, ldb: inFeatures, ldc: inFeatures)
    }
    // out = … + bias  →  dbias (out) += Σ_rows dout, each column summed by one owner in row order.
    if let dbias {
        parallelBlocks(outFeatures, minimumBlock: 32) { range in addColumnSums(dbias, dout, rows: rows, columns: range, stride: outFeatures) }
    }
}

/// sums[j] += Σ_r matrix[r, j] for j in `columns` of a (rows, stride) row-major matrix: a bias's
/// gradient, over the columns one block owns.
@inline(__always)
public func addColumnSums(_ sums: UnsafeMutablePointer<Float>, _ matrix: UnsafePointer<Float>, rows: Int, columns: Range<Int>, stride: Int) {
    for r in 0..<rows {
        let g = matrix + r * stride
        for j in columns { sums[j] += g[j] }
    }
}

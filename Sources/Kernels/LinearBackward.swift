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
        // out = inp · weightᵀ  →  dinp (rows, in) += dout (rows, out) · weight (out, in).
        // Fixed row blocks, as in the forward.
        parallelBlocks(rows, minimumBlock: 64) { range in
            sgemm(dinp + range.lowerBound * inFeatures, dout + range.lowerBound * outFeatures, weight,
                  m: range.count, n: inFeatures, k: outFeatures, transA: false, transB: false, beta: 1)
        }
    }
    // out = inp · weightᵀ  →  dweight (out, in) += doutᵀ (out, rows) · inp (rows, in): one GEMM over all rows,
    // in fixed blocks of dweight so every element has one owner.
    weightGradientBlocks(outFeatures: outFeatures, inFeatures: inFeatures) { _, o, i in
        sgemm(dweight + o.lowerBound * inFeatures + i.lowerBound, dout + o.lowerBound, inp + i.lowerBound,
              m: o.count, n: i.count, k: rows, transA: true, transB: false, beta: 1, lda: outFeatures, ldb: inFeatures, ldc: inFeatures)
    }
    // out = … + bias  →  dbias (out) += Σ_rows dout, each column summed by one owner in row order.
    if let dbias {
        parallelBlocks(outFeatures, minimumBlock: 32) { range in addColumnSums(dbias, dout, rows: rows, columns: range, stride: outFeatures) }
    }
}

/// A weight gradient (out, in) in fixed blocks (`parallelBlocks`: the same on any thread count) along
/// its wider side. Each block's product packs the whole of the other operand again, so this way what
/// is packed again is the narrower of the two (an FFN output layer's 1,536-wide input is not packed
/// eight times a step). `body` gets the block's index and its output and input features.
@inline(__always)
public func weightGradientBlocks(outFeatures: Int, inFeatures: Int,
                                 _ body: (_ block: Int, _ outputs: Range<Int>, _ inputs: Range<Int>) -> Void) {
    if inFeatures > outFeatures {
        parallelBlocks(inFeatures, minimumBlock: 32) { block, range in body(block, 0..<outFeatures, range) }
    } else {
        parallelBlocks(outFeatures, minimumBlock: 32) { block, range in body(block, range, 0..<inFeatures) }
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

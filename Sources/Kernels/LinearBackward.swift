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
    // split into fixed blocks of dweight so every element has one owner. Each block's GEMM packs
    // the whole of the other operand again, so the split runs along the wider side: then what is
    // packed again is the narrower of dout and inp (an FFN output layer's 1,536-wide input is not
    // packed eight times over).
    if WeightGradientSplit(inFeatures: inFeatures, outFeatures: outFeatures) == .inputs {
        parallelBlocks(inFeatures, minimumBlock: 32) { range in
            let i = range.lowerBound
            sgemm(dweight + i, dout, inp + i, m: outFeatures, n: range.count, k: rows,
                  transA: true, transB: false, beta: 1, lda: outFeatures, ldb: inFeatures, ldc: inFeatures)
        }
        // out = … + bias  →  dbias (out) += Σ_rows dout.
        if let dbias {
            parallelBlocks(outFeatures, minimumBlock: 32) { range in
                addColumnSums(dbias, dout, rows: rows, columns: range, stride: outFeatures)
            }
        }
    } else {
        parallelBlocks(outFeatures, minimumBlock: 32) { range in
            let o = range.lowerBound
            sgemm(dweight + o * inFeatures, dout + o, inp, m: range.count, n: inFeatures, k: rows,
                  transA: true, transB: false, beta: 1, lda: outFeatures)
            if let dbias { addColumnSums(dbias, dout, rows: rows, columns: range, stride: outFeatures) }
        }
    }
}

/// Which side of a weight gradient (out, in) its fixed blocks run along: the wider one, so that
/// what every block's product packs again (the whole of the other operand) is the narrower.
public enum WeightGradientSplit: Equatable {
    case inputs, outputs
    public init(inFeatures: Int, outFeatures: Int) { self = inFeatures > outFeatures ? .inputs : .outputs }
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

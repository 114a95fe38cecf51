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
    // split over output features (rows of dweight), so every element has one owner.
    // out = … + bias  →  dbias (out) += Σ_rows dout, the same split.
    parallelBlocks(outFeatures, minimumBlock: 32) { range in
        let o = range.lowerBound
        sgemm(dweight + o * inFeatures, dout + o, inp, m: range.count, n: inFeatures, k: rows,
              transA: true, transB: false, beta: 1, lda: outFeatures)
        if let dbias {
            for r in 0..<rows {
                let g = dout + r * outFeatures
                for j in range { dbias[j] += g[j] }
            }
        }
    }
}

/// out (rows, dim) = (inp - mean) · rstd · gamma + beta per row; mean, rstd (rows) saved for backward when given.
public func layerNormForward(
    _ out: UnsafeMutablePointer<Float>, _ mean: UnsafeMutablePointer<Float>?, _ rstd: UnsafeMutablePointer<Float>?,
    _ inp: UnsafePointer<Float>, _ gamma: UnsafePointer<Float>, _ beta: UnsafePointer<Float>,
    rows: Int, dim: Int, eps: Float
) {
    parallelFor(rows, minimumPerThread: 64) { range in
        for r in range {
            let x = inp + r * dim, y = out + r * dim
            let m = vectorSum(x, count: dim) / Float(dim)
            let variance = vectorSumOfSquares(x, minus: m, count: dim)
            let s = 1 / (variance / Float(dim) + eps).squareRoot()
            for i in 0..<dim { y[i] = (x[i] - m) * s * gamma[i] + beta[i] }
            mean?[r] = m
            rstd?[r] = s
        }
    }
}

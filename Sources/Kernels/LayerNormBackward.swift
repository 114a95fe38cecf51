/// Backward of `layerNormForward`: out = (inp - mean) · rstd · gamma + beta per row.
/// dout, inp (rows, dim); gamma (dim); mean, rstd (rows) as the forward saved them.
/// dinp (rows, dim), dgamma, dbeta (dim) are ADDED into.
public func layerNormBackward(
    _ dinp: UnsafeMutablePointer<Float>, _ dgamma: UnsafeMutablePointer<Float>, _ dbeta: UnsafeMutablePointer<Float>,
    _ dout: UnsafePointer<Float>, _ inp: UnsafePointer<Float>, _ gamma: UnsafePointer<Float>,
    _ mean: UnsafePointer<Float>, _ rstd: UnsafePointer<Float>,
    rows: Int, dim: Int
) {
    let n = Float(dim)
    // y[i] = x̂[i] · gamma[i] + beta[i] with x̂ = (x - mean) · rstd; with g = dy · gamma:
    // dx[i] += rstd · (g[i] - mean(g) - x̂[i] · mean(g · x̂))
    parallelFor(rows, minimumPerThread: 64) { range in
        for r in range {
            let x = inp + r * dim, dy = dout + r * dim, dx = dinp + r * dim
            let m = mean[r], s = rstd[r]
            var sumG: Float = 0, sumGX: Float = 0
            for i in 0..<dim {
                let g = dy[i] * gamma[i]
                sumG += g
                sumGX += g * (x[i] - m) * s
            }
            let meanG = sumG / n, meanGX = sumGX / n
            for i in 0..<dim {
                dx[i] += s * (dy[i] * gamma[i] - meanG - (x[i] - m) * s * meanGX)
            }
        }
    }
    // y = x̂ · gamma + beta  →  dgamma += Σ_rows dy · x̂, dbeta += Σ_rows dy.
    // Split over columns: each sum has one owner and runs in row order (deterministic, no races).
    parallelFor(dim, minimumPerThread: 64) { range in
        for r in 0..<rows {
            let x = inp + r * dim, dy = dout + r * dim, m = mean[r], s = rstd[r]
            for i in range {
                dgamma[i] += dy[i] * (x[i] - m) * s
                dbeta[i] += dy[i]
            }
        }
    }
}

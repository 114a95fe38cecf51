/// out (n) = 0.5 · x · (1 + erf(x / √2)) — the exact GELU of BERT's "gelu" (not the tanh approximation).
public func geluForward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, count: Int) {
    parallelFor(count, minimumPerThread: 1 << 14) { range in
        for i in range {
            let x = inp[i]
            out[i] = 0.5 * x * (1 + fastErf(x * 0.70710678118654752))
        }
    }
}

/// dinp (n) += dout · gelu'(x), gelu'(x) = 0.5 · (1 + erf(x/√2)) + x · φ(x), φ the standard normal density
/// (φ(x) = e^(-(x/√2)²)/√(2π): the exponential erf's formula computes).
public func geluBackward(_ dinp: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ dout: UnsafePointer<Float>, count: Int) {
    parallelFor(count, minimumPerThread: 1 << 14) { range in
        for i in range {
            let x = inp[i]
            let (erf, gaussian) = fastErfAndGaussian(x * 0.70710678118654752)
            let cdf = 0.5 * (1 + erf)
            let pdf = 0.39894228040143268 * gaussian
            dinp[i] += dout[i] * (cdf + x * pdf)
        }
    }
}

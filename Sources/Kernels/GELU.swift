/// out (n) = 0.5 · x · (1 + erf(x / √2)) — the exact GELU of BERT's "gelu" (not the tanh approximation).
public func geluForward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, count: Int) {
    parallelFor(count, minimumPerThread: 1 << 14) { range in
        for i in range {
            let x = inp[i]
            out[i] = 0.5 * x * (1 + fastErf(x * 0.70710678118654752))
        }
    }
}

/// dinp (n) += dout · gelu'(x), gelu'(x) = 0.5 · (1 + erf(x/√2)) + x · φ(x), φ the standard normal density.
public func geluBackward(_ dinp: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ dout: UnsafePointer<Float>, count: Int) {
    parallelFor(count, minimumPerThread: 1 << 14) { range in
        for i in range {
            let x = inp[i]
            let cdf = 0.5 * (1 + fastErf(x * 0.70710678118654752))
            let pdf = 0.39894228040143268 * fastExp(-0.5 * x * x)
            dinp[i] += dout[i] * (cdf + x * pdf)
        }
    }
}

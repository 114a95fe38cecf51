/// Inverted dropout (Srivastava et al. 2014, as PyTorch's `nn.Dropout` in training mode):
/// out (n) = inp ⊙ keep with keep (n) = 0 with probability p, else 1 / (1 - p); keep is saved for backward.
/// `out` may be `inp` (in place).
/// Randomness: block k of `dropoutBlock` elements draws from SeededGenerator(seed: seed, stream: k),
/// so a seed gives the same mask whatever the number of threads.
public func dropoutForward(
    _ out: UnsafeMutablePointer<Float>, _ keep: UnsafeMutablePointer<Float>,
    _ inp: UnsafePointer<Float>,
    probability: Float, seed: UInt64, count: Int
) {
    precondition(probability >= 0 && probability < 1, "dropout probability \(probability) outside [0, 1)")
    let blocks = (count + dropoutBlock - 1) / dropoutBlock
    parallelFor(blocks, minimumPerThread: 4) { range in
        for block in range {
            let start = block * dropoutBlock, n = min(dropoutBlock, count - start)
            var generator = SeededGenerator(seed: seed, stream: UInt64(block))
            dropoutMask(keep + start, count: n, probability: probability, &generator)
            for i in start..<(start + n) { out[i] = inp[i] * keep[i] }
        }
    }
}

/// Backward of `dropoutForward`: out = inp ⊙ keep  →  dinp (n) += dout ⊙ keep.
public func dropoutBackward(
    _ dinp: UnsafeMutablePointer<Float>,
    _ dout: UnsafePointer<Float>, _ keep: UnsafePointer<Float>,
    count: Int
) {
    parallelFor(count, minimumPerThread: 1 << 15) { range in
        for i in range { dinp[i] += dout[i] * keep[i] }
    }
}

let dropoutBlock = 4096

/// keep (n) = 0 with probability p (a 24-bit uniform below p), else 1 / (1 - p).
/// Optimised for size: compiled for AVX2, LLVM packs the generator's four state words into one
/// vector register and shuffles them on every draw, 3× slower than the scalar loop this keeps.
@_optimize(size)
func dropoutMask(_ keep: UnsafeMutablePointer<Float>, count: Int, probability: Float, _ generator: inout SeededGenerator) {
    let threshold = UInt64((Double(probability) * 16_777_216).rounded())
    let scale = 1 / (1 - probability)
    for i in 0..<count { keep[i] = generator.next() >> 40 < threshold ? 0 : scale }
}

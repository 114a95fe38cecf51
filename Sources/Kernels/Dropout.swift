/// Inverted dropout (Srivastava et al. 2014, as PyTorch's `nn.Dropout` in training mode):
/// out (n) = inp ⊙ keep with keep (n) = 0 with probability p, else 1 / (1 - p); keep is saved for backward.
/// `out` may be `inp` (in place).
/// Randomness: block k of `dropoutBlock` elements is stream k of `seed` (`dropoutMask`), so a seed
/// gives the same mask whatever the number of threads.
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
            dropoutMask(keep + start, count: n, probability: probability, seed: seed, stream: UInt64(block))
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

/// keep (n) = 0 with probability p, else 1 / (1 - p): element i is dropped when the top 24 bits of
/// a hash of (seed, stream, i) fall below p·2²⁴. A counter-based generator (as Salmon et al. 2011,
/// "Parallel random numbers: as easy as 1, 2, 3"): no element's draw depends on another's, so the
/// loop runs eight lanes wide; a sequential generator (xoshiro, one draw after another) took 3.5 %
/// of a training step. The hash is two keyed rounds of Wellons's 32-bit "lowbias32" mix, a
/// bijection of the counter in each round; `BackwardTests` checks the drop rate, pairs of
/// neighbours and of streams.
@inline(__always)
func dropoutMask(_ keep: UnsafeMutablePointer<Float>, count: Int, probability: Float, seed: UInt64, stream: UInt64) {
    precondition(count <= Int(UInt32.max), "a dropout stream holds at most 2³² elements")
    let key = splitMix64(streamKey(seed: seed, stream: stream))
    let k0 = UInt32(truncatingIfNeeded: key), k1 = UInt32(truncatingIfNeeded: key >> 32)
    let threshold = UInt32((Double(probability) * 16_777_216).rounded())
    let scale = 1 / (1 - probability)
    for i in 0..<count {
        let h = lowBias32(lowBias32(UInt32(truncatingIfNeeded: i) ^ k0) ^ k1)
        keep[i] = h >> 8 < threshold ? 0 : scale
    }
}

@inline(__always)
func lowBias32(_ value: UInt32) -> UInt32 {
    var x = value
    x ^= x >> 16
    x &*= 0x7FEB_352D
    x ^= x >> 15
    x &*= 0x846C_A68B
    x ^= x >> 16
    return x
}

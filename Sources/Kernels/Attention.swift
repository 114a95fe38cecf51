/// Multi-head self-attention on fused projections.
/// qkv (B, T, 3C): per token [q | k | v], heads are contiguous d = C/H slices of each.
/// mask (B, T): 1 for real tokens, 0 for padding; padded keys get probability exactly 0
/// (as Hugging Face's additive finfo.min mask gives after the softmax).
/// probs (B, H, T, T) softmax(q kᵀ / √d) per head; ctx (B, T, C) = probs · v, heads concatenated.
public func attentionForward(
    _ ctx: UnsafeMutablePointer<Float>, _ probs: UnsafeMutablePointer<Float>,
    _ qkv: UnsafePointer<Float>, _ mask: UnsafePointer<Int32>,
    batch: Int, seq: Int, hidden: Int, heads: Int
) {
    let d = hidden / heads, stride3 = 3 * hidden
    let scale = 1 / Float(d).squareRoot()
    parallelFor(batch * heads) { range in
        for bh in range {
            let b = bh / heads, h = bh % heads
            let q = qkv + b * seq * stride3 + h * d
            let k = q + hidden, v = q + 2 * hidden
            let p = probs + bh * seq * seq
            // scores (T, T) = scale · q (T, d) · kᵀ (d, T)
            sgemm(p, q, k, m: seq, n: seq, k: d, transA: false, transB: true,
                  alpha: scale, lda: stride3, ldb: stride3, ldc: seq)
            let m = mask + b * seq
            for t in 0..<seq { softmaxRowMasked(p + t * seq, m, count: seq) }
            // ctx (T, d) = probs (T, T) · v (T, d)
            sgemm(ctx + b * seq * hidden + h * d, p, v, m: seq, n: d, k: seq, transA: false, transB: false,
                  lda: seq, ldb: stride3, ldc: hidden)
        }
    }
}

/// In place: row = softmax(row) over entries whose mask is non-zero; masked entries become 0.
/// Masking, the maximum, the exponentials and the sum are separate vectorised loops (masked entries
/// are set to -∞ first, so the maximum is over the real keys).
@inline(__always)
func softmaxRowMasked(_ row: UnsafeMutablePointer<Float>, _ mask: UnsafePointer<Int32>, count: Int) {
    for j in 0..<count { row[j] = mask[j] != 0 ? row[j] : -.infinity }
    let maxValue = vectorMax(row, count: count)
    for j in 0..<count {
        let e = fastExp(row[j] - maxValue)
        row[j] = mask[j] != 0 ? e : 0
    }
    let sum = vectorSum(row, count: count)
    let inv = sum > 0 ? 1 / sum : 0
    for j in 0..<count { row[j] *= inv }
}

/// Dropout of the attention probabilities (training; as Hugging Face's BertSelfAttention: after the
/// softmax, before the product with v). Head (b, h) keeps element i when stream b·H + h of `seed`
/// says so (`dropoutMask`): the mask depends on nothing else, so the backward draws it again rather
/// than keeping (B, H, T, T) of it from the forward.
public struct AttentionDropout: Sendable {
    public var probability: Float, seed: UInt64
    public init(probability: Float, seed: UInt64) {
        precondition(probability >= 0 && probability < 1, "dropout probability \(probability) outside [0, 1)")
        self.probability = probability; self.seed = seed
    }

    /// keep (T·T) of head `bh`: 0 where dropped, else 1 / (1 - p).
    @inline(__always)
    public func mask(_ keep: UnsafeMutablePointer<Float>, head bh: Int, count: Int) {
        dropoutMask(keep, count: count, probability: probability, seed: seed, stream: UInt64(bh))
    }
}

/// `attentionForward` with inverted dropout on the attention probabilities, for training.
/// qkv (B, T, 3C) fused [q | k | v]; mask (B, T) 1 = real token;
/// probs (B, H, T, T) the softmax, kept BEFORE dropout (distillation losses read them);
/// ctx (B, T, C) = (probs ⊙ keep) · v, keep = 0 with probability p, else 1 / (1 - p) (`AttentionDropout`).
/// Each worker stages one head's mask and dropped probabilities in scratch of its own.
public func attentionForward(
    _ ctx: UnsafeMutablePointer<Float>, _ probs: UnsafeMutablePointer<Float>,
    _ qkv: UnsafePointer<Float>, _ mask: UnsafePointer<Int32>, dropout: AttentionDropout,
    batch: Int, seq: Int, hidden: Int, heads: Int
) {
    let d = hidden / heads, stride3 = 3 * hidden, tt = seq * seq
    let scale = 1 / Float(d).squareRoot()
    parallelFor(batch * heads) { range in
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * tt)
        defer { scratch.deallocate() }
        let kp = scratch, dp = scratch + tt
        for bh in range {
            let b = bh / heads, h = bh % heads
            let q = qkv + b * seq * stride3 + h * d
            let k = q + hidden, v = q + 2 * hidden
            let p = probs + bh * tt
            // scores (T, T) = scale · q (T, d) · kᵀ (d, T), then the masked softmax per row
            sgemm(p, q, k, m: seq, n: seq, k: d, transA: false, transB: true,
                  alpha: scale, lda: stride3, ldb: stride3, ldc: seq)
            let m = mask + b * seq
            for t in 0..<seq { softmaxRowMasked(p + t * seq, m, count: seq) }
            // dropped = probs ⊙ keep
            dropout.mask(kp, head: bh, count: tt)
            for i in 0..<tt { dp[i] = p[i] * kp[i] }
            // ctx (T, d) = dropped (T, T) · v (T, d)
            sgemm(ctx + b * seq * hidden + h * d, dp, v, m: seq, n: d, k: seq, transA: false, transB: false,
                  lda: seq, ldb: stride3, ldc: hidden)
        }
    }
}

/// Backward of `attentionForward` (either form).
/// dctx (B, T, C); qkv (B, T, 3C) and probs (B, H, T, T) as the forward saved them; `dropout` the
/// forward's (its masks drawn again), nil when the forward ran without dropout.
/// dprobs (B, H, T, T) holds on entry a gradient w.r.t. the (undropped) probabilities from outside,
/// e.g. a distillation loss on attention maps, or zeros; the part that flows from ctx is ADDED, so on
/// return it holds the total gradient w.r.t. probs.
/// dscores (B, H, T, T) scratch, overwritten. dqkv (B, T, 3C) is ADDED into, fused [dq | dk | dv].
/// No mask is needed: masked keys have probability exactly 0, so the softmax backward gives them 0.
public func attentionBackward(
    _ dqkv: UnsafeMutablePointer<Float>, _ dprobs: UnsafeMutablePointer<Float>, _ dscores: UnsafeMutablePointer<Float>,
    _ dctx: UnsafePointer<Float>, _ qkv: UnsafePointer<Float>, _ probs: UnsafePointer<Float>, dropout: AttentionDropout?,
    batch: Int, seq: Int, hidden: Int, heads: Int
) {
    let d = hidden / heads, stride3 = 3 * hidden, tt = seq * seq
    let scale = 1 / Float(d).squareRoot()
    parallelFor(batch * heads) { range in
        let kp = UnsafeMutablePointer<Float>.allocate(capacity: dropout == nil ? 1 : tt)
        defer { kp.deallocate() }
        for bh in range {
            let b = bh / heads, h = bh % heads
            let q = qkv + b * seq * stride3 + h * d, k = q + hidden, v = q + 2 * hidden
            let dq = dqkv + b * seq * stride3 + h * d, dk = dq + hidden, dv = dq + 2 * hidden
            let p = probs + bh * tt, dp = dprobs + bh * tt, ds = dscores + bh * tt
            let dc = dctx + b * seq * hidden + h * d
            if let dropout {
                dropout.mask(kp, head: bh, count: tt)
                // ctx = dropped · v  →  dv (T, d) += droppedᵀ (T, T) · dctx (T, d), dropped = probs ⊙ keep staged in ds
                for i in 0..<tt { ds[i] = p[i] * kp[i] }
                sgemm(dv, ds, dc, m: seq, n: d, k: seq, transA: true, transB: false, beta: 1,
                      lda: seq, ldb: hidden, ldc: stride3)
                // ctx = dropped · v  →  ddropped (T, T) = dctx (T, d) · vᵀ (d, T);  dropped = probs ⊙ keep  →  dprobs += ddropped ⊙ keep
                sgemm(ds, dc, v, m: seq, n: seq, k: d, transA: false, transB: true,
                      lda: hidden, ldb: stride3, ldc: seq)
                for i in 0..<tt { dp[i] += ds[i] * kp[i] }
            } else {
                // ctx = probs · v  →  dv (T, d) += probsᵀ (T, T) · dctx (T, d)
                sgemm(dv, p, dc, m: seq, n: d, k: seq, transA: true, transB: false, beta: 1,
                      lda: seq, ldb: hidden, ldc: stride3)
                // ctx = probs · v  →  dprobs (T, T) += dctx (T, d) · vᵀ (d, T)
                sgemm(dp, dc, v, m: seq, n: seq, k: d, transA: false, transB: true, beta: 1,
                      lda: hidden, ldb: stride3, ldc: seq)
            }
            // probs = softmax(scores) per row  →  dscores[i, j] = p[i, j] · (dprobs[i, j] - Σ_k p[i, k] · dprobs[i, k])
            for t in 0..<seq {
                let pr = p + t * seq, dpr = dp + t * seq, dsr = ds + t * seq
                var dot: Float = 0
                for j in 0..<seq { dot += pr[j] * dpr[j] }
                for j in 0..<seq { dsr[j] = pr[j] * (dpr[j] - dot) }
            }
            // scores = scale · q · kᵀ  →  dq (T, d) += scale · dscores (T, T) · k (T, d)
            sgemm(dq, ds, k, m: seq, n: d, k: seq, transA: false, transB: false, alpha: scale, beta: 1,
                  lda: seq, ldb: stride3, ldc: stride3)
            // scores = scale · q · kᵀ  →  dk (T, d) += scale · dscoresᵀ (T, T) · q (T, d)
            sgemm(dk, ds, q, m: seq, n: d, k: seq, transA: true, transB: false, alpha: scale, beta: 1,
                  lda: seq, ldb: stride3, ldc: stride3)
        }
    }
}

import Foundation
import Kernels

// Attention objectives for one student:teacher layer pair, equal head counts (definitions.md §8, §10).
// Only real (query, key) pairs count; padded rows and columns get no gradient.

/// Attention-probability KL (Wang et al. 2020, "MiniLM: Deep Self-Attention Distillation for Task-Agnostic
/// Compression of Pre-Trained Transformers"; definitions.md §8), teacher ‖ student, with the student's
/// probabilities clamped below at 1e-7 before the log, as in the public code:
///
///     loss = (1/(H·N)) Σ_b Σ_h Σ_{real i} Σ_{real j} t_ij (log t_ij − log max(s_ij, 1e-7))
///     ∂loss/∂s_ij = −t_ij / (s_ij · H·N) where s_ij ≥ 1e-7, 0 where the clamp is active
///
/// (0 · log 0 = 0.) The gradient is w.r.t. the student's probabilities; the trainer backpropagates it through its
/// softmax. student s, teacher t (batch, heads, seq, seq) probabilities; mask (batch, seq), 1 = real, a prefix;
/// gradient (batch, heads, seq, seq) or nil.
@discardableResult
public func attentionKLLoss(
    gradient: UnsafeMutablePointer<Float>?, weight: Float,
    student: UnsafePointer<Float>, teacher: UnsafePointer<Float>, mask: UnsafePointer<Int32>,
    batch: Int, seq: Int, heads: Int
) -> Double {
    precondition(batch >= 0 && seq >= 0 && heads > 0, "attentionKLLoss: batch \(batch), seq \(seq), heads \(heads)")
    let tokens = realTokenCount(mask, batch: batch, seq: seq)
    guard tokens > 0 else { return 0 }
    let rowCount = Double(heads) * Double(tokens)
    let c = Double(weight) / rowCount
    let clamp: Float = 1e-7, cf = Float(c)
    let total = sumOfPartials(batch * heads) { partials in
        parallelFor(batch * heads) { range in
            for bh in range {
                let n = realLength(mask + (bh / heads) * seq, seq: seq)
                var sum = 0.0
                withUnsafeTemporaryAllocation(of: Float.self, capacity: max(n, 1)) { terms in
                    let terms = terms.baseAddress!
                    for i in 0..<n {
                        let s = student + (bh * seq + i) * seq, t = teacher + (bh * seq + i) * seq
                        // t · ln(t / s) per key in Float (one vectorised log of the ratio, within a
                        // few ulp), the row's sum in Double; teacher values below 1e-30 count as 0.
                        for j in 0..<n {
                            let tj = t[j]
                            terms[j] = tj > 1e-30 ? tj * fastLog(max(tj, 1e-30) / max(s[j], clamp)) : 0
                        }
                        sum += Double(vectorSum(terms, count: n))
                        if let g = gradient.map({ $0 + (bh * seq + i) * seq }) {
                            for j in 0..<n { g[j] -= s[j] >= clamp ? cf * t[j] / s[j] : 0 }
                        }
                    }
                }
                partials[bh] = sum
            }
        }
    }
    return total / rowCount
}

/// Attention-score MSE (Jiao et al. 2020, "TinyBERT"; definitions.md §10) on the pre-softmax scaled scores of
/// each head, S_h = Q_h K_hᵀ/√d with d = width/heads on each side, over real (query, key) pairs only:
///
///     loss = (1/(H · Σ_b n_b²)) Σ_b Σ_h Σ_{real i,j} (S_s − S_t)²_ij
///     G = 2 (S_s − S_t) / (H · Σ_b n_b²);  ∂loss/∂Q_s,h = G K_s,h / √d_s,  ∂loss/∂K_s,h = Gᵀ Q_s,h / √d_s
///
/// Q and K are read inside fused projections: `student` points at the query of token (0, 0), each token's key
/// follows its query at +studentWidth, and token (b, t) starts at (b·seq + t)·studentStride; for the fused
/// (B, T, 3C) [q|k|v] layout pass the buffer itself, stride 3C, width C. The same for the teacher (its own width
/// and stride). gradient has the student's layout (dQ at +0, dK at +studentWidth, stride studentStride) or nil.
/// mask (batch, seq), 1 = real, a prefix of each row.
@discardableResult
public func attentionScoreMSELoss(
    gradient: UnsafeMutablePointer<Float>?, weight: Float,
    student: UnsafePointer<Float>, studentStride: Int, studentWidth: Int,
    teacher: UnsafePointer<Float>, teacherStride: Int, teacherWidth: Int,
    mask: UnsafePointer<Int32>,
    batch: Int, seq: Int, heads: Int
) -> Double {
    precondition(heads > 0 && studentWidth % heads == 0 && teacherWidth % heads == 0,
                 "attentionScoreMSELoss: \(heads) heads must divide the widths \(studentWidth) and \(teacherWidth)")
    precondition(studentStride >= 2 * studentWidth && teacherStride >= 2 * teacherWidth,
                 "attentionScoreMSELoss: strides \(studentStride), \(teacherStride) cannot hold q and k")
    var pairs = 0
    for b in 0..<batch { let n = realLength(mask + b * seq, seq: seq); pairs += n * n }
    guard pairs > 0 else { return 0 }
    let count = Double(heads) * Double(pairs)
    let ds = studentWidth / heads, dt = teacherWidth / heads
    let alphaS = 1 / Float(ds).squareRoot(), alphaT = 1 / Float(dt).squareRoot()
    let c = 2 * Double(weight) / count
    let total = sumOfPartials(batch * heads) { partials in
        parallelFor(batch * heads) { range in
            withScratch(2 * seq * seq) { scratch in
                for bh in range {
                    let b = bh / heads, h = bh % heads
                    let n = realLength(mask + b * seq, seq: seq)
                    guard n > 0 else { continue }
                    let qs = student + b * seq * studentStride + h * ds, ks = qs + studentWidth
                    let qt = teacher + b * seq * teacherStride + h * dt, kt = qt + teacherWidth
                    let ss = scratch, st = scratch + n * n  // (n, n) each, packed
                    // S_s (n, n) = Q_s,h K_s,hᵀ / √d_s; S_t likewise
                    sgemm(ss, qs, ks, m: n, n: n, k: ds, transA: false, transB: true, alpha: alphaS,
                          lda: studentStride, ldb: studentStride, ldc: n)
                    sgemm(st, qt, kt, m: n, n: n, k: dt, transA: false, transB: true, alpha: alphaT,
                          lda: teacherStride, ldb: teacherStride, ldc: n)
                    var sum = 0.0
                    for i in 0..<(n * n) {
                        let diff = Double(ss[i]) - Double(st[i])
                        sum += diff * diff
                    }
                    partials[bh] = sum
                    guard let gradient else { continue }
                    // G' = 2c/√d_s · (S_s − S_t) in place of S_s
                    let a = Float(c) * alphaS
                    for i in 0..<(n * n) { ss[i] = a * (ss[i] - st[i]) }
                    let dq = gradient + b * seq * studentStride + h * ds, dk = dq + studentWidth
                    // dQ_h (n, d) += G' (n, n) · K_h (n, d);  dK_h (n, d) += G'ᵀ (n, n) · Q_h (n, d)
                    sgemm(dq, ss, ks, m: n, n: ds, k: n, transA: false, transB: false, beta: 1,
                          lda: n, ldb: studentStride, ldc: studentStride)
                    sgemm(dk, ss, qs, m: n, n: ds, k: n, transA: true, transB: false, beta: 1,
                          lda: n, ldb: studentStride, ldc: studentStride)
                }
            }
        }
    }
    return total / count
}

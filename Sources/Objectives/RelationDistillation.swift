import Foundation
import Kernels

// Self-attention relation objectives (definitions.md §9): MiniLM v1's value relation and MiniLM v2's
// Q-Q / K-K / V-V relations, all one generic relation KL on a strided projection X.

/// Relation KL (Wang et al. 2020, "MiniLM", value relation; Wang et al. 2021, "MiniLMv2: Multi-Head Self-Attention
/// Relation Distillation for Compressing Pretrained Transformers"; definitions.md §9). X (batch, seq, width) is one
/// projection (Q, K or V, heads concatenated), split into A_r relation heads of width d_r = width/A_r, each side
/// with its own width:
///
///     R_h = softmax over real keys of X_h X_hᵀ/√d_r     (per real query row)
///     loss = (1/(A_r·N)) Σ_b Σ_h Σ_{real i} KL(R_t,h[i] ‖ R_s,h[i])      (student via log-softmax, no clamp)
///     G_h = (R_s,h − R_t,h) / (A_r·N)  (∂loss/∂scores);  ∂loss/∂X_s,h = (G_h + G_hᵀ) X_s,h / √d_r
///
/// Strided: token (b, t) of X starts at (b·seq + t)·stride, so a pointer into the fused (B, T, 3C) [q|k|v]
/// buffer with stride 3C reads one projection in place. gradient has the student's layout (same stride) or nil;
/// head h of batch row b only touches its own columns of its own rows, so the (b, h) work items are independent.
/// mask (batch, seq), 1 = real, a prefix of each row. relationHeads must divide both widths.
@discardableResult
public func relationKLLoss(
    gradient: UnsafeMutablePointer<Float>?, weight: Float,
    student: UnsafePointer<Float>, studentStride: Int, studentWidth: Int,
    teacher: UnsafePointer<Float>, teacherStride: Int, teacherWidth: Int,
    mask: UnsafePointer<Int32>,
    batch: Int, seq: Int, relationHeads: Int
) -> Double {
    let heads = relationHeads
    precondition(heads > 0 && studentWidth % heads == 0 && teacherWidth % heads == 0,
                 "relationKLLoss: \(heads) relation heads must divide the widths \(studentWidth) and \(teacherWidth)")
    precondition(studentStride >= studentWidth && teacherStride >= teacherWidth,
                 "relationKLLoss: strides \(studentStride), \(teacherStride) shorter than widths")
    let tokens = realTokenCount(mask, batch: batch, seq: seq)
    guard tokens > 0 else { return 0 }
    let rowCount = Double(heads) * Double(tokens)
    let c = Double(weight) / rowCount
    let ds = studentWidth / heads, dt = teacherWidth / heads
    let alphaS = 1 / Float(ds).squareRoot(), alphaT = 1 / Float(dt).squareRoot()
    let total = sumOfPartials(batch * heads) { partials in
        parallelFor(batch * heads) { range in
            withScratch(2 * seq * seq + 2 * seq) { scratch in
                for bh in range {
                    let b = bh / heads, h = bh % heads
                    let n = realLength(mask + b * seq, seq: seq)
                    guard n > 0 else { continue }
                    let xs = student + b * seq * studentStride + h * ds
                    let xt = teacher + b * seq * teacherStride + h * dt
                    let ss = scratch, st = scratch + n * n  // scores (n, n) each, packed
                    let es = scratch + 2 * seq * seq, et = es + seq  // one row of exps each
                    // scores (n, n) = X_h (n, d) · X_hᵀ (d, n) / √d, each side
                    sgemm(ss, xs, xs, m: n, n: n, k: ds, transA: false, transB: true, alpha: alphaS,
                          lda: studentStride, ldb: studentStride, ldc: n)
                    sgemm(st, xt, xt, m: n, n: n, k: dt, transA: false, transB: true, alpha: alphaT,
                          lda: teacherStride, ldb: teacherStride, ldc: n)
                    var sum = 0.0
                    for i in 0..<n {
                        let s = ss + i * n, t = st + i * n
                        let (ms, sumS) = softmaxExps(es, s, inverseTemperature: 1, count: n)
                        let (mt, sumT) = softmaxExps(et, t, inverseTemperature: 1, count: n)
                        // KL(R_t[i] ‖ R_s[i]) = Σ_j r_t,j (S_t,j − S_s,j) − logsumexp(S_t) + logsumexp(S_s)
                        sum += weightedDifferenceSum(et, t, s, count: n) / sumT - (Double(mt) + log(sumT)) + (Double(ms) + log(sumS))
                        // G row i = c · (R_s[i] − R_t[i]), in place of the student scores (no longer needed)
                        if gradient != nil {
                            let a = Float(c / sumS), bt = Float(c / sumT)
                            for j in 0..<n { s[j] = a * es[j] - bt * et[j] }
                        }
                    }
                    partials[bh] = sum
                    guard let gradient else { continue }
                    // scores = α X Xᵀ  ⇒  dX (n, d) += α G (n, n) · X (n, d) + α Gᵀ · X
                    let dx = gradient + b * seq * studentStride + h * ds
                    sgemm(dx, ss, xs, m: n, n: ds, k: n, transA: false, transB: false, alpha: alphaS, beta: 1,
                          lda: n, ldb: studentStride, ldc: studentStride)
                    sgemm(dx, ss, xs, m: n, n: ds, k: n, transA: true, transB: false, alpha: alphaS, beta: 1,
                          lda: n, ldb: studentStride, ldc: studentStride)
                }
            }
        }
    }
    return total / rowCount
}

/// MiniLM v2 self-attention relation loss for one layer pair (Wang et al. 2021, "MiniLMv2"; definitions.md §9):
///
///     loss = KL_QQ + KL_KK + KL_VV     (each a `relationKLLoss` with A_r relation heads)
///
/// studentQKV (batch, seq, 3·studentHidden) and teacherQKV (batch, seq, 3·teacherHidden), per token [q|k|v];
/// gradient (batch, seq, 3·studentHidden) or nil, receiving dQ, dK and dV. relationHeads (A_r) must divide both
/// hidden sizes: 12 by default for small models, 48 in public code for base-size teachers.
@discardableResult
public func miniLMv2RelationLoss(
    gradient: UnsafeMutablePointer<Float>?, weight: Float,
    studentQKV: UnsafePointer<Float>, teacherQKV: UnsafePointer<Float>, mask: UnsafePointer<Int32>,
    batch: Int, seq: Int, studentHidden: Int, teacherHidden: Int, relationHeads: Int
) -> Double {
    var total = 0.0
    for part in 0..<3 {  // Q-Q, K-K, V-V
        total += relationKLLoss(
            gradient: gradient.map { $0 + part * studentHidden }, weight: weight,
            student: studentQKV + part * studentHidden, studentStride: 3 * studentHidden, studentWidth: studentHidden,
            teacher: teacherQKV + part * teacherHidden, teacherStride: 3 * teacherHidden, teacherWidth: teacherHidden,
            mask: mask, batch: batch, seq: seq, relationHeads: relationHeads)
    }
    return total
}

/// MiniLM v1 value-relation loss for one layer pair (Wang et al. 2020, "MiniLM"; definitions.md §9):
/// KL_VV of `relationKLLoss` with A_r = the attention heads (equal on both sides), VR = softmax(V_h V_hᵀ/√d).
///
/// studentQKV (batch, seq, 3·studentHidden), teacherQKV (batch, seq, 3·teacherHidden), per token [q|k|v];
/// gradient (batch, seq, 3·studentHidden) or nil, receiving dV only.
@discardableResult
public func valueRelationLoss(
    gradient: UnsafeMutablePointer<Float>?, weight: Float,
    studentQKV: UnsafePointer<Float>, teacherQKV: UnsafePointer<Float>, mask: UnsafePointer<Int32>,
    batch: Int, seq: Int, studentHidden: Int, teacherHidden: Int, heads: Int
) -> Double {
    relationKLLoss(
        gradient: gradient.map { $0 + 2 * studentHidden }, weight: weight,
        student: studentQKV + 2 * studentHidden, studentStride: 3 * studentHidden, studentWidth: studentHidden,
        teacher: teacherQKV + 2 * teacherHidden, teacherStride: 3 * teacherHidden, teacherWidth: teacherHidden,
        mask: mask, batch: batch, seq: seq, relationHeads: heads)
}

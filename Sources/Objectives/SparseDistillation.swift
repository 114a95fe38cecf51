import Foundation
import Kernels

// KD from the sparse teacher distributions the cache stores instead of full logits (definitions.md §4–5):
// top-k log-probabilities (renormalised or with a ghost token for the tail mass) and sampled ids with counts.
// The student always gives full logits (rows, vocab); only it is differentiated.

/// Top-k KD, renormalised (definitions.md §4): both distributions restricted to the teacher's k ids.
///
///     t = softmax_i(lp_i/τ), p = softmax_i(z_s[id_i]/τ)      (i over the row's k ids)
///     loss = s · (1/rows) Σ_r Σ_i t_i (log t_i − log p_i)
///     ∂loss/∂z_s[id_i] = s/(τ·rows) · (p_i − t_i), 0 elsewhere
///
/// s = τ² when `scaleByTemperatureSquared`, else 1. Biased: the student learns the up-scaled targets t_i/Σ_k t
/// (Anshumann et al. 2025, "Sparse Logit Sampling", on top-k's poor calibration). lp_i are the cache's
/// log-probabilities over the full vocabulary at temperature 1.
///
/// student (rows, vocab); teacherIds, teacherLogProbs (rows, k), ids in 0..<vocab (distinct, as the cache
/// writes them); gradient (rows, vocab) or nil.
@discardableResult
public func topKRenormalisedKDLoss(
    gradient: UnsafeMutablePointer<Float>?, weight: Float,
    student: UnsafePointer<Float>, teacherIds: UnsafePointer<Int32>, teacherLogProbs: UnsafePointer<Float>,
    temperature: Float, scaleByTemperatureSquared: Bool = true,
    rows: Int, k: Int, vocab: Int
) -> Double {
    precondition(temperature > 0 && temperature.isFinite, "topKRenormalisedKDLoss: temperature must be positive, got \(temperature)")
    precondition(rows >= 0 && k > 0 && vocab > 0, "topKRenormalisedKDLoss: \(rows) rows, k \(k), vocab \(vocab)")
    guard rows > 0 else { return 0 }
    let tau = Double(temperature)
    let scale = scaleByTemperatureSquared ? tau * tau : 1
    let c = Double(weight) * scale / (tau * Double(rows))
    let total = sumOfPartials(rows) { partials in
        parallelFor(rows, minimumPerThread: max(1, 4096 / k)) { range in
            for r in range {
                let ids = teacherIds + r * k, lp = teacherLogProbs + r * k, zs = student + r * vocab
                @inline(__always) func id(_ i: Int) -> Int {
                    let v = Int(ids[i])
                    precondition(v >= 0 && v < vocab, "topKRenormalisedKDLoss: id \(v) in row \(r) is outside 0..<\(vocab)")
                    return v
                }
                @inline(__always) func a(_ i: Int) -> Double { Double(lp[i]) / tau }        // teacher, scaled
                @inline(__always) func b(_ i: Int) -> Double { Double(zs[id(i)]) / tau }    // student, scaled
                // log-normalisers over the k ids (exact exp: k is small)
                var ma = -Double.infinity, mb = -Double.infinity
                for i in 0..<k { ma = max(ma, a(i)); mb = max(mb, b(i)) }
                var sa = 0.0, sb = 0.0
                for i in 0..<k { sa += exp(a(i) - ma); sb += exp(b(i) - mb) }
                let lseA = ma + log(sa), lseB = mb + log(sb)
                var kl = 0.0
                for i in 0..<k {
                    let logT = a(i) - lseA, logP = b(i) - lseB, t = exp(logT)
                    if t > 0 { kl += t * (logT - logP) }  // 0 · log 0 = 0
                    gradient?[r * vocab + id(i)] += Float(c * (exp(logP) - t))
                }
                partials[r] = kl
            }
        }
    }
    return scale * total / Double(rows)
}

/// Top-k KD with a ghost token (definitions.md §4): the tail mass is one extra outcome on both sides, and the
/// student's probabilities are over the FULL vocabulary (temperature must be 1):
///
///     t_i = exp(lp_i), T = Σ_i t_i; p = softmax(z_s), P = Σ_i p_{id_i}
///     loss = (1/rows) Σ_r [ Σ_i t_i (log t_i − log p_{id_i}) + (1−T) (log(1−T) − log(1−P)) ]
///
/// with 1−T and 1−P clamped below at 1e-12 inside the logs (the 1−P term has no gradient where its clamp is
/// active). With γ = (1−T)/(1−P) (0 when clamped) the gradient per row, over all j, is
///
///     ∂loss/∂z_s,j = (1/rows) · ( p_j (T − γP) + [j ∈ ids] (γ p_j − t_j) )
///
/// which on the ids is (p_j (T + γ(1−P)) − t_j) = p_j − t_j unclamped: written that way, without the cancellation
/// of two large terms when 1−P is tiny.
///
/// student (rows, vocab); teacherIds, teacherLogProbs (rows, k), ids in 0..<vocab and distinct (as the cache
/// writes them); gradient (rows, vocab) or nil.
@discardableResult
public func topKGhostKDLoss(
    gradient: UnsafeMutablePointer<Float>?, weight: Float,
    student: UnsafePointer<Float>, teacherIds: UnsafePointer<Int32>, teacherLogProbs: UnsafePointer<Float>,
    temperature: Float = 1,
    rows: Int, k: Int, vocab: Int
) -> Double {
    precondition(temperature == 1, "topKGhostKDLoss: the ghost-token loss is defined at temperature 1, got \(temperature)")
    precondition(rows >= 0 && k > 0 && vocab > 0, "topKGhostKDLoss: \(rows) rows, k \(k), vocab \(vocab)")
    guard rows > 0 else { return 0 }
    let c = Double(weight) / Double(rows)
    let floor = 1e-12
    let total = sumOfPartials(rows) { partials in
        parallelFor(rows, minimumPerThread: max(1, 16_384 / vocab)) { range in
            withScratch(vocab + k) { scratch in
                let es = scratch, pk = scratch + vocab  // exps (vocab), p at the ids (k)
                for r in range {
                    let ids = teacherIds + r * k, lp = teacherLogProbs + r * k, zs = student + r * vocab
                    let (m, sum) = softmaxExps(es, zs, inverseTemperature: 1, count: vocab)
                    let lse = Double(m) + log(sum)
                    var kept = 0.0, studentKept = 0.0, tT = 0.0
                    for i in 0..<k {
                        let id = Int(ids[i])
                        precondition(id >= 0 && id < vocab, "topKGhostKDLoss: id \(id) in row \(r) is outside 0..<\(vocab)")
                        let t = exp(Double(lp[i])), logP = Double(zs[id]) - lse
                        if t > 0 { kept += t * (Double(lp[i]) - logP) }  // 0 · log 0 = 0
                        let p = Double(es[id]) / sum
                        pk[i] = Float(p)
                        studentKept += p
                        tT += t
                    }
                    let tail = 1 - tT, studentTail = 1 - studentKept
                    partials[r] = kept + tail * (log(max(tail, floor)) - log(max(studentTail, floor)))
                    guard let gradient else { continue }
                    let clamped = studentTail < floor
                    let gamma = clamped ? 0 : tail / studentTail
                    // every j: c · p_j (T − γP), then the ids overwritten with c · (p_j (T + γ(1−P)) − t_j)
                    let outside = Float(c * (tT - gamma * studentKept) / sum)
                    for j in 0..<vocab { es[j] *= outside }
                    let inside = clamped ? tT : 1  // T + γ(1−P) = T + (1−T) = 1 unclamped
                    for i in 0..<k { es[Int(ids[i])] = Float(c * (Double(pk[i]) * inside - exp(Double(lp[i])))) }
                    let g = gradient + r * vocab
                    for j in 0..<vocab { g[j] += es[j] }
                }
            }
        }
    }
    return total / Double(rows)
}

/// Random-sampling KD (Anshumann et al. 2025, "Sparse Logit Sampling: Accelerating Knowledge Distillation in
/// LLMs"; definitions.md §5): per row, distinct ids drawn from the teacher softmax at temperature τ with counts
/// c_i, N = Σ_i c_i draws, target t̂_i = c_i/N; the student's softmax is over the FULL vocabulary:
///
///     p = softmax(z_s[r]/τ)
///     loss = s · (1/rows) Σ_r Σ_i t̂_i (log t̂_i − log p_{id_i})
///     ∂loss/∂z_s[r] = s/(τ·rows) · (p − t̂)     (t̂ zero off the ids)
///
/// s = τ² when `scaleByTemperatureSquared`, else 1. E[t̂] = softmax(z_t/τ), so the gradient is an unbiased estimate
/// of vanilla KD's. A row without draws (counts summing to 0) contributes nothing but still counts in `rows`.
///
/// student (rows, vocab); ragged sample rows: row r holds sampledIds[o..<o'], sampledCounts[o..<o'] with
/// o = offsets[r], o' = offsets[r+1] (offsets has rows + 1 entries), ids in 0..<vocab and distinct within a row,
/// counts ≥ 0; gradient (rows, vocab) or nil.
@discardableResult
public func sampledKDLoss(
    gradient: UnsafeMutablePointer<Float>?, weight: Float,
    student: UnsafePointer<Float>,
    sampledIds: UnsafePointer<Int32>, sampledCounts: UnsafePointer<Int32>, offsets: UnsafePointer<Int32>,
    temperature: Float, scaleByTemperatureSquared: Bool = true,
    rows: Int, vocab: Int
) -> Double {
    precondition(temperature > 0 && temperature.isFinite, "sampledKDLoss: temperature must be positive, got \(temperature)")
    precondition(rows >= 0 && vocab > 0, "sampledKDLoss: \(rows) rows, vocab \(vocab)")
    guard rows > 0 else { return 0 }
    let tau = Double(temperature), inv = 1 / temperature
    let scale = scaleByTemperatureSquared ? tau * tau : 1
    let c = Double(weight) * scale / (tau * Double(rows))
    let total = sumOfPartials(rows) { partials in
        parallelFor(rows, minimumPerThread: max(1, 16_384 / vocab)) { range in
            withScratch(vocab) { es in
                for r in range {
                    let start = Int(offsets[r]), end = Int(offsets[r + 1])
                    precondition(start <= end, "sampledKDLoss: offsets decrease at row \(r)")
                    var draws = 0
                    for i in start..<end {
                        precondition(sampledCounts[i] >= 0, "sampledKDLoss: negative count in row \(r)")
                        precondition(sampledIds[i] >= 0 && Int(sampledIds[i]) < vocab,
                                     "sampledKDLoss: id \(sampledIds[i]) in row \(r) is outside 0..<\(vocab)")
                        draws += Int(sampledCounts[i])
                    }
                    guard draws > 0 else { continue }
                    let zs = student + r * vocab
                    let (m, sum) = softmaxExps(es, zs, inverseTemperature: inv, count: vocab)
                    let lse = Double(m) + log(sum)
                    var kl = 0.0
                    for i in start..<end where sampledCounts[i] > 0 {
                        let t = Double(sampledCounts[i]) / Double(draws)
                        kl += t * (log(t) - (Double(zs[Int(sampledIds[i])]) / tau - lse))
                    }
                    partials[r] = kl
                    guard let gradient else { continue }
                    // c · p over the vocabulary, then − c · t̂ at the ids
                    let a = Float(c / sum)
                    for j in 0..<vocab { es[j] *= a }
                    for i in start..<end {
                        es[Int(sampledIds[i])] -= Float(c * Double(sampledCounts[i]) / Double(draws))
                    }
                    let g = gradient + r * vocab
                    for j in 0..<vocab { g[j] += es[j] }
                }
            }
        }
    }
    return scale * total / Double(rows)
}

import Foundation
import Kernels

// Prediction-layer objectives on full logits: the task cross-entropy, the regression MSE, and vanilla KD.
// Conventions of every loss in this module (notes/definitions.md):
//   - the value returned is the *unweighted* loss, accumulated in Double;
//   - when `gradient` is not nil, weight · ∂loss/∂student is ADDED into it (same layout as the student input);
//   - teacher inputs are constants, never differentiated;
//   - invalid configurations are programmer errors (the trainer validates user configs first): preconditions.

/// Task cross-entropy on gold labels (definitions.md §1):
///
///     loss = (1/R) Σ_r −log softmax(z[r])[y_r]
///     ∂loss/∂z[r] = (softmax(z[r]) − onehot(y_r)) / R
///
/// over the R rows whose label is not `ignoreIndex` (PyTorch's `ignore_index`, −100 by default; nil: none is
/// ignored). All rows ignored: loss 0 and no gradient (PyTorch would return NaN).
///
/// logits (rows, classes), labels (rows) in 0..<classes; gradient (rows, classes) or nil.
@discardableResult
public func crossEntropyLoss(
    gradient: UnsafeMutablePointer<Float>?, weight: Float,
    logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, ignoreIndex: Int32? = -100,
    rows: Int, classes: Int
) -> Double {
    precondition(rows >= 0 && classes > 0, "crossEntropyLoss: \(rows) rows of \(classes) classes")
    @inline(__always) func ignored(_ r: Int) -> Bool { ignoreIndex.map { labels[r] == $0 } ?? false }
    var counted = 0
    for r in 0..<rows where !ignored(r) {
        precondition(labels[r] >= 0 && Int(labels[r]) < classes,
                     "crossEntropyLoss: label \(labels[r]) of row \(r) is outside 0..<\(classes)")
        counted += 1
    }
    guard counted > 0 else { return 0 }
    let c = Double(weight) / Double(counted)
    let total = sumOfPartials(rows) { partials in
        parallelFor(rows, minimumPerThread: max(1, 16_384 / classes)) { range in
            withScratch(classes) { exps in
                for r in range where !ignored(r) {
                    let z = logits + r * classes, y = Int(labels[r])
                    // −log softmax(z)[y] = logsumexp(z) − z[y]
                    let (m, sum) = softmaxExps(exps, z, inverseTemperature: 1, count: classes)
                    partials[r] = Double(m) + log(sum) - Double(z[y])
                    guard let gradient else { continue }
                    // ∂/∂z[j] = (c/sum) · exps[j] − c·[j = y]
                    let g = gradient + r * classes, a = Float(c / sum)
                    for j in 0..<classes { g[j] += a * exps[j] }
                    g[y] -= Float(c)
                }
            }
        }
    }
    return total / Double(counted)
}

/// Regression MSE between student and teacher (or gold) outputs (definitions.md §2), one output per row:
///
///     loss = (1/rows) Σ_r (z_s[r] − z_t[r])²
///     ∂loss/∂z_s[r] = 2 (z_s[r] − z_t[r]) / rows
///
/// student, target (rows); gradient (rows) or nil.
@discardableResult
public func regressionMSELoss(
    gradient: UnsafeMutablePointer<Float>?, weight: Float,
    student: UnsafePointer<Float>, target: UnsafePointer<Float>,
    rows: Int
) -> Double {
    precondition(rows >= 0, "regressionMSELoss: \(rows) rows")
    guard rows > 0 else { return 0 }
    let c = 2 * Double(weight) / Double(rows)
    var total = 0.0
    for r in 0..<rows {
        let diff = Double(student[r]) - Double(target[r])
        total += diff * diff
        gradient?[r] += Float(c * diff)
    }
    return total / Double(rows)
}

/// Vanilla knowledge distillation on full logits (Hinton, Vinyals & Dean 2015, "Distilling the Knowledge in a
/// Neural Network"; definitions.md §3), for classification logits (B rows) and masked-LM logits (R rows × vocab):
///
///     t = softmax(z_t[r]/τ), p = softmax(z_s[r]/τ)
///     loss = s · (1/rows) Σ_r KL(t ‖ p) = s · (1/rows) Σ_r Σ_j t_j (log t_j − log p_j)
///     ∂loss/∂z_s[r] = s/(τ·rows) · (p − t)
///
/// with s = τ² when `scaleByTemperatureSquared` (Hinton's, keeping gradient sizes independent of τ), else 1
/// (TinyBERT). Per row, KL = Σ_j t_j (z_t,j − z_s,j)/τ − logsumexp(z_t/τ) + logsumexp(z_s/τ): one max pass,
/// one exp pass into per-worker scratch, one gradient pass; no allocation per row.
///
/// student, teacher (rows, classes); gradient (rows, classes) or nil.
@discardableResult
public func vanillaKDLoss(
    gradient: UnsafeMutablePointer<Float>?, weight: Float,
    student: UnsafePointer<Float>, teacher: UnsafePointer<Float>,
    temperature: Float, scaleByTemperatureSquared: Bool = true,
    rows: Int, classes: Int
) -> Double {
    precondition(temperature > 0 && temperature.isFinite, "vanillaKDLoss: temperature must be positive, got \(temperature)")
    precondition(rows >= 0 && classes > 0, "vanillaKDLoss: \(rows) rows of \(classes) classes")
    guard rows > 0 else { return 0 }
    let tau = Double(temperature), inv = 1 / temperature
    let scale = scaleByTemperatureSquared ? tau * tau : 1
    let c = Double(weight) * scale / (tau * Double(rows))
    let total = sumOfPartials(rows) { partials in
        parallelFor(rows, minimumPerThread: max(1, 16_384 / classes)) { range in
            withScratch(2 * classes) { scratch in
                let es = scratch, et = scratch + classes
                for r in range {
                    let zs = student + r * classes, zt = teacher + r * classes
                    let (ms, sumS) = softmaxExps(es, zs, inverseTemperature: inv, count: classes)
                    let (mt, sumT) = softmaxExps(et, zt, inverseTemperature: inv, count: classes)
                    // Σ_j t_j (z_t,j − z_s,j)/τ, with t_j = et[j]/sumT
                    let expected = weightedDifferenceSum(et, zt, zs, count: classes) / (sumT * tau)
                    partials[r] = expected - (Double(mt) + log(sumT)) + (Double(ms) + log(sumS))
                    guard let gradient else { continue }
                    // ∂/∂z_s[r] = c · (es/sumS − et/sumT)
                    let g = gradient + r * classes, a = Float(c / sumS), b = Float(c / sumT)
                    for j in 0..<classes { g[j] += a * es[j] - b * et[j] }
                }
            }
        }
    }
    return scale * total / Double(rows)
}

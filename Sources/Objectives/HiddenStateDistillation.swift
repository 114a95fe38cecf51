import Foundation
import Kernels

// Hidden-state objectives for one student:teacher layer pair (definitions.md §6–7). The student input x is the
// student's hidden state already projected to the teacher's width (x = h_s·Wᵀ + b, done by the trainer with
// linearForward/linearBackward) or the hidden state itself when the widths match. Several pairs: the trainer
// sums the calls. Padding tokens are left out and get no gradient.

/// Hidden-state MSE (Jiao et al. 2020, "TinyBERT: Distilling BERT for Natural Language Understanding";
/// definitions.md §6), over the N real tokens of the batch:
///
///     loss = (1/(N·C)) Σ_{real b,t} Σ_c (x[b,t,c] − h_t[b,t,c])²
///     ∂loss/∂x[b,t,c] = 2 (x − h_t) / (N·C) at real tokens, 0 at padding
///
/// student x, teacher h_t (batch, seq, width); mask (batch, seq), 1 = real, a prefix of each row;
/// gradient (batch, seq, width) or nil.
@discardableResult
public func hiddenMSELoss(
    gradient: UnsafeMutablePointer<Float>?, weight: Float,
    student: UnsafePointer<Float>, teacher: UnsafePointer<Float>, mask: UnsafePointer<Int32>,
    batch: Int, seq: Int, width: Int
) -> Double {
    precondition(batch >= 0 && seq >= 0 && width > 0, "hiddenMSELoss: batch \(batch), seq \(seq), width \(width)")
    let tokens = realTokenCount(mask, batch: batch, seq: seq)
    guard tokens > 0 else { return 0 }
    let count = Double(tokens) * Double(width)
    let c = Float(2 * Double(weight) / count)
    let total = sumOfPartials(batch) { partials in
        parallelFor(batch) { range in
            for b in range {
                let n = realLength(mask + b * seq, seq: seq)
                let x = student + b * seq * width, h = teacher + b * seq * width
                var sum = 0.0
                for i in 0..<(n * width) {
                    let diff = Double(x[i]) - Double(h[i])
                    sum += diff * diff
                }
                partials[b] = sum
                guard let g = gradient.map({ $0 + b * seq * width }) else { continue }
                for i in 0..<(n * width) { g[i] += c * (x[i] - h[i]) }
            }
        }
    }
    return total / count
}

/// Hidden-state cosine loss (Sanh et al. 2019, "DistilBERT, a distilled version of BERT"; definitions.md §7),
/// per real token, with D = max(‖x‖·‖h_t‖, 1e-8):
///
///     loss = (1/N) Σ_{real b,t} (1 − x·h_t / D)
///     ∂loss/∂x = −(1/N) (h_t/D − cos · x/‖x‖²)    where ‖x‖·‖h_t‖ ≥ 1e-8
///     ∂loss/∂x = −(1/N) h_t / 1e-8                  where the clamp is active
///
/// student x, teacher h_t (batch, seq, width); mask (batch, seq), 1 = real, a prefix of each row;
/// gradient (batch, seq, width) or nil.
@discardableResult
public func hiddenCosineLoss(
    gradient: UnsafeMutablePointer<Float>?, weight: Float,
    student: UnsafePointer<Float>, teacher: UnsafePointer<Float>, mask: UnsafePointer<Int32>,
    batch: Int, seq: Int, width: Int
) -> Double {
    precondition(batch >= 0 && seq >= 0 && width > 0, "hiddenCosineLoss: batch \(batch), seq \(seq), width \(width)")
    let tokens = realTokenCount(mask, batch: batch, seq: seq)
    guard tokens > 0 else { return 0 }
    let c = Double(weight) / Double(tokens)
    let eps = 1e-8
    let total = sumOfPartials(batch) { partials in
        parallelFor(batch) { range in
            for b in range {
                let n = realLength(mask + b * seq, seq: seq)
                var sum = 0.0
                for t in 0..<n {
                    let x = student + (b * seq + t) * width, h = teacher + (b * seq + t) * width
                    var dot = 0.0, xx = 0.0, hh = 0.0
                    for i in 0..<width {
                        let xi = Double(x[i]), hi = Double(h[i])
                        dot += xi * hi; xx += xi * xi; hh += hi * hi
                    }
                    let norms = (xx * hh).squareRoot()
                    let denominator = max(norms, eps), cosine = dot / denominator
                    sum += 1 - cosine
                    guard let g = gradient.map({ $0 + (b * seq + t) * width }) else { continue }
                    // −c · ∂cos/∂x = −c · h/D + c · cos/‖x‖² · x (the second term only when the clamp is inactive)
                    let a = Float(-c / denominator), bx = norms >= eps ? Float(c * cosine / xx) : 0
                    for i in 0..<width { g[i] += a * h[i] + bx * x[i] }
                }
                partials[b] = sum
            }
        }
    }
    return total / Double(tokens)
}

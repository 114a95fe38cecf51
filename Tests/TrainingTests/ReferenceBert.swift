import Bert
import Foundation

/// A plain Double BERT written from the formulas (no BLAS, no shared code with the engine), used as the
/// function whose central differences the engine's gradients are checked against. Same activations and
/// layouts as `BertTrainingGraph`, densely packed for the given (batch, seq).
struct ReferenceActivations {
    var hidden: [[Double]] = []     // L+1 × (N, C)
    var probs: [[Double]] = []      // L × (B, H, T, T), before dropout
    var qkv: [[Double]] = []        // L × (N, 3C)
    var pooled: [Double] = []       // (B, C)
    var logits: [Double] = []       // (B, labels)
    var mlmLogits: [Double] = []    // (rows, V)
}

/// Dropout masks (0 or 1/(1-p)) in the engine's layouts, read back from a training forward.
struct ReferenceDropoutMasks {
    var embedding: [Double]         // (N, C)
    var probs: [[Double]]           // L × (B, H, T, T)
    var attention: [[Double]]       // L × (N, C)
    var output: [[Double]]          // L × (N, C)
    var classifier: [Double]        // (B, C)
}

func referenceForward(_ layout: BertLayout, _ w: [Double], _ input: BertInput, mlmRows: [Int],
                      masks: ReferenceDropoutMasks? = nil) -> ReferenceActivations {
    let config = layout.config
    let batch = input.batch, seq = input.seq, n = batch * seq
    let c = config.hiddenSize, heads = config.numAttentionHeads, d = c / heads
    let eps = Double(config.layerNormEps)
    func at(_ t: ParameterTensor, _ i: Int) -> Double { w[t.offset + i] }
    func linear(_ x: [Double], rows: Int, _ weight: ParameterTensor, _ bias: ParameterTensor?) -> [Double] {
        let inF = weight.shape[1], outF = weight.shape[0]
        var out = [Double](repeating: 0, count: rows * outF)
        for r in 0..<rows {
            for o in 0..<outF {
                var s = bias.map { at($0, o) } ?? 0
                for i in 0..<inF { s += x[r * inF + i] * at(weight, o * inF + i) }
                out[r * outF + o] = s
            }
        }
        return out
    }
    func layerNorm(_ x: [Double], rows: Int, _ gamma: ParameterTensor, _ beta: ParameterTensor) -> [Double] {
        var out = x
        for r in 0..<rows {
            let row = x[(r * c)..<((r + 1) * c)]
            let mean = row.reduce(0, +) / Double(c)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(c)
            let rstd = 1 / (variance + eps).squareRoot()
            for i in 0..<c { out[r * c + i] = (x[r * c + i] - mean) * rstd * at(gamma, i) + at(beta, i) }
        }
        return out
    }
    func gelu(_ x: Double) -> Double { 0.5 * x * (1 + erf(x / 2.0.squareRoot())) }
    func times(_ x: [Double], _ mask: [Double]?) -> [Double] { mask.map { zip(x, $0).map(*) } ?? x }

    // Position ids as transformers makes them: BERT and DistilBERT count from 0; RoBERTa's
    // create_position_ids_from_input_ids gives padding the padding id and real tokens padding id + 1 + running count.
    func position(_ row: Int) -> Int {
        switch config.family.positionIds {
        case .fromZero: return row % seq
        case .afterPadding:
            let start = row - row % seq, pad = Int32(config.padTokenId)
            if input.inputIds[row] == pad { return config.padTokenId }
            return config.padTokenId + (start...row).filter { input.inputIds[$0] != pad }.count
        }
    }
    var a = ReferenceActivations()
    var e = [Double](repeating: 0, count: n * c)
    for row in 0..<n {
        for i in 0..<c {
            e[row * c + i] = at(layout.wordEmbeddings, Int(input.inputIds[row]) * c + i)
                + at(layout.positionEmbeddings, position(row) * c + i)
                + (layout.tokenTypeEmbeddings.map { at($0, Int(input.tokenTypeIds[row]) * c + i) } ?? 0)
        }
    }
    var x = times(layerNorm(e, rows: n, layout.embeddingNormWeight, layout.embeddingNormBias), masks?.embedding)
    a.hidden.append(x)
    for (l, lw) in layout.layers.enumerated() {
        let qkv = linear(x, rows: n, lw.qkvWeight, lw.qkvBias)
        a.qkv.append(qkv)
        var probs = [Double](repeating: 0, count: batch * heads * seq * seq)
        var ctx = [Double](repeating: 0, count: n * c)
        for b in 0..<batch {
            for h in 0..<heads {
                func part(_ t: Int, _ which: Int, _ j: Int) -> Double { qkv[(b * seq + t) * 3 * c + which * c + h * d + j] }
                for i in 0..<seq {
                    var scores = (0..<seq).map { t in (0..<d).map { part(i, 0, $0) * part(t, 1, $0) }.reduce(0, +) / Double(d).squareRoot() }
                    for t in 0..<seq where input.attentionMask[b * seq + t] == 0 { scores[t] = -.infinity }
                    let m = scores.max()!, ex = scores.map { exp($0 - m) }, s = ex.reduce(0, +)
                    let row = ((b * heads + h) * seq + i) * seq
                    for t in 0..<seq { probs[row + t] = ex[t] / s }
                    for j in 0..<d {
                        var sum = 0.0
                        for t in 0..<seq { sum += probs[row + t] * (masks?.probs[l][row + t] ?? 1) * part(t, 2, j) }
                        ctx[(b * seq + i) * c + h * d + j] = sum
                    }
                }
            }
        }
        a.probs.append(probs)
        let attention = times(linear(ctx, rows: n, lw.attentionOutWeight, lw.attentionOutBias), masks?.attention[l])
        let norm1 = layerNorm(zip(attention, x).map(+), rows: n, lw.attentionNormWeight, lw.attentionNormBias)
        let activation = linear(norm1, rows: n, lw.intermediateWeight, lw.intermediateBias).map(gelu)
        let ffn = times(linear(activation, rows: n, lw.outputWeight, lw.outputBias), masks?.output[l])
        x = layerNorm(zip(ffn, norm1).map(+), rows: n, lw.outputNormWeight, lw.outputNormBias)
        a.hidden.append(x)
    }
    if let weight = layout.poolerWeight, let bias = layout.poolerBias {
        let cls = (0..<batch).flatMap { b in x[(b * seq * c)..<((b * seq + 1) * c)] }
        a.pooled = linear(cls, rows: batch, weight, bias).map(config.family.poolerActivation == .relu ? { max($0, 0) } : tanh)
    }
    if let weight = layout.classifierWeight, let bias = layout.classifierBias {
        a.logits = linear(times(a.pooled, masks?.classifier), rows: batch, weight, bias)
    }
    if layout.heads.maskedLM {
        let gathered = mlmRows.flatMap { x[($0 * c)..<(($0 + 1) * c)] }
        let transformed = linear(gathered, rows: mlmRows.count, layout.mlmTransformWeight!, layout.mlmTransformBias!).map(gelu)
        let normed = layerNorm(transformed, rows: mlmRows.count, layout.mlmNormWeight!, layout.mlmNormBias!)
        a.mlmLogits = linear(normed, rows: mlmRows.count, layout.wordEmbeddings, layout.mlmBias!)
    }
    return a
}

import Kernels

/// The forward pass of every BERT-family model (what differs is data on `ModelFamily`), written once: embeddings, each encoder layer and the heads, as functions
/// over buffers that their owner provides. `BertForward` (inference: the teacher in stage one, the
/// online teacher, evaluation, `distillery forward`) hands every layer the same scratch and keeps
/// only what it captures; `BertTrainingGraph` (students, fine-tuning) hands each layer its own
/// slots and the LayerNorm statistics, which its backward reads, and turns dropout on. One
/// sequence of operations; only the encoder's four products multiply differently (inference:
/// weights packed once for oneDNN; training: OpenBLAS in fixed blocks, or bf16 rounded per call),
/// so without dropout the two agree up to the order of the products' sums (TrainingGraphTests: 1e-5).
///
/// Shapes: N = batch · seq token rows, row-major (B, T, C); I = intermediate size, H = heads.
public enum BertEncoderPass {
    /// Where one encoder layer writes. qkv (N, 3C); probs (B, H, T, T) before dropout; context,
    /// attentionResidual, norm1, outputResidual (N, C); ffnPre, ffnActivation (N, I); the LayerNorm
    /// statistics (N) only where a backward reads them.
    public struct LayerBuffers {
        public var qkv, probs, context, attentionResidual, norm1, ffnPre, ffnActivation, outputResidual: UnsafeMutablePointer<Float>
        public var mean1, rstd1, mean2, rstd2: UnsafeMutablePointer<Float>?

        public init(qkv: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>, context: UnsafeMutablePointer<Float>,
                    attentionResidual: UnsafeMutablePointer<Float>, norm1: UnsafeMutablePointer<Float>,
                    ffnPre: UnsafeMutablePointer<Float>, ffnActivation: UnsafeMutablePointer<Float>,
                    outputResidual: UnsafeMutablePointer<Float>,
                    mean1: UnsafeMutablePointer<Float>? = nil, rstd1: UnsafeMutablePointer<Float>? = nil,
                    mean2: UnsafeMutablePointer<Float>? = nil, rstd2: UnsafeMutablePointer<Float>? = nil) {
            self.qkv = qkv; self.probs = probs; self.context = context; self.attentionResidual = attentionResidual
            self.norm1 = norm1; self.ffnPre = ffnPre; self.ffnActivation = ffnActivation; self.outputResidual = outputResidual
            self.mean1 = mean1; self.rstd1 = rstd1; self.mean2 = mean2; self.rstd2 = rstd2
        }
    }

    /// A layer's dropout (training only): the attention probabilities' (its probability and seed;
    /// the backward draws the same masks again), and the keep masks of the attention output and of
    /// the FFN output (N, C).
    public struct LayerDropout {
        public var attention: AttentionDropout
        public var attentionKeep, outputKeep: UnsafeMutablePointer<Float>
        public var probability: Float { attention.probability }

        public init(attention: AttentionDropout, attentionKeep: UnsafeMutablePointer<Float>, outputKeep: UnsafeMutablePointer<Float>) {
            self.attention = attention; self.attentionKeep = attentionKeep; self.outputKeep = outputKeep
        }
    }

    /// A layer's four matrix products for inference: the same weights packed once for oneDNN, in
    /// fp32 or rounded once to bf16.
    public struct PackedLayer {
        public let qkv, attentionOut, intermediate, output: PackedLinear

        public init(_ w: BertLayout.Layer, _ p: BertParameters, precision: Precision) {
            let c = p.layout.config.hiddenSize, inner = p.layout.config.intermediateSize
            qkv = PackedLinear(weight: p[w.qkvWeight], outFeatures: 3 * c, inFeatures: c, precision: precision)
            attentionOut = PackedLinear(weight: p[w.attentionOutWeight], outFeatures: c, inFeatures: c, precision: precision)
            intermediate = PackedLinear(weight: p[w.intermediateWeight], outFeatures: inner, inFeatures: c, precision: precision)
            output = PackedLinear(weight: p[w.outputWeight], outFeatures: c, inFeatures: inner, precision: precision)
        }
    }

    /// out (N, C) = LayerNorm(word[ids] + position[positions] + tokenType[types]); `sum` (N, C) keeps
    /// the sum; `positions` (N) receives the family's position ids (the backward reads them). Token
    /// types are ignored by families without them.
    public static func embeddings(out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>?, rstd: UnsafeMutablePointer<Float>?,
                                  sum: UnsafeMutablePointer<Float>, positions: UnsafeMutablePointer<Int32>,
                                  ids: UnsafePointer<Int32>, types: UnsafePointer<Int32>,
                                  _ p: BertParameters, batch: Int, seq: Int) {
        let layout = p.layout, config = layout.config, c = config.hiddenSize
        config.family.fillPositionIds(positions, ids: ids, batch: batch, seq: seq, padTokenId: config.padTokenId)
        let typeTable = layout.tokenTypeEmbeddings.map { UnsafePointer(p[$0]) }
        embeddingForward(sum, ids, positions, typeTable == nil ? nil : types, p[layout.wordEmbeddings], p[layout.positionEmbeddings], typeTable,
                         rows: batch * seq, hidden: c)
        layerNormForward(out, mean, rstd, sum, p[layout.embeddingNormWeight], p[layout.embeddingNormBias],
                         rows: batch * seq, dim: c, eps: config.layerNormEps)
    }

    /// One encoder layer: x (N, C) → out (N, C). With `dropout`, the attention probabilities use its
    /// seed, and the attention output and FFN output draw theirs from `seeds` in that order. The four
    /// matrix products run as `products` says (training), or with the weights packed once when
    /// `packed` is given (inference); either bf16 way they take bf16 inputs and accumulate in fp32.
    public static func layer(_ w: BertLayout.Layer, _ p: BertParameters, x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
                             _ b: LayerBuffers, mask: UnsafePointer<Int32>, batch: Int, seq: Int,
                             dropout: LayerDropout? = nil, seeds: inout SeededGenerator,
                             products: LinearProducts = .fp32, packed: PackedLayer? = nil) {
        let config = p.layout.config, c = config.hiddenSize, inner = config.intermediateSize, n = batch * seq
        let heads = config.numAttentionHeads, eps = config.layerNormEps
        func linear(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ weight: ParameterTensor, _ bias: ParameterTensor,
                    _ fast: PackedLinear?, inFeatures: Int, outFeatures: Int) {
            if let fast { fast.forward(out, x, p[bias], rows: n) } else {
                products.forward(out, x, p[weight], p[bias], rows: n, inFeatures: inFeatures, outFeatures: outFeatures)
            }
        }
        // Self-attention: qkv = x · Wqkvᵀ + bqkv; context = dropout(softmax(q kᵀ / √d)) · v per head.
        linear(b.qkv, x, w.qkvWeight, w.qkvBias, packed?.qkv, inFeatures: c, outFeatures: 3 * c)
        if let dropout {
            attentionForward(b.context, b.probs, b.qkv, mask, dropout: dropout.attention, batch: batch, seq: seq, hidden: c, heads: heads)
        } else {
            attentionForward(b.context, b.probs, b.qkv, mask, batch: batch, seq: seq, hidden: c, heads: heads)
        }
        // attentionResidual = dropout(context · Woᵀ + bo) + x; norm1 = LayerNorm(attentionResidual).
        linear(b.attentionResidual, b.context, w.attentionOutWeight, w.attentionOutBias, packed?.attentionOut, inFeatures: c, outFeatures: c)
        if let dropout {
            dropoutForward(b.attentionResidual, dropout.attentionKeep, b.attentionResidual, probability: dropout.probability,
                           seed: seeds.next(), count: n * c)
        }
        addInPlace(b.attentionResidual, x, count: n * c)
        layerNormForward(b.norm1, b.mean1, b.rstd1, b.attentionResidual, p[w.attentionNormWeight], p[w.attentionNormBias],
                         rows: n, dim: c, eps: eps)
        // Feed-forward: ffnActivation = gelu(norm1 · Wiᵀ + bi); outputResidual = dropout(ffnActivation · Woutᵀ + bout) + norm1;
        // out = LayerNorm(outputResidual). GELU out of place: in place the compiler cannot rule out aliasing (3× slower).
        // Packed (inference) runs bias and GELU inside the product; ffnPre is not kept. In bf16 it hands
        // the activation to the output layer in bf16 (what it would round it to), ffnActivation unused.
        if let packed, packed.intermediate.precision == .bf16 {
            let activation = packed.intermediate.forwardToBFloat16(b.norm1, p[w.intermediateBias], rows: n, gelu: true)
            packed.output.forward(b.outputResidual, bfloat16: activation, p[w.outputBias], rows: n)
        } else {
            if let packed {
                packed.intermediate.forward(b.ffnActivation, b.norm1, p[w.intermediateBias], rows: n, gelu: true)
            } else {
                linear(b.ffnPre, b.norm1, w.intermediateWeight, w.intermediateBias, nil, inFeatures: c, outFeatures: inner)
                geluForward(b.ffnActivation, b.ffnPre, count: n * inner)
            }
            linear(b.outputResidual, b.ffnActivation, w.outputWeight, w.outputBias, packed?.output, inFeatures: inner, outFeatures: c)
        }
        if let dropout {
            dropoutForward(b.outputResidual, dropout.outputKeep, b.outputResidual, probability: dropout.probability,
                           seed: seeds.next(), count: n * c)
        }
        addInPlace(b.outputResidual, b.norm1, count: n * c)
        layerNormForward(out, b.mean2, b.rstd2, b.outputResidual, p[w.outputNormWeight], p[w.outputNormBias], rows: n, dim: c, eps: eps)
    }

    /// pooled (B, C) = act(h[first token] · Wpᵀ + bp), `input` (B, C) keeping the first rows of
    /// `last` (N, C); act is the family's (BERT's pooler and RoBERTa's classifier.dense: tanh;
    /// DistilBERT's pre_classifier: ReLU).
    public static func pooler(pooled: UnsafeMutablePointer<Float>, input: UnsafeMutablePointer<Float>, last: UnsafePointer<Float>,
                              _ p: BertParameters, batch: Int, seq: Int, products: LinearProducts = .fp32) {
        let layout = p.layout, c = layout.config.hiddenSize
        guard let weight = layout.poolerWeight, let bias = layout.poolerBias else { return }
        for b in 0..<batch { (input + b * c).update(from: last + b * seq * c, count: c) }
        products.forward(pooled, input, p[weight], p[bias], rows: batch, inFeatures: c, outFeatures: c)
        switch layout.config.family.poolerActivation {
        case .tanh: tanhForward(pooled, pooled, count: batch * c)
        case .relu: reluForward(pooled, pooled, count: batch * c)
        }
    }

    /// logits (B, labels) = input · Wcᵀ + bc, where `input` is the pooled output (after dropout when training).
    public static func classifier(logits: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, _ p: BertParameters, batch: Int,
                                  products: LinearProducts = .fp32) {
        let layout = p.layout
        guard let weight = layout.classifierWeight, let bias = layout.classifierBias else { return }
        products.forward(logits, input, p[weight], p[bias], rows: batch, inFeatures: layout.config.hiddenSize, outFeatures: layout.heads.classifierLabels)
    }

    /// MLM logits (m, V) = LayerNorm(gelu(h[rows] · Wtᵀ + bt)) · word_embeddingsᵀ + bias (the decoder is
    /// tied to the embeddings), at `rows` of `last` only: a full (N, V) matrix would be ~1 GB for a
    /// 30k vocabulary. gather, pre, activation, normed (m, C); mean, rstd (m) where a backward reads them.
    public static func maskedLM(logits: UnsafeMutablePointer<Float>, gather: UnsafeMutablePointer<Float>, pre: UnsafeMutablePointer<Float>,
                                activation: UnsafeMutablePointer<Float>, normed: UnsafeMutablePointer<Float>,
                                mean: UnsafeMutablePointer<Float>?, rstd: UnsafeMutablePointer<Float>?,
                                last: UnsafePointer<Float>, rows: [Int], _ p: BertParameters, products: LinearProducts = .fp32) {
        let layout = p.layout, config = layout.config, c = config.hiddenSize, m = rows.count
        guard layout.heads.maskedLM, m > 0 else { return }
        for (i, row) in rows.enumerated() { (gather + i * c).update(from: last + row * c, count: c) }
        products.forward(pre, gather, p[layout.mlmTransformWeight!], p[layout.mlmTransformBias!], rows: m, inFeatures: c, outFeatures: c)
        geluForward(activation, pre, count: m * c)
        layerNormForward(normed, mean, rstd, activation, p[layout.mlmNormWeight!], p[layout.mlmNormBias!], rows: m, dim: c, eps: config.layerNormEps)
        products.forward(logits, normed, p[layout.wordEmbeddings], p[layout.mlmBias!], rows: m, inFeatures: c, outFeatures: config.vocabSize)
    }
}

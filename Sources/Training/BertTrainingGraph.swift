import Bert
import Kernels

/// The trainable BERT: the forward pass of `BertForward` (`BertEncoderPass`, written once) with every
/// activation the backward needs saved, and the backward pass that adds parameter gradients into a `BertParameters` of the same
/// layout. Activations and their gradients are allocated once for (maxBatch, maxSeq) and reused; only
/// the masked-LM head's buffers grow when more MLM rows are asked for than ever before.
///
/// Losses sit outside: after `forward`, an objective reads any activation (hidden states, attention
/// probabilities, Q/K/V projections, pooled output, classifier or MLM logits) and ADDS its gradient
/// into the matching seed (`…Gradient`), which `forward` zeroed; `backward` then propagates from all
/// seeds at once. The gradient of hidden state l is its seed plus what flows back from layer l + 1
/// (and from the heads for the last one).
///
/// Layouts match `BertForward`: N = batch · seq token rows, (B, T, C) row-major; a layer's buffer
/// starts at layer · maxBatch · maxSeq rows, and only the first N rows are used.
///
/// Dropout (Hugging Face's places, `dropout` for both hidden and attention dropout): after the
/// embedding LayerNorm, on the attention probabilities, on the attention output and FFN output before
/// their residual adds, and on the pooled output before the classifier. Only with `training: true`.
public final class BertTrainingGraph {
    public let layout: BertLayout
    public let maxBatch: Int, maxSeq: Int
    /// Hidden and attention dropout probability; 0 = off.
    public let dropout: Float
    /// The linear layers' arithmetic, forward and backward: fp32, or bf16 inputs with fp32 accumulation.
    public let products: LinearProducts
    /// Sizes of the last forward.
    public private(set) var batch = 0, seq = 0
    /// Rows (flat b·seq + t) whose MLM logits the last forward computed, in logit-row order.
    public private(set) var mlmRows: [Int] = []
    /// Whether the last forward drew dropout masks (training with dropout > 0); backward reuses them.
    public private(set) var dropoutApplied = false
    /// Backward consumes the seeds as accumulators, so it runs once per forward.
    private var backwardPending = false
    /// The rows of the word-embedding gradient that backward has added into (the batch's token ids;
    /// all of them with a tied MLM decoder), for the optimiser to skip the rest (`GradientRows`).
    public let wordEmbeddingRows: GradientRows

    let c: Int, heads: Int, inner: Int, layerCount: Int, labels: Int, vocab: Int
    let eps: Float
    let tokens: Int       // maxBatch · maxSeq: the row stride between layers
    let probsStride: Int  // maxBatch · H · maxSeq²: the stride between layers' attention maps

    // Inputs, copied by forward (backward needs ids and types).
    let ids, types, mask, positions: UnsafeMutablePointer<Int32>  // (maxB · maxT); positions: the family's position ids

    // Activations (see `forward` for the line that writes each).
    let embeddingSum: FloatBuffer                 // (N, C) word + position + token type
    let embeddingNorm: FloatBuffer                // (N, C) LayerNorm output before dropout (dropout only)
    let embeddingMean, embeddingRstd: FloatBuffer // (N)
    let embeddingKeep: FloatBuffer                // (N, C) dropout mask
    let hidden: FloatBuffer                       // (L+1) × (N, C): layer 0 = embeddings output
    let qkv: FloatBuffer                          // L × (N, 3C)
    let probs: FloatBuffer                        // L × (B, H, T, T) before dropout
    var attentionDropout: [AttentionDropout] = [] // L: the probabilities' dropout (backward draws its masks again)
    let context: FloatBuffer                      // L × (N, C) attention output, heads concatenated
    let attentionResidual: FloatBuffer            // L × (N, C) dropout(context · Wo + bo) + x, LayerNorm 1 input
    let attentionKeep: FloatBuffer                // L × (N, C)
    let norm1: FloatBuffer                        // L × (N, C)
    let mean1, rstd1: FloatBuffer                 // L × (N)
    let ffnPre, ffnActivation: FloatBuffer        // L × (N, I) before and after GELU
    let outputResidual: FloatBuffer               // L × (N, C) dropout(ffn · Wout + bout) + norm1, LayerNorm 2 input
    let outputKeep: FloatBuffer                   // L × (N, C)
    let mean2, rstd2: FloatBuffer                 // L × (N)
    let poolerInput, pooledBuffer: FloatBuffer    // (B, C): hidden[L] at [CLS], act(dense): tanh, ReLU for DistilBERT
    let classifierInput, classifierKeep: FloatBuffer  // (B, C) dropout(pooled) and its mask (dropout only)
    let logitBuffer: FloatBuffer                  // (B, labels)
    var mlmGather, mlmPre, mlmActivation, mlmNormed: FloatBuffer  // (n, C): gathered rows, dense, GELU, LayerNorm
    var mlmMean, mlmRstd: FloatBuffer             // (n)
    var mlmLogits: FloatBuffer                    // (n, V)

    // Gradient seeds (zeroed by forward, objectives add into them) ...
    let dHidden: FloatBuffer                      // (L+1) × (N, C)
    let dProbs: FloatBuffer                       // L × (B, H, T, T)
    let dQKV: FloatBuffer                         // L × (N, 3C)
    let dPooled: FloatBuffer                      // (B, C)
    let dLogits: FloatBuffer                      // (B, labels)
    var dMLMLogits: FloatBuffer                   // (n, V)
    // ... and scratch gradients, reused by every layer.
    let dResidual2, dResidual1, dBranch, dContext: FloatBuffer  // (N, C)
    let dFFNActivation, dFFNPre: FloatBuffer      // (N, I)
    let dScores: FloatBuffer                      // (B, H, T, T)
    let dPoolerInput, dPooledPre, dClassifierInput: FloatBuffer  // (B, C)
    var dMLMGather, dMLMPre, dMLMActivation, dMLMNormed: FloatBuffer  // (n, C)

    /// `precision` bf16 needs a CPU with AVX-512 BF16: check `precision.unsupportedReason` first.
    public init(layout: BertLayout, maxBatch: Int, maxSeq: Int, dropout: Float, precision: Precision = .fp32) {
        let config = layout.config
        precondition(maxBatch > 0 && maxSeq > 0, "empty graph \(maxBatch) × \(maxSeq)")
        precondition(maxSeq <= config.maxSequenceLength,
                     "maxSeq \(maxSeq) exceeds \(config.positionsDescription)")
        precondition(dropout >= 0 && dropout < 1, "dropout \(dropout) outside [0, 1)")
        precondition(precision.unsupportedReason == nil, precision.unsupportedReason ?? "")
        self.layout = layout; self.maxBatch = maxBatch; self.maxSeq = maxSeq; self.dropout = dropout
        products = LinearProducts(precision: precision)
        c = config.hiddenSize; heads = config.numAttentionHeads; inner = config.intermediateSize
        layerCount = config.numHiddenLayers; labels = layout.heads.classifierLabels; vocab = config.vocabSize
        wordEmbeddingRows = GradientRows(width: c, count: vocab)
        eps = config.layerNormEps
        tokens = maxBatch * maxSeq
        probsStride = maxBatch * heads * maxSeq * maxSeq
        let l = layerCount, n = tokens, withDropout = dropout > 0

        ids = .allocate(capacity: n); types = .allocate(capacity: n); mask = .allocate(capacity: n); positions = .allocate(capacity: n)
        ids.initialize(repeating: 0, count: n); types.initialize(repeating: 0, count: n); mask.initialize(repeating: 0, count: n)
        positions.initialize(repeating: 0, count: n)

        embeddingSum = FloatBuffer(count: n * c)
        embeddingNorm = FloatBuffer(count: withDropout ? n * c : 0)
        embeddingMean = FloatBuffer(count: n); embeddingRstd = FloatBuffer(count: n)
        embeddingKeep = FloatBuffer(count: withDropout ? n * c : 0)
        hidden = FloatBuffer(count: (l + 1) * n * c)
        qkv = FloatBuffer(count: l * n * 3 * c)
        probs = FloatBuffer(count: l * probsStride)
        context = FloatBuffer(count: l * n * c)
        attentionResidual = FloatBuffer(count: l * n * c)
        attentionKeep = FloatBuffer(count: withDropout ? l * n * c : 0)
        norm1 = FloatBuffer(count: l * n * c)
        mean1 = FloatBuffer(count: l * n); rstd1 = FloatBuffer(count: l * n)
        ffnPre = FloatBuffer(count: l * n * inner); ffnActivation = FloatBuffer(count: l * n * inner)
        outputResidual = FloatBuffer(count: l * n * c)
        outputKeep = FloatBuffer(count: withDropout ? l * n * c : 0)
        mean2 = FloatBuffer(count: l * n); rstd2 = FloatBuffer(count: l * n)
        let pooler = layout.heads.pooler
        poolerInput = FloatBuffer(count: pooler ? maxBatch * c : 0); pooledBuffer = FloatBuffer(count: pooler ? maxBatch * c : 0)
        classifierInput = FloatBuffer(count: labels > 0 && withDropout ? maxBatch * c : 0)
        classifierKeep = FloatBuffer(count: labels > 0 && withDropout ? maxBatch * c : 0)
        logitBuffer = FloatBuffer(count: maxBatch * labels)
        mlmGather = FloatBuffer(count: 0); mlmPre = FloatBuffer(count: 0); mlmActivation = FloatBuffer(count: 0)
        mlmNormed = FloatBuffer(count: 0); mlmMean = FloatBuffer(count: 0); mlmRstd = FloatBuffer(count: 0)
        mlmLogits = FloatBuffer(count: 0)

        dHidden = FloatBuffer(count: (l + 1) * n * c)
        dProbs = FloatBuffer(count: l * probsStride)
        dQKV = FloatBuffer(count: l * n * 3 * c)
        dPooled = FloatBuffer(count: pooler ? maxBatch * c : 0)
        dLogits = FloatBuffer(count: maxBatch * labels)
        dMLMLogits = FloatBuffer(count: 0)
        dResidual2 = FloatBuffer(count: n * c); dResidual1 = FloatBuffer(count: n * c)
        dBranch = FloatBuffer(count: n * c); dContext = FloatBuffer(count: n * c)
        dFFNActivation = FloatBuffer(count: n * inner); dFFNPre = FloatBuffer(count: n * inner)
        dScores = FloatBuffer(count: probsStride)
        dPoolerInput = FloatBuffer(count: pooler ? maxBatch * c : 0); dPooledPre = FloatBuffer(count: pooler ? maxBatch * c : 0)
        dClassifierInput = FloatBuffer(count: labels > 0 && withDropout ? maxBatch * c : 0)
        dMLMGather = FloatBuffer(count: 0); dMLMPre = FloatBuffer(count: 0)
        dMLMActivation = FloatBuffer(count: 0); dMLMNormed = FloatBuffer(count: 0)
    }

    deinit {
        ids.deallocate(); types.deallocate(); mask.deallocate(); positions.deallocate()
    }

    /// Floats `init` allocates in (B, H, T, T) buffers: every layer's probabilities and their
    /// gradient, and one layer's score gradient (dropout's masks are drawn again, not kept). They
    /// grow with T², unlike the rest, and are most of the graph at long sequences (`StudentMemory`).
    public static func attentionFloats(layers: Int, heads: Int, maxBatch: Int, maxSeq: Int) -> Int {
        maxBatch * heads * maxSeq * maxSeq * (2 * layers + 1)
    }

    // MARK: activations (valid after forward)

    var rows: Int { batch * seq }

    /// Hidden state `layer` as (B, T, C): 0 = embeddings output (after dropout when training), L = last layer.
    public func hiddenState(layer: Int) -> UnsafeMutablePointer<Float> {
        precondition((0...layerCount).contains(layer), "hidden state \(layer) outside 0...\(layerCount)")
        return hidden.pointer + layer * tokens * c
    }

    /// Attention probabilities of encoder layer `layer` (1-based: 1...L) as (B, H, T, T), before dropout.
    public func attentionProbabilities(layer: Int) -> UnsafeMutablePointer<Float> {
        precondition((1...layerCount).contains(layer), "attention layer \(layer) outside 1...\(layerCount)")
        return probs.pointer + (layer - 1) * probsStride
    }

    /// Fused projections of encoder layer `layer` (1-based) as (B, T, 3C): per token [q | k | v], bias included.
    public func projections(layer: Int) -> UnsafeMutablePointer<Float> {
        precondition((1...layerCount).contains(layer), "projection layer \(layer) outside 1...\(layerCount)")
        return qkv.pointer + (layer - 1) * tokens * 3 * c
    }

    /// Pooler output act(W · h[first token] + b) (tanh; ReLU for DistilBERT) as (B, C), before the classifier's dropout.
    public var pooled: UnsafeMutablePointer<Float> {
        precondition(layout.heads.pooler, "the layout has no pooler")
        return pooledBuffer.pointer
    }

    /// Classifier logits (B, labels).
    public var classifierLogits: UnsafeMutablePointer<Float> {
        precondition(labels > 0, "the layout has no classifier")
        return logitBuffer.pointer
    }

    /// MLM logits (mlmRows.count, V), row i for token row mlmRows[i].
    public var maskedLMLogits: UnsafeMutablePointer<Float> {
        precondition(layout.heads.maskedLM, "the layout has no masked-LM head")
        return mlmLogits.pointer
    }

    // MARK: gradient seeds (zeroed by forward; objectives add into them before backward)

    public func hiddenStateGradient(layer: Int) -> UnsafeMutablePointer<Float> {
        precondition((0...layerCount).contains(layer), "hidden state \(layer) outside 0...\(layerCount)")
        return dHidden.pointer + layer * tokens * c
    }

    /// Gradient w.r.t. the undropped probabilities of layer `layer` (1-based). After backward it holds
    /// the total gradient (seed plus what flowed back from the context).
    public func attentionProbabilitiesGradient(layer: Int) -> UnsafeMutablePointer<Float> {
        precondition((1...layerCount).contains(layer), "attention layer \(layer) outside 1...\(layerCount)")
        return dProbs.pointer + (layer - 1) * probsStride
    }

    public func projectionsGradient(layer: Int) -> UnsafeMutablePointer<Float> {
        precondition((1...layerCount).contains(layer), "projection layer \(layer) outside 1...\(layerCount)")
        return dQKV.pointer + (layer - 1) * tokens * 3 * c
    }

    public var pooledGradient: UnsafeMutablePointer<Float> {
        precondition(layout.heads.pooler, "the layout has no pooler")
        return dPooled.pointer
    }

    public var classifierLogitsGradient: UnsafeMutablePointer<Float> {
        precondition(labels > 0, "the layout has no classifier")
        return dLogits.pointer
    }

    public var maskedLMLogitsGradient: UnsafeMutablePointer<Float> {
        precondition(layout.heads.maskedLM, "the layout has no masked-LM head")
        return dMLMLogits.pointer
    }

    // MARK: forward

    /// Runs the encoder and every head of the layout, saving what backward needs, and zeroes every
    /// gradient seed. `mlmRows` picks the flat token rows (b·seq + t) that get MLM logits (nil: all).
    /// `training` turns dropout on (when `dropout` > 0); `seed` makes its masks reproducible.
    public func forward(_ parameters: BertParameters, _ input: BertInput, mlmRows: [Int]?, training: Bool, seed: UInt64) {
        precondition(parameters.layout.count == layout.count, "parameters do not have this graph's layout")
        check(input)
        batch = input.batch; seq = input.seq
        dropoutApplied = training && dropout > 0
        let p = parameters, n = rows
        input.inputIds.withUnsafeBufferPointer { ids.update(from: $0.baseAddress!, count: n) }
        input.tokenTypeIds.withUnsafeBufferPointer { types.update(from: $0.baseAddress!, count: n) }
        input.attentionMask.withUnsafeBufferPointer { mask.update(from: $0.baseAddress!, count: n) }
        if layout.heads.maskedLM { prepareMaskedLM(rows: mlmRows ?? Array(0..<n)) }
        zeroSeeds()
        backwardPending = true
        // Each dropout site draws from its own stream of `seed`.
        var siteSeeds = SeededGenerator(seed: seed)

        // Embeddings: hidden 0 = dropout(LayerNorm(word[ids] + position[positions] + tokenType[types])).
        let h0 = hiddenState(layer: 0)
        BertEncoderPass.embeddings(out: dropoutApplied ? embeddingNorm.pointer : h0, mean: embeddingMean.pointer, rstd: embeddingRstd.pointer,
                                   sum: embeddingSum.pointer, positions: positions, ids: ids, types: types, p, batch: batch, seq: seq)
        if dropoutApplied {
            dropoutForward(h0, embeddingKeep.pointer, embeddingNorm.pointer, probability: dropout, seed: siteSeeds.next(), count: n * c)
        }

        // Encoder layers, each into its own slots (backward reads them).
        attentionDropout.removeAll(keepingCapacity: true)
        for (i, w) in layout.layers.enumerated() {
            // The attention probabilities' seed first, then the layer draws its other two sites'.
            if dropoutApplied { attentionDropout.append(AttentionDropout(probability: dropout, seed: siteSeeds.next())) }
            let buffers = BertEncoderPass.LayerBuffers(
                qkv: qkv.pointer + i * tokens * 3 * c, probs: probs.pointer + i * probsStride, context: context.pointer + i * layerSlot,
                attentionResidual: attentionResidual.pointer + i * layerSlot, norm1: norm1.pointer + i * layerSlot,
                ffnPre: ffnPre.pointer + i * tokens * inner, ffnActivation: ffnActivation.pointer + i * tokens * inner,
                outputResidual: outputResidual.pointer + i * layerSlot,
                mean1: mean1.pointer + i * tokens, rstd1: rstd1.pointer + i * tokens, mean2: mean2.pointer + i * tokens, rstd2: rstd2.pointer + i * tokens)
            let sites = dropoutApplied
                ? BertEncoderPass.LayerDropout(attention: attentionDropout[i], attentionKeep: attentionKeep.pointer + i * layerSlot,
                                               outputKeep: outputKeep.pointer + i * layerSlot)
                : nil
            BertEncoderPass.layer(w, p, x: hiddenState(layer: i), out: hiddenState(layer: i + 1), buffers, mask: mask, batch: batch, seq: seq,
                                  dropout: sites, seeds: &siteSeeds, products: products)
        }

        // Heads: pooled = act(h[first] · Wpᵀ + bp) (tanh, or ReLU for DistilBERT); logits = dropout(pooled) · Wcᵀ + bc; MLM logits at the chosen rows.
        let last = hiddenState(layer: layerCount)
        BertEncoderPass.pooler(pooled: pooledBuffer.pointer, input: poolerInput.pointer, last: last, p, batch: batch, seq: seq, products: products)
        if labels > 0 {
            if dropoutApplied {
                dropoutForward(classifierInput.pointer, classifierKeep.pointer, pooledBuffer.pointer,
                               probability: dropout, seed: siteSeeds.next(), count: batch * c)
            }
            BertEncoderPass.classifier(logits: logitBuffer.pointer, input: dropoutApplied ? classifierInput.pointer : pooledBuffer.pointer, p, batch: batch,
                                       products: products)
        }
        if layout.heads.maskedLM {
            BertEncoderPass.maskedLM(logits: mlmLogits.pointer, gather: mlmGather.pointer, pre: mlmPre.pointer, activation: mlmActivation.pointer,
                                     normed: mlmNormed.pointer, mean: mlmMean.pointer, rstd: mlmRstd.pointer, last: last, rows: self.mlmRows, p,
                                     products: products)
        }
    }

    /// Elements of one layer's (N, C) buffer slot.
    private var layerSlot: Int { tokens * c }

    /// Zeroes the used part of every gradient seed.
    private func zeroSeeds() {
        let n = rows
        for l in 0...layerCount { zeroFill(hiddenStateGradient(layer: l), count: n * c) }
        for l in 0..<layerCount {
            zeroFill(attentionProbabilitiesGradient(layer: l + 1), count: batch * heads * seq * seq)
            zeroFill(projectionsGradient(layer: l + 1), count: n * 3 * c)
        }
        if layout.heads.pooler { zeroFill(dPooled.pointer, count: batch * c) }
        if labels > 0 { zeroFill(dLogits.pointer, count: batch * labels) }
        if layout.heads.maskedLM { zeroFill(dMLMLogits.pointer, count: mlmRows.count * vocab) }
    }

    /// Records the MLM rows and grows the head's buffers when there are more rows than ever before.
    private func prepareMaskedLM(rows chosen: [Int]) {
        precondition(chosen.allSatisfy { (0..<rows).contains($0) }, "MLM rows must lie in 0..<\(rows)")
        mlmRows = chosen
        let m = chosen.count
        if mlmGather.count < m * c {
            mlmGather = FloatBuffer(count: m * c); mlmPre = FloatBuffer(count: m * c)
            mlmActivation = FloatBuffer(count: m * c); mlmNormed = FloatBuffer(count: m * c)
            mlmMean = FloatBuffer(count: m); mlmRstd = FloatBuffer(count: m)
            mlmLogits = FloatBuffer(count: m * vocab); dMLMLogits = FloatBuffer(count: m * vocab)
            dMLMGather = FloatBuffer(count: m * c); dMLMPre = FloatBuffer(count: m * c)
            dMLMActivation = FloatBuffer(count: m * c); dMLMNormed = FloatBuffer(count: m * c)
        }
    }

    private func check(_ input: BertInput) {
        let config = layout.config
        precondition(input.batch > 0 && input.seq > 0 && input.batch <= maxBatch && input.seq <= maxSeq,
                     "batch \(input.batch) × seq \(input.seq) outside the allocated \(maxBatch) × \(maxSeq)")
        let n = input.batch * input.seq
        precondition(input.inputIds.count == n && input.tokenTypeIds.count == n && input.attentionMask.count == n,
                     "expected \(n) ids, token types and mask values for \(input.batch) × \(input.seq)")
        for i in 0..<n {
            precondition(input.inputIds[i] >= 0 && Int(input.inputIds[i]) < config.vocabSize,
                         "token id \(input.inputIds[i]) at row \(i) outside the vocabulary of \(config.vocabSize)")
            precondition(!config.family.tokenTypes || (input.tokenTypeIds[i] >= 0 && Int(input.tokenTypeIds[i]) < config.typeVocabSize),
                         "token type \(input.tokenTypeIds[i]) at row \(i) outside 0..<\(config.typeVocabSize)")
        }
    }

    // MARK: backward

    /// Propagates every gradient seed back through the last forward and ADDS the parameter gradients
    /// into `gradients` (same layout). Seeds are consumed as accumulators (afterwards the hidden-state,
    /// projection and probability seeds hold total gradients), so backward runs once per forward.
    public func backward(_ parameters: BertParameters, _ gradients: BertParameters) {
        precondition(backwardPending, "backward runs once after each forward")
        backwardPending = false
        precondition(parameters.layout.count == layout.count && gradients.layout.count == layout.count,
                     "parameters or gradients do not have this graph's layout")
        let p = parameters, g = gradients, n = rows, drop = dropoutApplied
        let last = hiddenStateGradient(layer: layerCount)

        if layout.heads.maskedLM, !mlmRows.isEmpty {
            let m = mlmRows.count
            // logits = normed · word_embeddingsᵀ + bias  →  the tied decoder adds into the word-embedding gradient.
            wordEmbeddingRows.addAll()
            zeroFill(dMLMNormed.pointer, count: m * c)
            products.backward(dMLMNormed.pointer, g[layout.wordEmbeddings], g[layout.mlmBias!], dMLMLogits.pointer,
                           mlmNormed.pointer, p[layout.wordEmbeddings], rows: m, inFeatures: c, outFeatures: vocab)
            // normed = LayerNorm(activation)
            zeroFill(dMLMActivation.pointer, count: m * c)
            layerNormBackward(dMLMActivation.pointer, g[layout.mlmNormWeight!], g[layout.mlmNormBias!], dMLMNormed.pointer,
                              mlmActivation.pointer, p[layout.mlmNormWeight!], mlmMean.pointer, mlmRstd.pointer, rows: m, dim: c)
            // activation = gelu(pre)
            zeroFill(dMLMPre.pointer, count: m * c)
            geluBackward(dMLMPre.pointer, mlmPre.pointer, dMLMActivation.pointer, count: m * c)
            // pre = gathered · Wtᵀ + bt
            zeroFill(dMLMGather.pointer, count: m * c)
            products.backward(dMLMGather.pointer, g[layout.mlmTransformWeight!], g[layout.mlmTransformBias!], dMLMPre.pointer,
                           mlmGather.pointer, p[layout.mlmTransformWeight!], rows: m, inFeatures: c, outFeatures: c)
            // gathered[i] = h[rows[i]]  →  scatter-add (rows may repeat)
            for (i, row) in mlmRows.enumerated() {
                let dst = last + row * c, src = dMLMGather.pointer + i * c
                for j in 0..<c { dst[j] += src[j] }
            }
        }
        if let weight = layout.classifierWeight, let bias = layout.classifierBias {
            // logits = dropout(pooled) · Wcᵀ + bc
            let dInput = drop ? dClassifierInput.pointer : dPooled.pointer
            if drop { zeroFill(dInput, count: batch * c) }
            products.backward(dInput, g[weight], g[bias], dLogits.pointer, drop ? classifierInput.pointer : pooledBuffer.pointer,
                           p[weight], rows: batch, inFeatures: c, outFeatures: labels)
            if drop { dropoutBackward(dPooled.pointer, dInput, classifierKeep.pointer, count: batch * c) }
        }
        if let weight = layout.poolerWeight, let bias = layout.poolerBias {
            // pooled = act(pre), tanh or ReLU, from the saved output
            zeroFill(dPooledPre.pointer, count: batch * c)
            switch layout.config.family.poolerActivation {
            case .tanh: tanhBackward(dPooledPre.pointer, dPooled.pointer, pooledBuffer.pointer, count: batch * c)
            case .relu: reluBackward(dPooledPre.pointer, dPooled.pointer, pooledBuffer.pointer, count: batch * c)
            }
            // pre = h[CLS] · Wpᵀ + bp
            zeroFill(dPoolerInput.pointer, count: batch * c)
            products.backward(dPoolerInput.pointer, g[weight], g[bias], dPooledPre.pointer, poolerInput.pointer, p[weight],
                           rows: batch, inFeatures: c, outFeatures: c)
            // poolerInput[b] = h[b, 0]
            for b in 0..<batch { addInPlace(last + b * seq * c, dPoolerInput.pointer + b * c, count: c) }
        }

        for (i, w) in layout.layers.enumerated().reversed() {
            let x = hiddenState(layer: i), dx = hiddenStateGradient(layer: i), dout = hiddenStateGradient(layer: i + 1)
            let q = qkv.pointer + i * tokens * 3 * c, pr = probs.pointer + i * probsStride
            let ctx = context.pointer + i * layerSlot, res1 = attentionResidual.pointer + i * layerSlot, nrm1 = norm1.pointer + i * layerSlot
            let pre = ffnPre.pointer + i * tokens * inner, act = ffnActivation.pointer + i * tokens * inner
            let res2 = outputResidual.pointer + i * layerSlot
            let dRes2 = dResidual2.pointer, dRes1 = dResidual1.pointer

            // out = LayerNorm(res2)
            zeroFill(dRes2, count: n * c)
            layerNormBackward(dRes2, g[w.outputNormWeight], g[w.outputNormBias], dout, res2, p[w.outputNormWeight],
                              mean2.pointer + i * tokens, rstd2.pointer + i * tokens, rows: n, dim: c)
            // res2 = dropout(ffnOut) + norm1  →  dffnOut = dres2 ⊙ keep; dnorm1 = dres2 (accumulates in dRes2 below)
            var dFFNOut = dRes2
            if drop {
                dFFNOut = dBranch.pointer
                zeroFill(dFFNOut, count: n * c)
                dropoutBackward(dFFNOut, dRes2, outputKeep.pointer + i * layerSlot, count: n * c)
            }
            // ffnOut = act · Woutᵀ + bout
            zeroFill(dFFNActivation.pointer, count: n * inner)
            products.backward(dFFNActivation.pointer, g[w.outputWeight], g[w.outputBias], dFFNOut, act, p[w.outputWeight],
                           rows: n, inFeatures: inner, outFeatures: c)
            // act = gelu(pre)
            zeroFill(dFFNPre.pointer, count: n * inner)
            geluBackward(dFFNPre.pointer, pre, dFFNActivation.pointer, count: n * inner)
            // pre = norm1 · Wiᵀ + bi  →  dnorm1 += dpre · Wi (dRes2 now holds dnorm1)
            products.backward(dRes2, g[w.intermediateWeight], g[w.intermediateBias], dFFNPre.pointer, nrm1, p[w.intermediateWeight],
                           rows: n, inFeatures: c, outFeatures: inner)
            // norm1 = LayerNorm(res1)
            zeroFill(dRes1, count: n * c)
            layerNormBackward(dRes1, g[w.attentionNormWeight], g[w.attentionNormBias], dRes2, res1, p[w.attentionNormWeight],
                              mean1.pointer + i * tokens, rstd1.pointer + i * tokens, rows: n, dim: c)
            // res1 = dropout(attnOut) + x  →  dx += dres1; dattnOut = dres1 ⊙ keep
            addInPlace(dx, dRes1, count: n * c)
            var dAttentionOut = dRes1
            if drop {
                dAttentionOut = dBranch.pointer
                zeroFill(dAttentionOut, count: n * c)
                dropoutBackward(dAttentionOut, dRes1, attentionKeep.pointer + i * layerSlot, count: n * c)
            }
            // attnOut = ctx · Woᵀ + bo
            zeroFill(dContext.pointer, count: n * c)
            products.backward(dContext.pointer, g[w.attentionOutWeight], g[w.attentionOutBias], dAttentionOut, ctx,
                           p[w.attentionOutWeight], rows: n, inFeatures: c, outFeatures: c)
            // ctx = dropout(softmax(q kᵀ / √d)) · v  →  dqkv (seed of this layer's projections) and dprobs (its probabilities' seed)
            let dq = projectionsGradient(layer: i + 1)
            attentionBackward(dq, attentionProbabilitiesGradient(layer: i + 1), dScores.pointer, dContext.pointer, q, pr,
                              dropout: drop ? attentionDropout[i] : nil, batch: batch, seq: seq, hidden: c, heads: heads)
            // qkv = x · Wqkvᵀ + bqkv
            products.backward(dx, g[w.qkvWeight], g[w.qkvBias], dq, x, p[w.qkvWeight], rows: n, inFeatures: c, outFeatures: 3 * c)
        }

        // hidden 0 = dropout(LayerNorm(embeddingSum))
        let dh0 = hiddenStateGradient(layer: 0)
        var dNorm = dh0
        if drop {
            dNorm = dBranch.pointer
            zeroFill(dNorm, count: n * c)
            dropoutBackward(dNorm, dh0, embeddingKeep.pointer, count: n * c)
        }
        let dSum = dResidual1.pointer
        zeroFill(dSum, count: n * c)
        layerNormBackward(dSum, g[layout.embeddingNormWeight], g[layout.embeddingNormBias], dNorm, embeddingSum.pointer,
                          p[layout.embeddingNormWeight], embeddingMean.pointer, embeddingRstd.pointer, rows: n, dim: c)
        // embeddingSum = word[ids] + position[positions] + tokenType[types]
        let dTypes = layout.tokenTypeEmbeddings.map { g[$0] }
        embeddingBackward(g[layout.wordEmbeddings], g[layout.positionEmbeddings], dTypes, dSum,
                          ids, positions, dTypes == nil ? nil : UnsafePointer(types), rows: n, hidden: c)
        wordEmbeddingRows.add(ids, count: n)
    }
}

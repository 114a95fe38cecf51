import Kernels

/// What a forward pass keeps for the caller beyond the last hidden state.
public struct BertCapture: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// Embedding output (layer 0) and every layer's output.
    public static let hiddenStates = BertCapture(rawValue: 1 << 0)
    /// Attention probabilities per layer and head.
    public static let attentions = BertCapture(rawValue: 1 << 1)
    /// The query, key and value projections per layer (fused, see `projections(layer:)`).
    public static let projections = BertCapture(rawValue: 1 << 2)
    /// Pooler output and, with a classifier, its logits; with an MLM head, logits at chosen rows.
    public static let logits = BertCapture(rawValue: 1 << 3)
    public static let all: BertCapture = [.hiddenStates, .attentions, .projections, .logits]
}

/// One batch of token ids laid out (batch, seq), row-major; mask 1 = real token, 0 = padding.
public struct BertInput: Sendable {
    public var batch: Int, seq: Int
    public var inputIds: [Int32], tokenTypeIds: [Int32], attentionMask: [Int32]

    public init(batch: Int, seq: Int, inputIds: [Int32], tokenTypeIds: [Int32], attentionMask: [Int32]) {
        self.batch = batch; self.seq = seq
        self.inputIds = inputIds; self.tokenTypeIds = tokenTypeIds; self.attentionMask = attentionMask
    }
}

/// The inference forward pass of a BERT teacher, with every activation allocated once for
/// (maxBatch, maxSeq) and reused. Captured tensors are read through the accessors after `run`
/// and stay valid until the next `run`.
public final class BertForward {
    public let model: BertModel
    public let maxBatch: Int, maxSeq: Int
    public let capture: BertCapture
    public private(set) var batch = 0, seq = 0
    /// Rows (flat b·seq + t) whose MLM logits were computed by the last run.
    public private(set) var logitRows: [Int] = []

    private let c: Int, heads: Int, inner: Int, layerCount: Int
    private let hidden: FloatBuffer        // (L+1, maxB·maxT, C) when captured, else 2 alternating slots
    private let qkv: FloatBuffer           // (L or 1, maxB·maxT, 3C)
    private let probs: FloatBuffer         // (L or 1, maxB, H, maxT, maxT)
    private let context, attentionOut, norm1, ffnOut: FloatBuffer  // (maxB·maxT, C)
    private let ffn, ffnActivation: FloatBuffer  // (maxB·maxT, I) before and after GELU
    private let pooledBuffer, pooledPre: FloatBuffer  // (maxB, C)
    private let logitBuffer: FloatBuffer   // classifier (maxB, labels)
    private var mlmLogits: FloatBuffer     // (rows, V), grown on demand
    private var mlmTransform: FloatBuffer  // (rows, C)
    private var mlmGather: FloatBuffer     // (rows, C)

    public init(model: BertModel, maxBatch: Int, maxSeq: Int, capture: BertCapture) {
        self.model = model; self.maxBatch = maxBatch; self.maxSeq = maxSeq; self.capture = capture
        let config = model.config
        c = config.hiddenSize; heads = config.numAttentionHeads; inner = config.intermediateSize
        layerCount = config.numHiddenLayers
        let tokens = maxBatch * maxSeq
        hidden = FloatBuffer(count: (capture.contains(.hiddenStates) ? layerCount + 1 : 2) * tokens * c)
        qkv = FloatBuffer(count: (capture.contains(.projections) ? layerCount : 1) * tokens * 3 * c)
        probs = FloatBuffer(count: (capture.contains(.attentions) ? layerCount : 1) * maxBatch * heads * maxSeq * maxSeq)
        context = FloatBuffer(count: tokens * c); attentionOut = FloatBuffer(count: tokens * c)
        norm1 = FloatBuffer(count: tokens * c); ffnOut = FloatBuffer(count: tokens * c)
        ffn = FloatBuffer(count: tokens * inner); ffnActivation = FloatBuffer(count: tokens * inner)
        pooledBuffer = FloatBuffer(count: maxBatch * c); pooledPre = FloatBuffer(count: maxBatch * c)
        logitBuffer = FloatBuffer(count: maxBatch * max(1, model.heads.classifierLabels))
        mlmLogits = FloatBuffer(count: 0); mlmTransform = FloatBuffer(count: 0); mlmGather = FloatBuffer(count: 0)
    }

    // MARK: accessors (valid after `run`)

    private var tokenStride: Int { maxBatch * maxSeq }

    /// Hidden state `layer` (0 = embeddings output) as (batch, seq, C). The last layer is always available.
    public func hiddenState(layer: Int) -> UnsafeBufferPointer<Float> {
        precondition(capture.contains(.hiddenStates) || layer == layerCount, "hidden state \(layer) was not captured")
        return UnsafeBufferPointer(start: hiddenSlot(layer), count: batch * seq * c)
    }

    /// Attention probabilities of `layer` (1 … L, as the cache and the training graph number
    /// them: hidden state `layer` is that layer's output) as (batch, heads, seq, seq).
    public func attentionProbabilities(layer: Int) -> UnsafeBufferPointer<Float> {
        precondition(capture.contains(.attentions), "attention probabilities were not captured")
        precondition((1...layerCount).contains(layer), "attention layer \(layer) outside 1…\(layerCount)")
        return UnsafeBufferPointer(start: probs.pointer + (layer - 1) * maxBatch * heads * maxSeq * maxSeq,
                                   count: batch * heads * seq * seq)
    }

    /// Fused projections of `layer` (1 … L) as (batch, seq, 3C): per token [query | key | value].
    public func projections(layer: Int) -> UnsafeBufferPointer<Float> {
        precondition(capture.contains(.projections), "projections were not captured")
        precondition((1...layerCount).contains(layer), "projection layer \(layer) outside 1…\(layerCount)")
        return UnsafeBufferPointer(start: qkv.pointer + (layer - 1) * tokenStride * 3 * c, count: batch * seq * 3 * c)
    }

    public enum Projection: Int, CaseIterable, Sendable { case query, key, value }

    /// One projection of `layer` copied out of the fused buffer as (batch, seq, C).
    public func projection(_ which: Projection, layer: Int) -> [Float] {
        let fused = projections(layer: layer), width = 3 * c, start = which.rawValue * c
        var out = [Float](repeating: 0, count: batch * seq * c)
        out.withUnsafeMutableBufferPointer { dst in
            for row in 0..<(batch * seq) {
                (dst.baseAddress! + row * c).update(from: fused.baseAddress! + row * width + start, count: c)
            }
        }
        return out
    }

    /// Pooler output (batch, C).
    public var pooled: UnsafeBufferPointer<Float> {
        precondition(model.heads.pooler && capture.contains(.logits), "pooled output was not computed")
        return UnsafeBufferPointer(start: pooledBuffer.pointer, count: batch * c)
    }

    /// Classifier logits (batch, labels).
    public var classifierLogits: UnsafeBufferPointer<Float> {
        precondition(model.heads.classifierLabels > 0 && capture.contains(.logits), "classifier logits were not computed")
        return UnsafeBufferPointer(start: logitBuffer.pointer, count: batch * model.heads.classifierLabels)
    }

    /// MLM logits (logitRows.count, V) at the rows passed to `run`.
    public var maskedLMLogits: UnsafeBufferPointer<Float> {
        precondition(model.heads.maskedLM && capture.contains(.logits), "MLM logits were not computed")
        return UnsafeBufferPointer(start: mlmLogits.pointer, count: logitRows.count * model.config.vocabSize)
    }

    /// Without hidden-state capture two slots alternate, arranged so the last layer lands in slot 1.
    private func hiddenSlot(_ layer: Int) -> UnsafeMutablePointer<Float> {
        let index = capture.contains(.hiddenStates) ? layer : ((layerCount - layer) % 2 == 0 ? 1 : 0)
        return hidden.pointer + index * tokenStride * c
    }

    // MARK: forward

    /// Runs the encoder (and heads when `.logits` is captured). `mlmRows` picks the flat token rows
    /// (b·seq + t) that get MLM logits; nil means every row.
    public func run(_ input: BertInput, mlmRows: [Int]? = nil) throws {
        try validate(input)
        batch = input.batch; seq = input.seq
        let config = model.config, p = model.parameters, layout = model.layout
        let rows = batch * seq

        // Embeddings: word + position + token type, then LayerNorm → hidden state 0.
        let h0 = hiddenSlot(0)
        input.inputIds.withUnsafeBufferPointer { ids in
            input.tokenTypeIds.withUnsafeBufferPointer { types in
                embeddingForward(context.pointer, ids.baseAddress!, types.baseAddress!,
                                 p[layout.wordEmbeddings], p[layout.positionEmbeddings], p[layout.tokenTypeEmbeddings],
                                 batch: batch, seq: seq, hidden: c)
            }
        }
        layerNormForward(h0, nil, nil, context.pointer, p[layout.embeddingNormWeight], p[layout.embeddingNormBias],
                         rows: rows, dim: c, eps: config.layerNormEps)

        try input.attentionMask.withUnsafeBufferPointer { mask in
            for (l, w) in layout.layers.enumerated() {
                let x = hiddenSlot(l), out = hiddenSlot(l + 1)
                let q = qkv.pointer + (capture.contains(.projections) ? l * tokenStride * 3 * c : 0)
                let pr = probs.pointer + (capture.contains(.attentions) ? l * maxBatch * heads * maxSeq * maxSeq : 0)
                // Self-attention.
                linearForward(q, x, p[w.qkvWeight], p[w.qkvBias], rows: rows, inFeatures: c, outFeatures: 3 * c)
                attentionForward(context.pointer, pr, q, mask.baseAddress!, batch: batch, seq: seq, hidden: c, heads: heads)
                linearForward(attentionOut.pointer, context.pointer, p[w.attentionOutWeight], p[w.attentionOutBias],
                              rows: rows, inFeatures: c, outFeatures: c)
                addInPlace(attentionOut.pointer, x, count: rows * c)
                layerNormForward(norm1.pointer, nil, nil, attentionOut.pointer, p[w.attentionNormWeight], p[w.attentionNormBias],
                                 rows: rows, dim: c, eps: config.layerNormEps)
                // Feed-forward.
                linearForward(ffn.pointer, norm1.pointer, p[w.intermediateWeight], p[w.intermediateBias],
                              rows: rows, inFeatures: c, outFeatures: inner)
                // Out of place: in place the compiler cannot rule out aliasing and the loop runs 3× slower.
                geluForward(ffnActivation.pointer, ffn.pointer, count: rows * inner)
                linearForward(ffnOut.pointer, ffnActivation.pointer, p[w.outputWeight], p[w.outputBias],
                              rows: rows, inFeatures: inner, outFeatures: c)
                addInPlace(ffnOut.pointer, norm1.pointer, count: rows * c)
                layerNormForward(out, nil, nil, ffnOut.pointer, p[w.outputNormWeight], p[w.outputNormBias],
                                 rows: rows, dim: c, eps: config.layerNormEps)
                try checkFinite(out, count: rows * c, mask: mask, what: "layer \(l + 1) output")
            }
        }
        if capture.contains(.logits) { runHeads(mlmRows: mlmRows) }
    }

    private func runHeads(mlmRows: [Int]?) {
        let p = model.parameters, layout = model.layout, last = hiddenSlot(layerCount)
        if let weight = layout.poolerWeight, let bias = layout.poolerBias {
            // pooled = tanh(W · h[CLS] + b)
            for b in 0..<batch { (pooledPre.pointer + b * c).update(from: last + b * seq * c, count: c) }
            linearForward(pooledBuffer.pointer, pooledPre.pointer, p[weight], p[bias], rows: batch, inFeatures: c, outFeatures: c)
            tanhForward(pooledBuffer.pointer, pooledBuffer.pointer, count: batch * c)
        }
        if let weight = layout.classifierWeight, let bias = layout.classifierBias {
            linearForward(logitBuffer.pointer, pooledBuffer.pointer, p[weight], p[bias],
                          rows: batch, inFeatures: c, outFeatures: layout.heads.classifierLabels)
        }
        if layout.heads.maskedLM {
            logitRows = mlmRows ?? Array(0..<(batch * seq))
            runMaskedLMHead(last)
        }
    }

    /// logits = LayerNorm(gelu(W_t · h + b_t)) · word_embeddingsᵀ + bias, at `logitRows` only
    /// (a full (B·T, V) matrix would be ~1 GB for a 30k vocabulary).
    private func runMaskedLMHead(_ last: UnsafeMutablePointer<Float>) {
        let p = model.parameters, layout = model.layout, v = model.config.vocabSize, n = logitRows.count
        if mlmGather.count < n * c {
            mlmGather = FloatBuffer(count: n * c); mlmTransform = FloatBuffer(count: n * c)
            mlmLogits = FloatBuffer(count: n * v)
        }
        for (i, row) in logitRows.enumerated() { (mlmGather.pointer + i * c).update(from: last + row * c, count: c) }
        linearForward(mlmTransform.pointer, mlmGather.pointer, p[layout.mlmTransformWeight!], p[layout.mlmTransformBias!],
                      rows: n, inFeatures: c, outFeatures: c)
        geluForward(mlmTransform.pointer, mlmTransform.pointer, count: n * c)
        layerNormForward(mlmGather.pointer, nil, nil, mlmTransform.pointer, p[layout.mlmNormWeight!], p[layout.mlmNormBias!],
                         rows: n, dim: c, eps: model.config.layerNormEps)
        linearForward(mlmLogits.pointer, mlmGather.pointer, p[layout.wordEmbeddings], p[layout.mlmBias!],
                      rows: n, inFeatures: c, outFeatures: v)
    }

    private func validate(_ input: BertInput) throws {
        let config = model.config
        guard input.batch > 0, input.seq > 0, input.batch <= maxBatch, input.seq <= maxSeq else {
            throw BertError.input("batch \(input.batch) × seq \(input.seq) outside the allocated \(maxBatch) × \(maxSeq)")
        }
        guard input.seq <= config.maxPositionEmbeddings else {
            throw BertError.input("sequence length \(input.seq) exceeds max_position_embeddings \(config.maxPositionEmbeddings)")
        }
        let n = input.batch * input.seq
        guard input.inputIds.count == n, input.tokenTypeIds.count == n, input.attentionMask.count == n else {
            throw BertError.input("expected \(n) ids, token types and mask values for \(input.batch) × \(input.seq)")
        }
        for i in 0..<n {
            if input.inputIds[i] < 0 || Int(input.inputIds[i]) >= config.vocabSize {
                throw BertError.input("row \(i / input.seq), position \(i % input.seq): token id \(input.inputIds[i]) outside the vocabulary of \(config.vocabSize)")
            }
            if input.tokenTypeIds[i] < 0 || Int(input.tokenTypeIds[i]) >= config.typeVocabSize {
                throw BertError.input("row \(i / input.seq), position \(i % input.seq): token type \(input.tokenTypeIds[i]) outside 0..<\(config.typeVocabSize)")
            }
        }
        for b in 0..<input.batch where !(0..<input.seq).contains(where: { input.attentionMask[b * input.seq + $0] != 0 }) {
            throw BertError.input("row \(b) has no real token (its attention mask is all zero)")
        }
    }

    /// NaN or Inf in a real token's activations means broken weights; name the first offender.
    private func checkFinite(_ values: UnsafeMutablePointer<Float>, count: Int, mask: UnsafeBufferPointer<Int32>, what: String) throws {
        for row in 0..<(count / c) where mask[row] != 0 {
            let r = values + row * c
            for i in 0..<c where !r[i].isFinite {
                throw BertError.nonFinite(batchRow: row / seq, position: row % seq, detail: "non-finite value \(r[i]) in \(what)")
            }
        }
    }
}

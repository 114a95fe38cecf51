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

/// The inference forward pass of a BERT teacher (`BertEncoderPass`, the one the training graph
/// runs too), with every activation allocated once for (maxBatch, maxSeq) and reused. Captured tensors are read through the accessors after `run`
/// and stay valid until the next `run`.
public final class BertForward {
    public let model: BertModel
    public let maxBatch: Int, maxSeq: Int
    public let capture: BertCapture
    /// fp32, or bf16 matrix products; either way the encoder layers' weights are packed once for oneDNN.
    public let precision: Precision
    private let packedLayers: [BertEncoderPass.PackedLayer]
    public private(set) var batch = 0, seq = 0
    /// Rows (flat b·seq + t) whose MLM logits were computed by the last run.
    public private(set) var logitRows: [Int] = []

    private let c: Int, heads: Int, inner: Int, layerCount: Int
    private let hidden: FloatBuffer        // (L+1, maxB·maxT, C) when captured, else 2 alternating slots
    private let qkv: FloatBuffer           // (L or 1, maxB·maxT, 3C)
    private let probs: FloatBuffer         // (L or 1, maxB, H, maxT, maxT)
    // One layer's intermediates, reused by every layer (BertEncoderPass.LayerBuffers).
    private let context, attentionResidual, norm1, outputResidual: FloatBuffer  // (maxB·maxT, C)
    private let ffnActivation: FloatBuffer  // (maxB·maxT, I) after GELU (the packed product applies it: no buffer before)
    private let pooledBuffer, pooledInput: FloatBuffer  // (maxB, C)
    private let logitBuffer: FloatBuffer   // classifier (maxB, labels)
    private var positionIds: [Int32]       // (maxB·maxT) the family's position ids
    private var mlmLogits: FloatBuffer     // (rows, V), grown on demand
    private var mlmGather, mlmPre, mlmActivation, mlmNormed: FloatBuffer  // (rows, C)

    /// `precision` bf16 needs a CPU with AVX-512 BF16: check `precision.unsupportedReason` first.
    public init(model: BertModel, maxBatch: Int, maxSeq: Int, capture: BertCapture, precision: Precision = .fp32) {
        self.model = model; self.maxBatch = maxBatch; self.maxSeq = maxSeq; self.capture = capture; self.precision = precision
        precondition(precision.unsupportedReason == nil, precision.unsupportedReason ?? "")
        packedLayers = model.layout.layers.map { BertEncoderPass.PackedLayer($0, model.parameters, precision: precision) }
        let config = model.config
        c = config.hiddenSize; heads = config.numAttentionHeads; inner = config.intermediateSize
        layerCount = config.numHiddenLayers
        let tokens = maxBatch * maxSeq
        hidden = FloatBuffer(count: (capture.contains(.hiddenStates) ? layerCount + 1 : 2) * tokens * c)
        qkv = FloatBuffer(count: (capture.contains(.projections) ? layerCount : 1) * tokens * 3 * c)
        probs = FloatBuffer(count: (capture.contains(.attentions) ? layerCount : 1) * maxBatch * heads * maxSeq * maxSeq)
        context = FloatBuffer(count: tokens * c); attentionResidual = FloatBuffer(count: tokens * c)
        norm1 = FloatBuffer(count: tokens * c); outputResidual = FloatBuffer(count: tokens * c)
        ffnActivation = FloatBuffer(count: tokens * inner)
        pooledBuffer = FloatBuffer(count: maxBatch * c); pooledInput = FloatBuffer(count: maxBatch * c)
        logitBuffer = FloatBuffer(count: maxBatch * max(1, model.heads.classifierLabels))
        positionIds = [Int32](repeating: 0, count: tokens)
        mlmLogits = FloatBuffer(count: 0); mlmGather = FloatBuffer(count: 0); mlmPre = FloatBuffer(count: 0)
        mlmActivation = FloatBuffer(count: 0); mlmNormed = FloatBuffer(count: 0)
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

    /// Runs the encoder (and heads when `.logits` is captured) through `BertEncoderPass`, every
    /// layer writing into the same scratch. `mlmRows` picks the flat token rows (b·seq + t) that get
    /// MLM logits; nil means every row.
    public func run(_ input: BertInput, mlmRows: [Int]? = nil) throws {
        try validate(input)
        batch = input.batch; seq = input.seq
        let p = model.parameters, rows = batch * seq

        // Embeddings → hidden state 0 (the context buffer holds their sum).
        input.inputIds.withUnsafeBufferPointer { ids in
            input.tokenTypeIds.withUnsafeBufferPointer { types in
                positionIds.withUnsafeMutableBufferPointer { positions in
                    BertEncoderPass.embeddings(out: hiddenSlot(0), mean: nil, rstd: nil, sum: context.pointer, positions: positions.baseAddress!,
                                               ids: ids.baseAddress!, types: types.baseAddress!, p, batch: batch, seq: seq)
                }
            }
        }
        var noDropout = SeededGenerator(seed: 0)
        try input.attentionMask.withUnsafeBufferPointer { mask in
            for (l, w) in model.layout.layers.enumerated() {
                let out = hiddenSlot(l + 1)
                let buffers = BertEncoderPass.LayerBuffers(
                    qkv: qkv.pointer + (capture.contains(.projections) ? l * tokenStride * 3 * c : 0),
                    probs: probs.pointer + (capture.contains(.attentions) ? l * maxBatch * heads * maxSeq * maxSeq : 0),
                    context: context.pointer, attentionResidual: attentionResidual.pointer, norm1: norm1.pointer,
                    ffnPre: ffnActivation.pointer, ffnActivation: ffnActivation.pointer, outputResidual: outputResidual.pointer)
                BertEncoderPass.layer(w, p, x: hiddenSlot(l), out: out, buffers, mask: mask.baseAddress!, batch: batch, seq: seq,
                                      seeds: &noDropout, packed: packedLayers[l])
                try checkFinite(out, count: rows * c, mask: mask, what: "layer \(l + 1) output")
            }
        }
        if capture.contains(.logits) { runHeads(mlmRows: mlmRows) }
    }

    private func runHeads(mlmRows: [Int]?) {
        let p = model.parameters, last = hiddenSlot(layerCount)
        BertEncoderPass.pooler(pooled: pooledBuffer.pointer, input: pooledInput.pointer, last: last, p, batch: batch, seq: seq)
        BertEncoderPass.classifier(logits: logitBuffer.pointer, input: pooledBuffer.pointer, p, batch: batch)
        guard model.layout.heads.maskedLM else { return }
        logitRows = mlmRows ?? Array(0..<(batch * seq))
        let n = logitRows.count
        if mlmGather.count < n * c {
            mlmGather = FloatBuffer(count: n * c); mlmPre = FloatBuffer(count: n * c)
            mlmActivation = FloatBuffer(count: n * c); mlmNormed = FloatBuffer(count: n * c)
            mlmLogits = FloatBuffer(count: n * model.config.vocabSize)
        }
        BertEncoderPass.maskedLM(logits: mlmLogits.pointer, gather: mlmGather.pointer, pre: mlmPre.pointer, activation: mlmActivation.pointer,
                                 normed: mlmNormed.pointer, mean: nil, rstd: nil, last: last, rows: logitRows, p)
    }

    private func validate(_ input: BertInput) throws {
        let config = model.config
        guard input.batch > 0, input.seq > 0, input.batch <= maxBatch, input.seq <= maxSeq else {
            throw BertError.input("batch \(input.batch) × seq \(input.seq) outside the allocated \(maxBatch) × \(maxSeq)")
        }
        guard input.seq <= config.maxSequenceLength else {
            throw BertError.input("sequence length \(input.seq) exceeds \(config.positionsDescription)")
        }
        let n = input.batch * input.seq
        guard input.inputIds.count == n, input.tokenTypeIds.count == n, input.attentionMask.count == n else {
            throw BertError.input("expected \(n) ids, token types and mask values for \(input.batch) × \(input.seq)")
        }
        for i in 0..<n {
            if input.inputIds[i] < 0 || Int(input.inputIds[i]) >= config.vocabSize {
                throw BertError.input("row \(i / input.seq), position \(i % input.seq): token id \(input.inputIds[i]) outside the vocabulary of \(config.vocabSize)")
            }
            if config.family.tokenTypes, input.tokenTypeIds[i] < 0 || Int(input.tokenTypeIds[i]) >= config.typeVocabSize {
                throw BertError.input("row \(i / input.seq), position \(i % input.seq): token type \(input.tokenTypeIds[i]) outside 0..<\(config.typeVocabSize)")
            }
        }
        for b in 0..<input.batch where !(0..<input.seq).contains(where: { input.attentionMask[b * input.seq + $0] != 0 }) {
            throw BertError.input("row \(b) has no real token (its attention mask is all zero)")
        }
    }

    /// NaN or Inf in a real token's activations means broken weights; name the first offender.
    /// Each row is first screened by the largest exponent field in it (a reduction that vectorises;
    /// all ones only for Inf or NaN), and only a row that fails is searched.
    private func checkFinite(_ values: UnsafeMutablePointer<Float>, count: Int, mask: UnsafeBufferPointer<Int32>, what: String) throws {
        for row in 0..<(count / c) where mask[row] != 0 {
            let r = values + row * c
            var exponent: UInt32 = 0
            for i in 0..<c { exponent = max(exponent, r[i].bitPattern & 0x7f80_0000) }
            if exponent != 0x7f80_0000 { continue }
            for i in 0..<c where !r[i].isFinite {
                throw BertError.nonFinite(batchRow: row / seq, position: row % seq, detail: "non-finite value \(r[i]) in \(what)")
            }
        }
    }
}

import Bert
import Kernels
import TeacherCache

/// One batch as the trainer uses it: the student's padded input and the teacher's targets padded
/// to the same (B, T), in buffers allocated once for (maxBatch, maxSeq) and refilled per step.
/// Padded positions hold zeros; every objective masks them out. A student with its own tokenizer
/// (`plan.studentTokenizer`) gets its input by encoding each example's cached text, and only
/// sequence-level targets.
public final class TargetBatch {
    public let plan: TrainingPlan
    public let maxBatch: Int, maxSeq: Int
    public internal(set) var batch = 0, seq = 0
    public internal(set) var input = BertInput(batch: 0, seq: 0, inputIds: [], tokenTypeIds: [], attentionMask: [])
    /// Real tokens in the batch.
    public internal(set) var tokens = 0
    /// Gold class per logit row (sequence, or masked position), or −100 where unknown.
    public internal(set) var labels: [Int32] = []
    /// Regression targets per sequence.
    public internal(set) var regressionTargets: [Float] = []
    /// Masked LM: flat rows b·T + t that carry logits, in cache order.
    public internal(set) var logitRows: [Int] = []
    /// Teacher hidden states per teacher layer, (B, T, C_t).
    public internal(set) var hidden: [Int: FloatBuffer] = [:]
    /// Teacher attention probabilities per teacher layer, (B, H_t, T, T).
    public internal(set) var attention: [Int: FloatBuffer] = [:]
    /// Teacher Q/K/V per teacher layer, (B, T, 3·C_t) as [q | k | v].
    public internal(set) var relations: [Int: FloatBuffer] = [:]
    /// Full teacher logits (rows, width).
    public let fullLogits: FloatBuffer
    public let logitWidth: Int
    /// Top-k ids and log-probabilities (rows, k).
    public internal(set) var topKIds: [Int32] = []
    public let topKLogProbs: FloatBuffer
    public let topK: Int
    /// Sampled KD: per row offsets into ids and counts.
    public internal(set) var sampledOffsets: [Int32] = []
    public internal(set) var sampledIds: [Int32] = []
    public internal(set) var sampledCounts: [Int32] = []
    /// pooled_mse: the teacher's pooled last hidden state per sequence, (B, C_t).
    public let pooled: FloatBuffer
    /// All ones (maxSeq): a cached sequence's own rows are all real when pooling them.
    private let realRows: [Int32]
    /// Cache sequence numbers of the batch (for error messages).
    public internal(set) var sequenceIndices: [Int] = []

    public var rows: Int { plan.isMaskedLM ? logitRows.count : batch }

    public init(plan: TrainingPlan, maxBatch: Int, maxSeq: Int, logitWidth: Int, topK: Int) {
        self.plan = plan; self.maxBatch = maxBatch; self.maxSeq = maxSeq
        self.logitWidth = logitWidth; self.topK = topK
        let t = plan.teacher, tokens = maxBatch * maxSeq
        for l in plan.selection.hiddenLayers { hidden[l] = FloatBuffer(count: tokens * t.hiddenSize) }
        for l in plan.selection.attentionLayers { attention[l] = FloatBuffer(count: maxBatch * t.heads * maxSeq * maxSeq) }
        for l in plan.selection.relationLayers { relations[l] = FloatBuffer(count: tokens * 3 * t.hiddenSize) }
        let maxRows = plan.isMaskedLM ? tokens : maxBatch
        fullLogits = FloatBuffer(count: plan.selection.logits.contains(.full) ? maxRows * logitWidth : 0)
        topKLogProbs = FloatBuffer(count: plan.selection.logits.contains(.topk) ? maxRows * topK : 0)
        pooled = FloatBuffer(count: plan.pooledPair == nil ? 0 : maxBatch * t.hiddenSize)
        realRows = [Int32](repeating: 1, count: plan.pooledPair == nil ? 0 : maxSeq)
    }

    /// Fills the batch from cached sequences, padding to the longest: inputs and teacher targets.
    public func fill(_ sequences: [CachedSequence]) throws {
        try fillInputs(sequences)
        let t = plan.teacher, c = t.hiddenSize, h = t.heads
        if let pair = plan.pooledPair {
            for (b, s) in sequences.enumerated() {
                guard let values = s.hidden[pair.teacher] else { preconditionFailure("the reader did not decode hidden layer \(pair.teacher) for sequence \(s.index)") }
                poolForward(pooled.pointer + b * c, values, realRows, pooling: plan.spec.pooling ?? .mean, batch: 1, seq: s.length, width: c)
            }
        }
        guard plan.studentTokenizer == nil else { return fillLogits(sequences) }
        // Each value is written once: copied, or zeroed where it pads (no zeroing pass first).
        let seq = seq
        for (l, buffer) in hidden {
            onAllThreads(sequences) { b, s in
                copy(s.hidden[l], into: buffer.pointer + b * seq * c, slot: seq * c, what: "hidden layer \(l)", sequence: s)
            }
        }
        for (l, buffer) in relations {
            onAllThreads(sequences) { b, s in
                copy(s.relations[l], into: buffer.pointer + b * seq * 3 * c, slot: seq * 3 * c, what: "relations layer \(l)", sequence: s)
            }
        }
        for (l, buffer) in attention {
            // Cached (H, n, n) per sequence → padded (H, T, T).
            onAllThreads(sequences) { b, s in
                let n = s.attention[l] == nil ? 0 : s.length
                for head in 0..<h {
                    let block = buffer.pointer + (b * h + head) * seq * seq
                    s.attention[l]?.withUnsafeBufferPointer { src in
                        for i in 0..<n {
                            (block + i * seq).update(from: src.baseAddress! + (head * n + i) * n, count: n)
                            (block + i * seq + n).update(repeating: 0, count: seq - n)
                        }
                    }
                    (block + n * seq).update(repeating: 0, count: (seq - n) * seq)
                }
            }
        }
        fillLogits(sequences)
    }

    /// The student's side only (input ids, masks, labels, masked rows); teacher buffers untouched.
    func fillInputs(_ sequences: [CachedSequence]) throws {
        precondition(!sequences.isEmpty && sequences.count <= maxBatch, "batch of \(sequences.count) outside 1…\(maxBatch)")
        batch = sequences.count
        sequenceIndices = sequences.map(\.index)
        let padId = Int32(plan.student.padTokenId)
        if let tokenizer = plan.studentTokenizer {
            // The student's own tokens of each example's text, cut to the batch buffers' length.
            input = BertInput(padding: try sequences.map { s in
                guard let text = s.text else {
                    throw DistillationError.incompatible("cache sequence \(s.index) (example '\(s.exampleId)') has no stored text for the student's tokenizer")
                }
                return tokenizer.encodeIds(text, pair: s.textPair, maxLength: maxSeq)
            }, padId: padId)
        } else {
            input = BertInput(padding: sequences.map { ($0.inputIds, $0.tokenTypeIds) }, padId: padId)
        }
        seq = input.seq
        precondition(seq <= maxSeq, "sequence of \(seq) tokens beyond the batch buffers' \(maxSeq)")
        tokens = input.attentionMask.reduce(0) { $0 + Int($1) }
        fillLabels(sequences)
    }

    /// `body(b, sequence)` for every sequence of the batch, spread over the threads: the targets are
    /// tens of MB a step, and the trainer's other threads would otherwise wait while one copies them.
    private func onAllThreads(_ sequences: [CachedSequence], _ body: (Int, CachedSequence) -> Void) {
        parallelFor(sequences.count) { range in
            for b in range { body(b, sequences[b]) }
        }
    }

    /// Copies a sequence's values to the start of its slot and zeroes the rest of the slot (padding).
    private func copy(_ values: [Float]?, into destination: UnsafeMutablePointer<Float>, slot: Int, what: String, sequence: CachedSequence) {
        guard let values else { preconditionFailure("the reader did not decode \(what) for sequence \(sequence.index)") }
        precondition(values.count <= slot, "\(what) of sequence \(sequence.index) holds \(values.count) values, more than its \(slot)")
        values.withUnsafeBufferPointer { destination.update(from: $0.baseAddress!, count: values.count) }
        (destination + values.count).update(repeating: 0, count: slot - values.count)
    }

    private func fillLabels(_ sequences: [CachedSequence]) {
        logitRows = []; labels = []; regressionTargets = []
        if plan.isMaskedLM {
            for (b, s) in sequences.enumerated() {
                for (k, position) in s.maskedPositions.enumerated() {
                    logitRows.append(b * seq + Int(position))
                    labels.append(s.maskedOriginalIds[k])
                }
            }
        } else {
            for s in sequences {
                if plan.classifierLabels == 1 {
                    regressionTargets.append(s.label ?? 0)
                    labels.append(-100)
                } else {
                    labels.append(s.label.map { Int32($0) } ?? -100)
                }
            }
        }
    }

    private func fillLogits(_ sequences: [CachedSequence]) {
        topKIds = []; sampledOffsets = [0]; sampledIds = []; sampledCounts = []
        if plan.selection.logits.contains(.full) {
            var position = 0
            for s in sequences {
                s.fullLogits.withUnsafeBufferPointer { fullLogits.pointer.advanced(by: position).update(from: $0.baseAddress!, count: $0.count) }
                position += s.fullLogits.count
            }
        }
        if plan.selection.logits.contains(.topk) {
            var position = 0
            for s in sequences {
                topKIds.append(contentsOf: s.topKIds)
                s.topKLogProbs.withUnsafeBufferPointer { topKLogProbs.pointer.advanced(by: position).update(from: $0.baseAddress!, count: $0.count) }
                position += s.topKLogProbs.count
            }
        }
        if plan.selection.logits.contains(.sampled) {
            for s in sequences {
                for row in s.sampled {
                    sampledIds.append(contentsOf: row.ids)
                    sampledCounts.append(contentsOf: row.counts.map(Int32.init))
                    sampledOffsets.append(Int32(sampledIds.count))
                }
            }
        }
    }
}

extension BertInput {
    /// Encoded rows (ids and token types) as one batch, padded (`padId`, type 0, mask 0) to the longest.
    public init(padding rows: [(inputIds: [Int32], tokenTypeIds: [Int32])], padId: Int32) {
        let batch = rows.count, seq = rows.map(\.inputIds.count).max() ?? 0
        var ids = [Int32](repeating: padId, count: batch * seq)
        var types = [Int32](repeating: 0, count: batch * seq), mask = types
        for (b, row) in rows.enumerated() {
            for i in 0..<row.inputIds.count {
                ids[b * seq + i] = row.inputIds[i]; types[b * seq + i] = row.tokenTypeIds[i]; mask[b * seq + i] = 1
            }
        }
        self.init(batch: batch, seq: seq, inputIds: ids, tokenTypeIds: types, attentionMask: mask)
    }
}

import Bert
import Foundation
import Kernels
import TeacherCache

/// The teacher computing targets on the fly instead of reading them from the cache: the check
/// that training from an fp32 cache is the same computation as classic online distillation
/// (`distillery train --online`). Inputs, masks and masked positions still come from the cache,
/// so both runs see identical batches.
final class OnlineTeacher {
    let model: BertModel
    let forward: BertForward
    let plan: TrainingPlan

    /// `precision`: the cache's teacher's, so that online and cached targets are the same computation.
    init(directory: URL, plan: TrainingPlan, maxBatch: Int, maxSeq: Int, precision: Precision) throws {
        do { model = try BertModel.load(directory: directory) } catch {
            throw DistillationError.io("cannot load the teacher from \(directory.path): \(error)")
        }
        let t = plan.teacher
        guard model.config.hiddenSize == t.hiddenSize, model.config.numHiddenLayers == t.layers, model.config.vocabSize == t.vocabularySize else {
            throw DistillationError.incompatible("\(directory.path) is not the teacher this cache was built with (\(t.path))")
        }
        if plan.studentTokenizer != nil {
            throw DistillationError.invalidSpec("--online runs the teacher on the student's input, so the student must share the teacher's tokenizer")
        }
        if !plan.selection.logits.isEmpty && plan.selection.logits != [.full] {
            throw DistillationError.invalidSpec("--online computes full logits, hidden states, attention and Q/K/V; top-k and sampled targets come from the cache only")
        }
        self.plan = plan
        if let reason = precision.unsupportedReason { throw DistillationError.invalidSpec(reason) }
        forward = BertForward(model: model, maxBatch: maxBatch, maxSeq: maxSeq, capture: .all, precision: precision)
    }

    func fill(_ targets: TargetBatch, _ sequences: [CachedSequence]) throws {
        try targets.fillInputs(sequences)
        try forward.run(targets.input, mlmRows: plan.isMaskedLM ? targets.logitRows : nil)
        let rows = targets.batch * targets.seq, c = plan.teacher.hiddenSize
        for (l, buffer) in targets.hidden {
            buffer.pointer.update(from: forward.hiddenState(layer: l).baseAddress!, count: rows * c)
        }
        for (l, buffer) in targets.relations {
            buffer.pointer.update(from: forward.projections(layer: l).baseAddress!, count: rows * 3 * c)
        }
        for (l, buffer) in targets.attention {
            let probs = forward.attentionProbabilities(layer: l)
            buffer.pointer.update(from: probs.baseAddress!, count: probs.count)
        }
        if let pair = plan.pooledPair {
            targets.input.attentionMask.withUnsafeBufferPointer { mask in
                poolForward(targets.pooled.pointer, forward.hiddenState(layer: pair.teacher).baseAddress!, mask.baseAddress!,
                            pooling: plan.spec.pooling ?? .mean, batch: targets.batch, seq: targets.seq, width: c)
            }
        }
        if plan.selection.logits.contains(.full) {
            let logits = plan.isMaskedLM ? forward.maskedLMLogits : forward.classifierLogits
            targets.fullLogits.pointer.update(from: logits.baseAddress!, count: logits.count)
        }
    }
}

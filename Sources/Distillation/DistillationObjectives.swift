import Bert
import Foundation
import Kernels
import Objectives
import SafeTensors
import Training

/// Unweighted loss per objective and the weighted total Σ wᵢ·lossᵢ.
public struct ObjectiveLosses: Sendable {
    public var values: [ObjectiveKind: Double] = [:]
    public var total = 0.0

    func describe() -> String { values.sorted { $0.key < $1.key }.map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", ") }
}

/// Applies a plan's objectives to one forward pass: computes each loss from the student's
/// activations and the teacher's targets and, when asked, adds weight · gradient into the
/// graph's activation gradients. Owns the learned hidden-state projections (TinyBERT's W, one
/// per projected layer pair), their gradients and their scratch, and TED's filters: the frozen
/// teacher filters of stage one and the student's own, learned here.
public final class DistillationObjectives {
    public let plan: TrainingPlan
    /// Projection weights (C_t, C_s) and biases (C_t) per hidden pair; nil where widths match.
    let projectionWeights: [FloatBuffer?], projectionBiases: [FloatBuffer?]
    let projectionWeightGradients: [FloatBuffer?], projectionBiasGradients: [FloatBuffer?]
    /// Projected student hidden state and its gradient, (B·T, C_t).
    let projected: FloatBuffer, projectedGradient: FloatBuffer
    /// TED, one per `plan.tedPairs` entry: the student's filters (learned) and the teacher's (frozen).
    let tedStudentFilters: [TedFilter], tedTeacherFilters: [TedFilter]
    /// pooled_mse: the projection (C_t, C_s) and bias (C_t) when widths differ, and their gradients.
    let pooledWeight, pooledBias, pooledWeightGradient, pooledBiasGradient: FloatBuffer?
    /// pooled_mse scratch: the pooled student (B, C_s), its projection (B, C_t), their gradients; ones (B) as a mask of pooled rows.
    let pooledStudent, pooledStudentGradient, pooledProjected, pooledProjectedGradient: FloatBuffer
    let pooledRows: [Int32]

    public init(plan: TrainingPlan, maxBatch: Int, maxSeq: Int, seed: UInt64) {
        self.plan = plan
        let cs = plan.student.hiddenSize, ct = plan.teacher.hiddenSize
        var generator = SeededGenerator(seed: seed, stream: 0x5052_4F4A)  // "PROJ"
        func matrix(_ projected: Bool) -> FloatBuffer? {
            guard projected else { return nil }
            let w = FloatBuffer(count: ct * cs)
            for i in 0..<w.count { w[i] = generator.nextNormal() * plan.student.initializerRange }
            return w
        }
        projectionWeights = plan.hiddenPairs.map { matrix($0.projected) }
        let pooledProjection = plan.pooledPair?.projected == true  // drawn after the hidden pairs', so theirs stay as they were
        pooledWeight = matrix(pooledProjection)
        pooledBias = pooledProjection ? FloatBuffer(count: ct) : nil
        pooledWeightGradient = pooledProjection ? FloatBuffer(count: ct * cs) : nil
        pooledBiasGradient = pooledProjection ? FloatBuffer(count: ct) : nil
        let pooledBatch = plan.pooledPair == nil ? 0 : maxBatch
        pooledStudent = FloatBuffer(count: pooledBatch * cs); pooledStudentGradient = FloatBuffer(count: pooledBatch * cs)
        pooledProjected = FloatBuffer(count: pooledProjection ? pooledBatch * ct : 0)
        pooledProjectedGradient = FloatBuffer(count: pooledProjection ? pooledBatch * ct : 0)
        pooledRows = [Int32](repeating: 1, count: pooledBatch)
        projectionBiases = plan.hiddenPairs.map { $0.projected ? FloatBuffer(count: ct) : nil }
        projectionWeightGradients = plan.hiddenPairs.map { $0.projected ? FloatBuffer(count: ct * cs) : nil }
        projectionBiasGradients = plan.hiddenPairs.map { $0.projected ? FloatBuffer(count: ct) : nil }
        let needsScratch = plan.hiddenPairs.contains(where: \.projected)
        projected = FloatBuffer(count: needsScratch ? maxBatch * maxSeq * ct : 0)
        projectedGradient = FloatBuffer(count: needsScratch ? maxBatch * maxSeq * ct : 0)
        // TED: the teacher filters as stage one left them; the student's ~ N(0, initializer_range²), biases 0.
        let file = plan.tedFilters
        tedTeacherFilters = plan.tedPairs.map { pair in
            let filter = TedFilter(kind: file!.kind, inputWidth: ct, width: file!.width, maxRows: maxBatch * maxSeq, trainable: false)
            filter.parameters.pointer.update(from: file!.filters[pair.teacher]!, count: filter.parameters.count)
            return filter
        }
        tedStudentFilters = plan.tedPairs.indices.map { i in
            let filter = TedFilter(kind: file!.kind, inputWidth: cs, width: file!.width, maxRows: maxBatch * maxSeq)
            filter.initialize(seed: seed, stream: 0x5445_4400 &+ UInt64(i) << 8, std: plan.student.initializerRange)  // "TED"
            return filter
        }
    }

    /// The projections as optimiser segments (weights decay, biases do not).
    public var segments: [ParameterSegment] {
        plan.hiddenPairs.indices.flatMap { i -> [ParameterSegment] in
            guard let w = projectionWeights[i], let b = projectionBiases[i], let gw = projectionWeightGradients[i], let gb = projectionBiasGradients[i] else { return [] }
            return [ParameterSegment(name: projectionName(i, "weight"), values: w.pointer, gradients: gw.pointer, count: w.count, decays: true),
                    ParameterSegment(name: projectionName(i, "bias"), values: b.pointer, gradients: gb.pointer, count: b.count, decays: false)]
        } + plan.tedPairs.indices.flatMap { i in
            let f = tedStudentFilters[i]
            return tedSegments(tedFilterName(i), f.tensors, f.parameters, f.gradients)
        } + pooledSegments
    }

    private var pooledSegments: [ParameterSegment] {
        guard let w = pooledWeight, let b = pooledBias, let gw = pooledWeightGradient, let gb = pooledBiasGradient else { return [] }
        return [ParameterSegment(name: pooledProjectionName("weight"), values: w.pointer, gradients: gw.pointer, count: w.count, decays: true),
                ParameterSegment(name: pooledProjectionName("bias"), values: b.pointer, gradients: gb.pointer, count: b.count, decays: false)]
    }

    func pooledProjectionName(_ part: String) -> String { "projection.pooled.\(part)" }

    func tedFilterName(_ pair: Int) -> String {
        "ted.student_layer_\(plan.tedPairs[pair].student).teacher_layer_\(plan.tedPairs[pair].teacher).filter"
    }

    func projectionName(_ pair: Int, _ part: String) -> String {
        "projection.student_\(plan.hiddenPairs[pair].student).teacher_\(plan.hiddenPairs[pair].teacher).\(part)"
    }

    public func zeroGradients() {
        for g in projectionWeightGradients + projectionBiasGradients { g?.zero() }
        for f in tedStudentFilters { f.gradients.zero() }
        pooledWeightGradient?.zero(); pooledBiasGradient?.zero()
    }

    /// Every objective on the current forward pass. With `gradients`, seeds the graph's gradients
    /// (the caller then runs `graph.backward`) and accumulates the projections' gradients.
    public func compute(graph: BertTrainingGraph, targets: TargetBatch, gradients: Bool) -> ObjectiveLosses {
        var result = ObjectiveLosses()
        let spec = plan.spec, b = targets.batch, t = targets.seq
        let cs = plan.student.hiddenSize, ct = plan.teacher.hiddenSize
        let heads = plan.student.numAttentionHeads
        targets.input.attentionMask.withUnsafeBufferPointer { maskBuffer in
            let mask = maskBuffer.baseAddress!
            for (kind, weight) in plan.objectives {
                let loss: Double
                switch kind {
                case .ce, .mse, .kd, .kdTopk, .kdSampled:
                    loss = logitLoss(kind, weight: weight, graph: graph, targets: targets, gradients: gradients)
                case .hiddenMSE, .hiddenCosine:
                    var sum = 0.0
                    for (i, pair) in plan.hiddenPairs.enumerated() {
                        let h = graph.hiddenState(layer: pair.student), teacher = targets.hidden[pair.teacher]!.pointer
                        // x = h_s · Wᵀ + b when the widths differ (TinyBERT), else h_s itself.
                        let x: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>?
                        if let w = projectionWeights[i], let bias = projectionBiases[i] {
                            linearForward(projected.pointer, h, w.pointer, bias.pointer, rows: b * t, inFeatures: cs, outFeatures: ct)
                            x = projected.pointer
                            dx = gradients ? projectedGradient.pointer : nil
                            dx?.update(repeating: 0, count: b * t * ct)
                        } else {
                            x = h
                            dx = gradients ? graph.hiddenStateGradient(layer: pair.student) : nil
                        }
                        sum += kind == .hiddenMSE
                            ? hiddenMSELoss(gradient: dx, weight: weight, student: x, teacher: teacher, mask: mask, batch: b, seq: t, width: ct)
                            : hiddenCosineLoss(gradient: dx, weight: weight, student: x, teacher: teacher, mask: mask, batch: b, seq: t, width: ct)
                        if gradients, let w = projectionWeights[i] {
                            linearBackward(graph.hiddenStateGradient(layer: pair.student), projectionWeightGradients[i]!.pointer,
                                           projectionBiasGradients[i]!.pointer, projectedGradient.pointer, h, w.pointer,
                                           rows: b * t, inFeatures: cs, outFeatures: ct)
                        }
                    }
                    loss = sum
                case .ted:
                    // Mean over the pairs of the MSE between filtered states (docs/objectives.md §11).
                    let share = 1 / Double(max(1, plan.tedPairs.count))
                    loss = share * plan.tedPairs.indices.reduce(0.0) { sum, i in
                        let pair = plan.tedPairs[i]
                        return sum + tedMSELoss(gradient: gradients ? graph.hiddenStateGradient(layer: pair.student) : nil, weight: weight * Float(share),
                                                learn: gradients, studentFilter: tedStudentFilters[i], teacherFilter: tedTeacherFilters[i],
                                                student: graph.hiddenState(layer: pair.student), teacher: targets.hidden[pair.teacher]!.pointer,
                                                mask: mask, batch: b, seq: t)
                    }
                case .pooledMSE:
                    loss = pooledLoss(weight: weight, graph: graph, targets: targets, mask: mask, gradients: gradients)
                case .attentionKL:
                    loss = plan.attentionPairs.reduce(0.0) { sum, pair in
                        sum + attentionKLLoss(gradient: gradients ? graph.attentionProbabilitiesGradient(layer: pair.student) : nil, weight: weight,
                                              student: graph.attentionProbabilities(layer: pair.student), teacher: targets.attention[pair.teacher]!.pointer,
                                              mask: mask, batch: b, seq: t, heads: heads)
                    }
                case .attentionScores:
                    loss = plan.attentionPairs.reduce(0.0) { sum, pair in
                        sum + attentionScoreMSELoss(gradient: gradients ? graph.projectionsGradient(layer: pair.student) : nil, weight: weight,
                                                    student: graph.projections(layer: pair.student), studentStride: 3 * cs, studentWidth: cs,
                                                    teacher: targets.relations[pair.teacher]!.pointer, teacherStride: 3 * ct, teacherWidth: ct,
                                                    mask: mask, batch: b, seq: t, heads: heads)
                    }
                case .valueRelation:
                    loss = plan.attentionPairs.reduce(0.0) { sum, pair in
                        sum + relationLoss(.value, relationHeads: heads, pair: pair, weight: weight, graph: graph, targets: targets, mask: mask, gradients: gradients)
                    }
                case .relations:
                    loss = plan.relationPairs.reduce(0.0) { sum, pair in
                        sum + RelationProjection.allCases.reduce(0.0) { s, which in
                            s + relationLoss(which, relationHeads: spec.relationHeads, pair: pair, weight: weight, graph: graph, targets: targets, mask: mask, gradients: gradients)
                        }
                    }
                }
                result.values[kind] = loss
                result.total += Double(weight) * loss
            }
        }
        return result
    }

    /// pooled_mse (docs/objectives.md): MSE between W·pool(h_s) + b (or pool(h_s) when the widths
    /// match) and the teacher's pooled last hidden state, over the B sequences and C_t columns.
    private func pooledLoss(weight: Float, graph: BertTrainingGraph, targets: TargetBatch, mask: UnsafePointer<Int32>, gradients: Bool) -> Double {
        guard let pair = plan.pooledPair else { return 0 }
        let b = targets.batch, t = targets.seq, cs = plan.student.hiddenSize, ct = plan.teacher.hiddenSize
        let pooling = plan.spec.pooling ?? .mean
        // pooled = pool(h_s); x = pooled · Wᵀ + bias, or pooled itself.
        poolForward(pooledStudent.pointer, graph.hiddenState(layer: pair.student), mask, pooling: pooling, batch: b, seq: t, width: cs)
        let x: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>
        if let w = pooledWeight, let bias = pooledBias {
            linearForward(pooledProjected.pointer, pooledStudent.pointer, w.pointer, bias.pointer, rows: b, inFeatures: cs, outFeatures: ct)
            (x, dx) = (pooledProjected.pointer, pooledProjectedGradient.pointer)
        } else {
            (x, dx) = (pooledStudent.pointer, pooledStudentGradient.pointer)
        }
        if gradients { dx.update(repeating: 0, count: b * ct) }
        let loss = pooledRows.withUnsafeBufferPointer { rows in
            hiddenMSELoss(gradient: gradients ? dx : nil, weight: weight, student: x, teacher: targets.pooled.pointer, mask: rows.baseAddress!,
                          batch: b, seq: 1, width: ct)
        }
        guard gradients else { return loss }
        if let w = pooledWeight {
            pooledStudentGradient.pointer.update(repeating: 0, count: b * cs)
            linearBackward(pooledStudentGradient.pointer, pooledWeightGradient!.pointer, pooledBiasGradient!.pointer, dx, pooledStudent.pointer, w.pointer,
                           rows: b, inFeatures: cs, outFeatures: ct)
        }
        poolBackward(graph.hiddenStateGradient(layer: pair.student), pooledStudentGradient.pointer, mask, pooling: pooling, batch: b, seq: t, width: cs)
        return loss
    }

    enum RelationProjection: Int, CaseIterable { case query, key, value }

    /// KL(R_t ‖ R_s) of one projection's relations, R = softmax(X Xᵀ / √d_r) per relation head.
    private func relationLoss(_ which: RelationProjection, relationHeads: Int, pair: LayerMapping.Pair, weight: Float,
                              graph: BertTrainingGraph, targets: TargetBatch, mask: UnsafePointer<Int32>, gradients: Bool) -> Double {
        let cs = plan.student.hiddenSize, ct = plan.teacher.hiddenSize
        let offsetS = which.rawValue * cs, offsetT = which.rawValue * ct
        return relationKLLoss(gradient: gradients ? graph.projectionsGradient(layer: pair.student) + offsetS : nil, weight: weight,
                              student: graph.projections(layer: pair.student) + offsetS, studentStride: 3 * cs, studentWidth: cs,
                              teacher: targets.relations[pair.teacher]!.pointer + offsetT, teacherStride: 3 * ct, teacherWidth: ct,
                              mask: mask, batch: targets.batch, seq: targets.seq, relationHeads: relationHeads)
    }

    /// Objectives on the output layer: classifier logits (one row per sequence) or MLM logits at the masked rows.
    private func logitLoss(_ kind: ObjectiveKind, weight: Float, graph: BertTrainingGraph, targets: TargetBatch, gradients: Bool) -> Double {
        let spec = plan.spec, rows = targets.rows
        guard rows > 0 else { return 0 }
        let masked = plan.isMaskedLM
        let logits = masked ? graph.maskedLMLogits : graph.classifierLogits
        let gradient = gradients ? (masked ? graph.maskedLMLogitsGradient : graph.classifierLogitsGradient) : nil
        let width = masked ? plan.student.vocabSize : plan.classifierLabels
        switch kind {
        case .ce:
            return targets.labels.withUnsafeBufferPointer {
                crossEntropyLoss(gradient: gradient, weight: weight, logits: logits, labels: $0.baseAddress!, rows: rows, classes: width)
            }
        case .mse:
            guard plan.mseOnGoldScores else {
                return regressionMSELoss(gradient: gradient, weight: weight, student: logits, target: targets.fullLogits.pointer, rows: rows)
            }
            return targets.regressionTargets.withUnsafeBufferPointer {
                regressionMSELoss(gradient: gradient, weight: weight, student: logits, target: $0.baseAddress!, rows: rows)
            }
        case .kd:
            return vanillaKDLoss(gradient: gradient, weight: weight, student: logits, teacher: targets.fullLogits.pointer,
                                 temperature: spec.temperature, scaleByTemperatureSquared: spec.scaleByTemperatureSquared, rows: rows, classes: width)
        case .kdTopk:
            return targets.topKIds.withUnsafeBufferPointer { ids in
                spec.topkTail == .ghost
                    ? topKGhostKDLoss(gradient: gradient, weight: weight, student: logits, teacherIds: ids.baseAddress!,
                                      teacherLogProbs: targets.topKLogProbs.pointer, rows: rows, k: targets.topK, vocab: width)
                    : topKRenormalisedKDLoss(gradient: gradient, weight: weight, student: logits, teacherIds: ids.baseAddress!,
                                             teacherLogProbs: targets.topKLogProbs.pointer, temperature: spec.temperature,
                                             scaleByTemperatureSquared: spec.scaleByTemperatureSquared, rows: rows, k: targets.topK, vocab: width)
            }
        case .kdSampled:
            return targets.sampledIds.withUnsafeBufferPointer { ids in
                targets.sampledCounts.withUnsafeBufferPointer { counts in
                    targets.sampledOffsets.withUnsafeBufferPointer { offsets in
                        sampledKDLoss(gradient: gradient, weight: weight, student: logits, sampledIds: ids.baseAddress ?? UnsafePointer(bitPattern: 8)!,
                                      sampledCounts: counts.baseAddress ?? UnsafePointer(bitPattern: 8)!, offsets: offsets.baseAddress!,
                                      temperature: plan.sampledTemperature, scaleByTemperatureSquared: spec.scaleByTemperatureSquared,
                                      rows: rows, vocab: width)
                    }
                }
            }
        default:
            preconditionFailure("\(kind) is not an output-layer objective")
        }
    }

    /// Mean over real tokens of cos(x, h_t) between the student's last hidden state (projected
    /// when a projection exists for it) and the teacher's last: task-agnostic agreement.
    func teacherAgreement(graph: BertTrainingGraph, targets: TargetBatch) -> Double? {
        // Token by token: only a student that shares the teacher's tokens.
        guard plan.studentTokenizer == nil else { return nil }
        let last = plan.student.numHiddenLayers, cs = plan.student.hiddenSize, ct = plan.teacher.hiddenSize
        guard let teacher = targets.hidden[plan.teacher.layers]?.pointer else { return nil }
        var x = graph.hiddenState(layer: last)
        if cs != ct {
            guard let i = plan.hiddenPairs.firstIndex(where: { $0.student == last && $0.projected }),
                  let w = projectionWeights[i], let bias = projectionBiases[i] else { return nil }
            linearForward(projected.pointer, x, w.pointer, bias.pointer, rows: targets.batch * targets.seq, inFeatures: cs, outFeatures: ct)
            x = projected.pointer
        }
        return targets.input.attentionMask.withUnsafeBufferPointer { mask in
            // 1 − cosine loss = mean cosine.
            1 - hiddenCosineLoss(gradient: nil, weight: 0, student: x, teacher: teacher, mask: mask.baseAddress!,
                                 batch: targets.batch, seq: targets.seq, width: ct)
        }
    }

    /// The learned projections and TED student filters, for continuing or inspecting a run.
    public func saveProjections(to url: URL) throws {
        var writer = SafeTensorsWriter(metadata: ["format": "pt"])
        let cs = plan.student.hiddenSize, ct = plan.teacher.hiddenSize
        for i in plan.hiddenPairs.indices {
            guard let w = projectionWeights[i], let b = projectionBiases[i] else { continue }
            try writer.add(projectionName(i, "weight"), shape: [ct, cs], floats: w.toArray())
            try writer.add(projectionName(i, "bias"), shape: [ct], floats: b.toArray())
        }
        if let w = pooledWeight, let b = pooledBias {
            try writer.add(pooledProjectionName("weight"), shape: [ct, cs], floats: w.toArray())
            try writer.add(pooledProjectionName("bias"), shape: [ct], floats: b.toArray())
        }
        for (i, filter) in tedStudentFilters.enumerated() {
            for t in filter.tensors {
                try writer.add("\(tedFilterName(i)).\(t.name)", shape: t.shape, floats: Array(filter.parameters.buffer[t.offset..<(t.offset + t.count)]))
            }
        }
        guard !plan.hiddenPairs.filter(\.projected).isEmpty || !tedStudentFilters.isEmpty else { return }
        try writer.write(to: url)
    }
}

import Bert
import Foundation
import Kernels
import Logging
import TeacherCache
import Training

/// What one logged step reports (also the progress callback's payload).
public struct StepReport: Sendable {
    public var step: Int, totalSteps: Int, epoch: Int
    public var learningRate: Float
    public var loss: Double
    public var losses: [ObjectiveKind: Double]
    public var gradientNorm: Double
    public var tokensPerSecond: Double
    /// Share of step time spent waiting for cache reads.
    public var waitShare: Double
}

/// Dev-set results.
public struct Evaluation: Sendable {
    public var step: Int
    public var loss: Double
    public var losses: [ObjectiveKind: Double]
    public var classification: ClassificationMetrics?
    public var regressionMSE: Double?
    /// Mean cosine between the student's last hidden state (projected when widths differ) and the teacher's.
    public var teacherAgreement: Double?

    /// The number "best" checkpoints are chosen by (higher is better).
    public var score: Double {
        if let c = classification { return c.accuracy }
        if let mse = regressionMSE { return -mse }
        if let cosine = teacherAgreement { return cosine }
        return -loss
    }

    /// One line for people: the task metrics first.
    public var summaryLine: String {
        var parts: [String] = []
        if let c = classification {
            parts.append(String(format: "accuracy %.4f, macro-F1 %.4f", c.accuracy, c.macroF1))
            if let m = c.matthews { parts.append(String(format: "MCC %.4f", m)) }
        }
        if let mse = regressionMSE { parts.append(String(format: "MSE %.4f", mse)) }
        if let a = teacherAgreement { parts.append(String(format: "teacher cosine %.4f", a)) }
        parts.append(String(format: "loss %.4f (", loss) + losses.sorted { $0.key < $1.key }.map { String(format: "%@ %.4f", $0.key.rawValue, $0.value) }.joined(separator: ", ") + ")")
        return parts.joined(separator: ", ")
    }

    var json: [String: Any] {
        var line: [String: Any] = ["step": step, "loss": loss, "losses": Dictionary(uniqueKeysWithValues: losses.map { ($0.key.rawValue, $0.value) })]
        if let c = classification {
            line["accuracy"] = c.accuracy; line["macro_f1"] = c.macroF1; line["examples"] = c.examples
            if let m = c.matthews { line["matthews"] = m }
        }
        if let mse = regressionMSE { line["regression_mse"] = mse }
        if let a = teacherAgreement { line["teacher_cosine"] = a }
        return line
    }
}

public struct TrainingSummary: Sendable {
    public var steps: Int
    public var evaluations: [Evaluation]
    public var lossHistory: [[ObjectiveKind: Double]]
    public var tokensPerSecond: Double
    public var waitShare: Double
}

/// Stage two: trains one student against a cache. The loop reads top to bottom: learning rate,
/// batch, forward, objectives, backward, clip, update, log, evaluate, checkpoint.
public final class StudentTrainer {
    public let plan: TrainingPlan
    public let student: BertModel
    public let objectives: DistillationObjectives
    let graph: BertTrainingGraph
    let gradients: BertParameters
    let optimizer: AdamW
    let segments: [ParameterSegment]
    let cache: CacheReader
    let targets: TargetBatch
    /// Where the teacher targets come from: the cache, or (for the equivalence check) the teacher itself.
    let online: OnlineTeacher?
    let logger: Logger
    /// The teacher folder: vocabulary and tokenizer config for exported checkpoints, weights for initialisation.
    let teacherDirectory: URL?
    public private(set) var initializedFrom: [Int] = []

    public init(spec: TrainSpec, cache cacheURL: URL, teacherDirectory: URL?, online: Bool = false, logger: Logger) throws {
        self.logger = logger
        self.teacherDirectory = teacherDirectory
        cache = try CacheReader(url: cacheURL)
        let teacherConfig: BertConfig
        do { teacherConfig = try JSONDecoder().decode(BertConfig.self, from: Data(cache.provenance.teacher.config.utf8)) } catch {
            throw DistillationError.incompatible("\(cacheURL.path): the teacher config stored in the cache cannot be read: \(error)")
        }
        var config = try StudentFactory.config(for: spec.student, teacher: teacherConfig)
        plan = try TrainingPlan(spec: spec, student: config, cache: cache)
        // Class names travel to the exported config when they fit the head the plan chose.
        let names = cache.labelNames ?? teacherConfig.labels
        config.labels = names?.count == plan.classifierLabels ? names : nil
        let layout = BertLayout(config: config, heads: plan.heads)
        let parameters = BertParameters(layout: layout)
        student = BertModel(config: config, parameters: parameters)
        initializedFrom = try StudentFactory.initialize(parameters, spec: spec.student, teacherDirectory: teacherDirectory, seed: spec.seed)
        gradients = BertParameters(layout: layout)
        let maxSeq = cache.spec.maxLength
        graph = BertTrainingGraph(layout: layout, maxBatch: spec.batchSize, maxSeq: maxSeq, dropout: spec.student.dropout)
        objectives = DistillationObjectives(plan: plan, maxBatch: spec.batchSize, maxSeq: maxSeq, seed: spec.seed)
        segments = ParameterSegment.segments(of: parameters, gradients: gradients) + objectives.segments
        optimizer = AdamW(segments: segments, settings: AdamW.Settings(weightDecay: spec.weightDecay))
        let logitWidth = cache.isMaskedLM ? plan.teacher.vocabularySize : max(1, plan.classifierLabels)
        targets = TargetBatch(plan: plan, maxBatch: spec.batchSize, maxSeq: maxSeq, logitWidth: logitWidth, topK: cache.spec.topK)
        if online {
            guard let teacherDirectory else { throw DistillationError.invalidSpec("--online needs the teacher folder (--teacher)") }
            self.online = try OnlineTeacher(directory: teacherDirectory, plan: plan, maxBatch: spec.batchSize, maxSeq: maxSeq)
        } else {
            self.online = nil
        }
    }

    public var stepsPerEpoch: Int { (cache.sequenceCount + plan.spec.batchSize - 1) / plan.spec.batchSize }
    public var totalSteps: Int { plan.spec.maxSteps > 0 ? plan.spec.maxSteps : plan.spec.epochs * stepsPerEpoch }

    /// The resolved configuration, printed at start and saved with every run.
    public var resolvedConfiguration: [String: Any] {
        let spec = plan.spec
        let specJSON = (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(spec))) ?? [:]
        let studentJSON = (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(student.config))) ?? [:]
        return [
            "spec": specJSON, "student_config": studentJSON, "cache": cache.url.path,
            "teacher": ["path": plan.teacher.path, "layers": plan.teacher.layers, "hidden_size": plan.teacher.hiddenSize,
                        "heads": plan.teacher.heads, "weights_sha256": plan.teacher.weightsSHA256],
            "initialized_from_teacher_layers": initializedFrom,
            "hidden_pairs": plan.hiddenPairs.map { ["student": $0.student, "teacher": $0.teacher, "projected": $0.projected] },
            "attention_pairs": plan.attentionPairs.map { ["student": $0.student, "teacher": $0.teacher] },
            "relation_pairs": plan.relationPairs.map { ["student": $0.student, "teacher": $0.teacher] },
            "parameters": student.layout.count, "projection_parameters": objectives.segments.reduce(0) { $0 + $1.count },
            "steps": totalSteps, "steps_per_epoch": stepsPerEpoch, "online_teacher": online != nil,
        ]
    }

    /// One update on `sequences`; returns the losses (unweighted per objective, and the weighted total).
    public func step(_ sequences: [CachedSequence], index: Int, learningRate: Float) throws -> (losses: ObjectiveLosses, gradientNorm: Double) {
        // Batch: the student's input and the teacher's targets, padded.
        if let online { try online.fill(targets, sequences) } else { try targets.fill(sequences) }
        // Forward (dropout masks seeded by run seed and step).
        graph.forward(student.parameters, targets.input, mlmRows: plan.heads.maskedLM ? targets.logitRows : nil,
                      training: true, seed: plan.spec.seed &* 0x9E37_79B9 &+ UInt64(index))
        // Objectives seed the activation gradients (and the projections' own).
        gradients.storage.zero()
        objectives.zeroGradients()
        let losses = objectives.compute(graph: graph, targets: targets, gradients: true)
        guard losses.total.isFinite else {
            throw DistillationError.nonFinite("step \(index + 1): loss is \(losses.total) (\(losses.describe())) on cache sequences \(targets.sequenceIndices.prefix(8).map(String.init).joined(separator: ","))…; lower the learning rate or check the cache with `distillery verify`")
        }
        // Backward, clip, update.
        graph.backward(student.parameters, gradients)
        let norm = clipGradientNorm(segments, maxNorm: Double(plan.spec.clipNorm))
        optimizer.update(learningRate: learningRate)
        return (losses, norm)
    }

    /// Runs every step; evaluates on `dev` (a cache built with the same spec from held-out data).
    public func train(dev devURL: URL?, run: RunFolder?, progress: (StepReport) -> Void = { _ in }) throws -> TrainingSummary {
        let spec = plan.spec
        let dev = try devURL.map { try DevEvaluator(url: $0, trainer: self) }
        try run?.writeConfiguration(resolvedConfiguration)
        let schedule = LearningRateSchedule(peak: spec.learningRate, warmupSteps: Int(Float(totalSteps) * spec.warmupRatio),
                                            totalSteps: totalSteps, decay: spec.schedule)
        var evaluations: [Evaluation] = [], history: [[ObjectiveKind: Double]] = []
        var best = -Double.infinity
        var windowTokens = 0, windowStart = Date(), windowWait = 0.0
        var totalTokens = 0, totalWait = 0.0
        let started = Date()
        var stepIndex = 0, epoch = 0
        func evaluate() throws {
            guard let dev else { return }
            let result = try dev.evaluate(step: stepIndex)
            evaluations.append(result)
            try run?.appendEvaluation(result.json)
            logger.info("dev at step \(stepIndex): \(result.json.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")
            if result.score > best, let run {
                best = result.score
                try StudentExport.save(student, to: run.bestCheckpoint, tokenizerFrom: teacherDirectory)
                try objectives.saveProjections(to: run.bestCheckpoint.appendingPathComponent("projections.safetensors"))
            }
        }
        while stepIndex < totalSteps {
            let batches = CacheBatches(reader: cache, options: .init(batchSize: spec.batchSize, shuffle: true, seed: spec.seed,
                                                                     epoch: epoch, selection: online == nil ? plan.selection : CacheSelection()))
            var waitBefore = 0.0
            while stepIndex < totalSteps, let sequences = try batches.nextBatch() {
                let waited = batches.waitSeconds - waitBefore
                waitBefore = batches.waitSeconds
                // Learning rate, then the step itself.
                let rate = schedule.rate(at: stepIndex)
                let (losses, norm) = try step(sequences, index: stepIndex, learningRate: rate)
                history.append(losses.values)
                let tokens = sequences.reduce(0) { $0 + $1.length }
                windowTokens += tokens; totalTokens += tokens; windowWait += waited; totalWait += waited
                stepIndex += 1
                // Log.
                if stepIndex % spec.logEvery == 0 || stepIndex == totalSteps {
                    let elapsed = max(1e-9, Date().timeIntervalSince(windowStart))
                    let report = StepReport(step: stepIndex, totalSteps: totalSteps, epoch: epoch + 1, learningRate: rate,
                                            loss: losses.total, losses: losses.values, gradientNorm: norm,
                                            tokensPerSecond: Double(windowTokens) / elapsed, waitShare: windowWait / elapsed)
                    try run?.appendMetrics([
                        "step": stepIndex, "epoch": epoch + 1, "learning_rate": Double(rate), "loss": losses.total,
                        "losses": Dictionary(uniqueKeysWithValues: losses.values.map { ($0.key.rawValue, $0.value) }),
                        "grad_norm": norm, "tokens_per_second": report.tokensPerSecond, "cache_wait_share": report.waitShare,
                    ])
                    progress(report)
                    windowTokens = 0; windowWait = 0; windowStart = Date()
                }
                // Evaluate and checkpoint.
                if spec.evalEvery > 0 && stepIndex % spec.evalEvery == 0 { try evaluate() }
            }
            epoch += 1
            if stepIndex == 0 { throw DistillationError.invalidSpec("\(cache.url.path) holds no sequences") }
            // Every epoch's end is evaluated by default; the last step always is.
            if spec.evalEvery == 0 || (stepIndex == totalSteps && evaluations.last?.step != stepIndex) { try evaluate() }
        }
        if let run {
            try StudentExport.save(student, to: run.finalCheckpoint, tokenizerFrom: teacherDirectory)
            try objectives.saveProjections(to: run.finalCheckpoint.appendingPathComponent("projections.safetensors"))
        }
        let elapsed = max(1e-9, Date().timeIntervalSince(started))
        return TrainingSummary(steps: stepIndex, evaluations: evaluations, lossHistory: history,
                               tokensPerSecond: Double(totalTokens) / elapsed, waitShare: totalWait / elapsed)
    }
}

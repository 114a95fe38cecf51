import Bert
import Foundation
import Hashing
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

    public var json: [String: Any] {
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
    /// Evaluations of this command (a resumed run's earlier ones are in its eval.jsonl).
    public var evaluations: [Evaluation]
    public var lossHistory: [[ObjectiveKind: Double]]
    public var tokensPerSecond: Double
    public var waitShare: Double
    /// Seconds inside this student's updates, and the part of them the online teacher took (0 from the cache).
    public var computeSeconds: Double
    public var teacherSeconds: Double
    /// The update a resumed run continued from (0 for a fresh run).
    public var resumedAt: Int
}

/// Stage two: one student against a cache. One update reads top to bottom in `step`: batch,
/// forward, objectives, backward, clip, update. The training loop is `StudentGroup`'s pass, which
/// owns the position in the cache (epoch, batch) and, per batch, has each due student `update`,
/// then `logIfDue`, `evaluate`, `checkpoint(at:)`; `train` is that pass for a single student.
public final class StudentTrainer {
    public let name: String
    public let plan: TrainingPlan
    public let student: BertModel
    public let objectives: DistillationObjectives
    let graph: BertTrainingGraph
    let gradients: BertParameters
    let optimizer: AdamW
    let segments: [ParameterSegment]
    let cache: CacheReader
    let targets: TargetBatch
    /// The longest sequence a batch can hold.
    let maxSeq: Int
    /// Where the teacher targets come from: the cache, or (for the equivalence check) the teacher itself.
    let online: OnlineTeacher?
    let logger: Logger
    /// The teacher folder: vocabulary and tokenizer config for exported checkpoints, weights for initialisation.
    let teacherDirectory: URL?
    public private(set) var initializedFrom: [Int] = []
    /// Content hash of the configuration and the cache: a finished run with the same hash is not
    /// trained again, and a checkpoint continues only the run that wrote it.
    public let runHash: String
    /// Called on every metrics line (from the thread that trains this student).
    public var onReport: ((StepReport) -> Void)?

    /// Updates done so far (the schedule's step).
    public private(set) var stepIndex = 0
    /// Where a resumed run's checkpoint says the pass stands (nil: a fresh run starts at the beginning).
    public private(set) var resumedPosition: PassPosition?
    private var resumedAt = 0
    /// The last update's numbers, for its metrics line.
    private var last: (rate: Float, losses: ObjectiveLosses, norm: Double)?
    private var bestScore: Double?
    private var evaluations: [Evaluation] = [], history: [[ObjectiveKind: Double]] = []
    private var windowTokens = 0, windowStart = Date(), windowWait = 0.0
    private var totalTokens = 0, totalWait = 0.0, computeSeconds = 0.0, teacherSeconds = 0.0
    private var started = Date()
    private var schedule: LearningRateSchedule
    private var dev: DevEvaluator?
    private var run: RunFolder?

    public init(spec: TrainSpec, cache cacheURL: URL, teacherDirectory: URL?, online: Bool = false, logger: Logger, name: String = "student") throws {
        self.name = name
        self.logger = logger
        self.teacherDirectory = teacherDirectory
        // Before any work: a precision this CPU cannot run.
        if let reason = (spec.precision ?? .fp32).unsupportedReason { throw DistillationError.invalidSpec(reason) }
        cache = try CacheReader(url: cacheURL)
        let teacherConfig: BertConfig
        do { teacherConfig = try JSONDecoder().decode(BertConfig.self, from: Data(cache.provenance.teacher.config.utf8)) } catch {
            throw DistillationError.incompatible("\(cacheURL.path): the teacher config stored in the cache cannot be read: \(error)")
        }
        let tokenizer = try StudentFactory.tokenizer(for: spec.student)
        var config = try StudentFactory.config(for: spec.student, teacher: teacherConfig, tokenizer: tokenizer)
        plan = try TrainingPlan(spec: spec, student: config, cache: cache, tokenizer: tokenizer)
        if let teacherDirectory { try TeacherIdentity.check(teacherDirectory, is: cache.provenance.teacher, cache: cacheURL) }
        // Class names travel to the exported config when they fit the head the plan chose.
        let names = cache.labelNames ?? teacherConfig.labels
        config.labels = names?.count == plan.classifierLabels ? names : nil
        let layout = BertLayout(config: config, heads: plan.heads)
        let parameters = BertParameters(layout: layout)
        student = BertModel(config: config, parameters: parameters)
        initializedFrom = try StudentFactory.initialize(parameters, spec: spec.student, teacherDirectory: teacherDirectory, seed: spec.seed)
        gradients = BertParameters(layout: layout)
        // The builder caps sequences at the teacher's positions; the student has the same table.
        maxSeq = min(cache.spec.maxLength, config.maxSequenceLength)
        graph = BertTrainingGraph(layout: layout, maxBatch: spec.batchSize, maxSeq: maxSeq, dropout: spec.student.dropout,
                                  precision: spec.precision ?? .fp32)
        objectives = DistillationObjectives(plan: plan, maxBatch: spec.batchSize, maxSeq: maxSeq, seed: spec.seed)
        segments = ParameterSegment.segments(of: parameters, gradients: gradients, wordEmbeddingRows: graph.wordEmbeddingRows)
            + objectives.segments
        optimizer = AdamW(segments: segments, settings: AdamW.Settings(weightDecay: spec.weightDecay))
        let logitWidth = cache.isMaskedLM ? plan.teacher.vocabularySize : max(1, plan.classifierLabels)
        targets = TargetBatch(plan: plan, maxBatch: spec.batchSize, maxSeq: maxSeq, logitWidth: logitWidth, topK: cache.spec.topK)
        if online {
            guard let teacherDirectory else { throw DistillationError.invalidSpec("--online needs the teacher folder (--teacher)") }
            self.online = try OnlineTeacher(directory: teacherDirectory, plan: plan, maxBatch: spec.batchSize, maxSeq: maxSeq,
                                            precision: cache.spec.precision ?? .fp32)
        } else {
            self.online = nil
        }
        runHash = Self.hash(spec: spec, cache: cache, online: online)
        schedule = LearningRateSchedule(peak: spec.learningRate, warmupSteps: 0, totalSteps: 1, decay: spec.schedule)
    }

    public var stepsPerEpoch: Int { (cache.sequenceCount + plan.spec.batchSize - 1) / plan.spec.batchSize }
    public var totalSteps: Int { plan.spec.maxSteps > 0 ? plan.spec.maxSteps : plan.spec.epochs * stepsPerEpoch }
    public var isFinished: Bool { stepIndex >= totalSteps }
    /// What the shared pass must decode for this student.
    var selection: CacheSelection { online == nil ? plan.selection : CacheSelection() }

    /// The resolved configuration, printed at start and saved with every run.
    public var resolvedConfiguration: [String: Any] {
        let spec = plan.spec
        let specJSON = (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(spec))) ?? [:]
        let studentJSON = (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(student.config))) ?? [:]
        return [
            "name": name, "spec": specJSON, "student_config": studentJSON, "cache": cache.url.path, "run_hash": runHash,
            "teacher": ["path": plan.teacher.path, "layers": plan.teacher.layers, "hidden_size": plan.teacher.hiddenSize,
                        "heads": plan.teacher.heads, "weights_sha256": plan.teacher.weightsSHA256],
            "initialized_from_teacher_layers": initializedFrom,
            "hidden_pairs": plan.hiddenPairs.map { ["student": $0.student, "teacher": $0.teacher, "projected": $0.projected] },
            "attention_pairs": plan.attentionPairs.map { ["student": $0.student, "teacher": $0.teacher] },
            "relation_pairs": plan.relationPairs.map { ["student": $0.student, "teacher": $0.teacher] },
            "ted_pairs": plan.tedPairs.map { ["student": $0.student, "teacher": $0.teacher] },
            "parameters": student.layout.count, "projection_parameters": objectives.segments.reduce(0) { $0 + $1.count },
            "steps": totalSteps, "steps_per_epoch": stepsPerEpoch, "online_teacher": online != nil,
        ]
    }

    /// SHA-256 over the spec (less the checkpoint interval, which does not change the result),
    /// the cache's provenance and spec (teacher weights, data files, what was cached), the TED
    /// filters file's bytes when there is one, the mode, and the student's own tokenizer files.
    static func hash(spec: TrainSpec, cache: CacheReader, online: Bool) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var canonical = spec
        canonical.checkpointEvery = 0
        var hasher = SHA256Hasher()
        for part in [(try? encoder.encode(canonical)) ?? Data(), (try? encoder.encode(cache.provenance)) ?? Data(),
                     (try? encoder.encode(cache.spec)) ?? Data(), Data((online ? "online" : "cache").utf8),
                     spec.objectives[.ted] == nil ? Data() : spec.tedFilters.flatMap { try? Data(contentsOf: URL(fileURLWithPath: $0)) } ?? Data()] {
            hasher.update(part)
            hasher.update(Data([0]))
        }
        // The student's own tokenizer by content (only then, so other runs keep their hashes).
        if let path = spec.student.tokenizer {
            hasher.update(Data(((try? VocabularyIdentity.sha256(of: URL(fileURLWithPath: path))) ?? path).utf8))
        }
        return hasher.hexDigest()
    }

    /// One update on `sequences`; returns the losses (unweighted per objective, and the weighted total).
    public func step(_ sequences: [CachedSequence], index: Int, learningRate: Float) throws -> (losses: ObjectiveLosses, gradientNorm: Double) {
        // Batch: the student's input and the teacher's targets, padded.
        if let online {
            let start = Date()
            try online.fill(targets, sequences)
            teacherSeconds += Date().timeIntervalSince(start)
        } else {
            try targets.fill(sequences)
        }
        // Forward (dropout masks seeded by run seed and step).
        graph.forward(student.parameters, targets.input, mlmRows: plan.heads.maskedLM ? targets.logitRows : nil,
                      training: true, seed: plan.spec.seed &* 0x9E37_79B9 &+ UInt64(index))
        // Objectives seed the activation gradients (and the projections' own); the parameters'
        // gradients start at zero (the last update consumed them).
        objectives.zeroGradients()
        let losses = objectives.compute(graph: graph, targets: targets, gradients: true)
        guard losses.total.isFinite else {
            throw DistillationError.nonFinite("step \(index + 1): loss is \(losses.total) (\(losses.describe())) on cache sequences \(targets.sequenceIndices.prefix(8).map(String.init).joined(separator: ","))…; lower the learning rate or check the cache with `distillery verify`")
        }
        // Backward, clip, update.
        graph.backward(student.parameters, gradients)
        let (norm, scale) = gradientClipping(segments, maxNorm: Double(plan.spec.clipNorm))
        optimizer.update(learningRate: learningRate, gradientScale: scale)
        return (losses, norm)
    }

    /// Prepares a run: the dev evaluator, the schedule, the run folder's config, and — with
    /// `resume` and a checkpoint of this same run in the folder — the state to continue from.
    public func begin(dev devURL: URL?, run: RunFolder?, resume: Bool = false) throws {
        let spec = plan.spec
        if cache.sequenceCount == 0 { throw DistillationError.invalidSpec("\(cache.url.path) holds no sequences") }
        dev = try devURL.map { try DevEvaluator(url: $0, train: plan, trainingCache: cache, maxSeq: maxSeq) }
        self.run = run
        schedule = LearningRateSchedule(peak: spec.learningRate, warmupSteps: Int(Float(totalSteps) * spec.warmupRatio),
                                        totalSteps: totalSteps, decay: spec.schedule)
        if resume, let run, let folder = TrainingCheckpoint.latest(in: run) {
            let position = try TrainingCheckpoint.restore(from: folder, segments: segments, optimizer: optimizer)
            guard position.runHash == runHash else {
                throw DistillationError.incompatible("\(folder.path) was written by another configuration or cache (run hash \(position.runHash.prefix(12))…, this run \(runHash.prefix(12))…); use --force to start this student over")
            }
            (stepIndex, bestScore, resumedAt) = (position.step, position.bestScore, position.step)
            resumedPosition = PassPosition(epoch: position.epoch, batch: position.batchInEpoch)
            try run.rewind(toStep: position.step, metricsLines: position.metricsLines, evalLines: position.evalLines)
            logger.info("\(name): resuming at update \(position.step) of \(totalSteps) (epoch \(position.epoch + 1), batch \(position.batchInEpoch))")
        } else {
            // A fresh run starts from an empty run folder: no earlier logs, checkpoints or students.
            try run?.clear()
        }
        try run?.writeConfiguration(resolvedConfiguration)
        started = Date(); windowStart = started
    }

    /// One update on a batch of the pass; `waited` is the time the pass spent waiting for it to be read.
    public func update(_ sequences: [CachedSequence], waited: Double) throws {
        let clock = Date()
        let rate = schedule.rate(at: stepIndex)
        let losses: ObjectiveLosses, norm: Double
        do { (losses, norm) = try step(sequences, index: stepIndex, learningRate: rate) } catch DistillationError.nonFinite(let why) {
            throw DistillationError.nonFinite(why + divergenceAdvice())
        }
        computeSeconds += Date().timeIntervalSince(clock)
        history.append(losses.values)
        last = (rate, losses, norm)
        let tokens = sequences.reduce(0) { $0 + $1.length }
        windowTokens += tokens; totalTokens += tokens; windowWait += waited; totalWait += waited
        stepIndex += 1
    }

    /// A metrics line every `log_every` updates and after the last (`epoch` counted from 0).
    public func logIfDue(epoch: Int) throws {
        guard let last, stepIndex % plan.spec.logEvery == 0 || stepIndex == totalSteps else { return }
        let elapsed = max(1e-9, Date().timeIntervalSince(windowStart))
        let report = StepReport(step: stepIndex, totalSteps: totalSteps, epoch: epoch + 1, learningRate: last.rate,
                                loss: last.losses.total, losses: last.losses.values, gradientNorm: last.norm,
                                tokensPerSecond: Double(windowTokens) / elapsed, waitShare: windowWait / elapsed)
        try run?.appendMetrics([
            "step": stepIndex, "epoch": epoch + 1, "learning_rate": Double(last.rate), "loss": last.losses.total,
            "losses": Dictionary(uniqueKeysWithValues: last.losses.values.map { ($0.key.rawValue, $0.value) }),
            "grad_norm": last.norm, "tokens_per_second": report.tokensPerSecond, "cache_wait_share": report.waitShare,
        ])
        onReport?(report)
        windowTokens = 0; windowWait = 0; windowStart = Date()
    }

    /// Evaluation every `eval_every` updates (and after the last).
    public var evaluationDue: Bool { (plan.spec.evalEvery > 0 && stepIndex % plan.spec.evalEvery == 0) || isFinished }
    /// Evaluation at each epoch's end, when `eval_every` is 0 (the last update evaluates anyway).
    public var evaluatesAtEpochEnd: Bool { plan.spec.evalEvery == 0 && !isFinished }
    /// A resumable checkpoint every `checkpoint_every` updates (the last update exports instead).
    public var checkpointDue: Bool { plan.spec.checkpointEvery > 0 && stepIndex % plan.spec.checkpointEvery == 0 && !isFinished }

    /// Writes a resumable checkpoint into the run folder (periodically, and when interrupted);
    /// `position` is where the pass continues for this student. Weights that are no longer finite
    /// are never saved: the previous checkpoint stays.
    public func checkpoint(at position: PassPosition) throws {
        guard let run else { return }
        if let bad = segments.first(where: { s in !UnsafeBufferPointer(start: s.values, count: s.count).allSatisfy(\.isFinite) }) {
            throw DistillationError.nonFinite("after update \(stepIndex): \(bad.name) holds NaN or infinity" + divergenceAdvice())
        }
        let state = TrainingCheckpoint(runHash: runHash, step: stepIndex, epoch: position.epoch, batchInEpoch: position.batch, bestScore: bestScore,
                                       metricsLines: run.metricsLines, evalLines: run.evalLines)
        try TrainingCheckpoint.save(state, segments: segments, optimizer: optimizer, in: run)
    }

    /// What a diverged run leaves and how to go on. The checkpoint continues only the run that
    /// wrote it (its hash covers the learning rate), so `--resume` with another learning rate is
    /// refused; the checkpoint stays for inspection and the logs up to it.
    private func divergenceAdvice() -> String {
        let retry = "retrain with --force and a lower --learning-rate (--resume continues only this same configuration, so it refuses another learning rate)"
        guard let run, let folder = TrainingCheckpoint.latest(in: run),
              let data = try? Data(contentsOf: folder.appendingPathComponent("state.json")),
              let position = try? JSONDecoder().decode(TrainingCheckpoint.self, from: data) else {
            return "; no checkpoint was written before it; \(retry)"
        }
        return "; the last checkpoint (update \(position.step), finite weights) is kept in \(folder.path); \(retry)"
    }

    /// Evaluates on the dev cache (once per update) and exports the best checkpoint so far.
    public func evaluate() throws {
        guard let dev, evaluations.last?.step != stepIndex else { return }
        let result = try dev.evaluate(step: stepIndex, graph: graph, parameters: student.parameters, objectives: objectives)
        evaluations.append(result)
        try run?.appendEvaluation(result.json)
        logger.info("\(name): dev at step \(stepIndex): \(result.json.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")
        if result.score > (bestScore ?? -.infinity) {
            bestScore = result.score
            if let run { try export(to: run.bestCheckpoint) }
        }
    }

    private func export(to folder: URL) throws {
        // The student's own tokenizer files, else the teacher's.
        try StudentExport.save(student, to: folder, tokenizerFrom: plan.spec.student.tokenizer.map { URL(fileURLWithPath: $0) } ?? teacherDirectory)
        try objectives.saveProjections(to: folder.appendingPathComponent("projections.safetensors"))
    }

    /// After the last update: the final checkpoint, then the completion record (so a re-run skips it).
    public func finish() throws -> TrainingSummary {
        let elapsed = max(1e-9, Date().timeIntervalSince(started))
        let summary = TrainingSummary(steps: stepIndex, evaluations: evaluations, lossHistory: history,
                                      tokensPerSecond: Double(totalTokens) / elapsed, waitShare: totalWait / elapsed,
                                      computeSeconds: computeSeconds, teacherSeconds: teacherSeconds, resumedAt: resumedAt)
        if let run {
            try export(to: run.finalCheckpoint)
            var results: [String: Any] = ["name": name, "steps": stepIndex, "seconds": elapsed, "tokens_per_second": summary.tokensPerSecond]
            if let last = evaluations.last { results["dev"] = last.json }
            if let bestScore { results["best_score"] = bestScore }
            try run.markCompleted(hash: runHash, results: results)
            try? FileManager.default.removeItem(at: run.checkpoint)
        }
        return summary
    }

    /// Trains this student alone: a group of one, using every configured thread.
    public func train(dev devURL: URL?, run: RunFolder?, resume: Bool = false, progress: @escaping (StepReport) -> Void = { _ in }) throws -> TrainingSummary {
        onReport = progress
        defer { onReport = nil }
        let group = StudentGroup(members: [.init(trainer: self, run: run, dev: devURL, resume: resume)])
        let outcome = try group.run(schedule: .sequential).first!
        if let error = outcome.error { throw error }
        return outcome.summary!
    }
}

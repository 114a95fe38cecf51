import Bert
import Datasets
import Distillation
import Foundation
import Logging
import Reports
import TeacherCache
import Tokenization

/// What `distillery run` would do, measured before it does it: the cache's contents and size on
/// disk (bytes per token per component measured by caching a small sample of the training data
/// with the real teacher), the students, and the time each stage should take. A study whose
/// caches and checkpoints would not fit on the disk is refused here, not half-way through.
public struct StudyPlan {
    public struct Estimate: Sendable { public var stage: String, seconds: Double }

    public var pipeline: Pipeline
    public var cacheSpec: CacheSpec
    public var derivedCache: Bool
    /// Sequences and tokens per split (tokens from the sample's mean length).
    public var splits: [(name: String, sequences: Int, tokens: Int)]
    /// Component → bytes per token in the sample cache.
    public var bytesPerToken: [(component: String, bytes: Double)]
    public var cacheBytes: Int
    public var checkpointBytes: Int
    public var availableBytes: Int
    public var teacherTokensPerSecond: Double
    public var estimates: [Estimate]

    public static func make(_ pipeline: Pipeline, results: URL = URL(fileURLWithPath: "results"), sampleRows: Int = 64, logger: Logger) throws -> StudyPlan {
        let fm = FileManager.default
        let teacher: URL, finetuneEpochs: Int?
        switch pipeline.teacher {
        case .folder(let url): (teacher, finetuneEpochs) = (url, nil)
        case .finetune(let s): (teacher, finetuneEpochs) = (URL(fileURLWithPath: s.from!), s.spec.epochs)
        }
        let config: BertConfig
        do { config = try BertConfig.load(from: teacher.appendingPathComponent("config.json")) } catch {
            throw PipelineError.io("teacher \(teacher.path): \(error)")
        }
        let labelled = pipeline.setting == .taskSpecific
        let spec = try pipeline.cache ?? CachePlanner.derive(for: pipeline.students.map(\.named), teacher: config, labelled: labelled,
                                                            maxLength: pipeline.data.maxLength)

        // Rows and mean length per split, from the files and the teacher's tokenizer.
        let tokenizer = try loadTokenizer(modelDirectory: teacher)
        var splits: [(String, Int, Int)] = []
        var sample: [Example] = []
        for (name, path) in [("train", pipeline.data.train), ("dev", pipeline.data.dev), ("test", pipeline.data.test)] {
            guard let path else { continue }
            let dataset = try Dataset.load(URL(fileURLWithPath: path), options: pipeline.data.readOptions(labelled: false))
            let probe = dataset.examples.prefix(256)
            let mean = probe.isEmpty ? 0 : Double(probe.reduce(0) { $0 + tokenizer.encode($1.text, pair: $1.textPair, maxLength: spec.maxLength).inputIds.count }) / Double(probe.count)
            splits.append((name, dataset.examples.count, Int((mean * Double(dataset.examples.count)).rounded())))
            if name == "train" { sample = Array(dataset.examples.prefix(sampleRows)) }
        }

        // Bytes per token and teacher speed: the sample cached by the teacher as it is now (a
        // teacher still to be fine-tuned has no head yet: its logits are estimated from their width).
        let work = fm.temporaryDirectory.appendingPathComponent("distillery-plan-\(UUID().uuidString)")
        try fm.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: work) }
        let sampleFile = work.appendingPathComponent("sample.jsonl")
        let lines = sample.map { e -> String in
            var row: [String: String] = ["text": e.text]
            if let pair = e.textPair { row["pair"] = pair }
            return String(decoding: (try? JSONSerialization.data(withJSONObject: row, options: [.sortedKeys])) ?? Data(), as: UTF8.self)
        }
        try (lines.joined(separator: "\n") + "\n").write(to: sampleFile, atomically: true, encoding: .utf8)
        let headed = (try? BertModel.load(directory: teacher))?.heads.classifierLabels ?? 0 > 0
        var sampleSpec = spec
        if !headed { sampleSpec.logits = [] }
        var options = DatasetReadOptions()
        options.fields = DatasetFields(text: "text", textPair: sample.contains { $0.textPair != nil } ? "pair" : nil)
        var bytesPerToken: [(String, Double)] = [], teacherRate = 0.0
        let componentsCached = !(sampleSpec.hiddenLayers.isEmpty && sampleSpec.attentionLayers.isEmpty && sampleSpec.relationLayers.isEmpty && sampleSpec.logits.isEmpty)
        if componentsCached && !sample.isEmpty {
            let summary = try CacheBuilder.build(CacheRequest(teacher: teacher, data: [sampleFile], readOptions: options, spec: sampleSpec,
                                                              output: work.appendingPathComponent("sample.h5")), logger: logger)
            teacherRate = Double(summary.tokens) / max(1e-9, summary.teacherSeconds)
            let report = try CacheReport.read(summary.output)
            bytesPerToken = report.components.map { ($0.name, Double($0.storedBytes) / Double(max(1, report.tokens))) }
        }
        if !headed && !spec.logits.isEmpty {
            // Full logits: classes × 2 bytes per sequence (fp16), spread over its tokens; top-k and sampled alike small.
            let meanLength = Double(splits.first?.2 ?? 1) / Double(max(1, splits.first?.1 ?? 1))
            bytesPerToken.append(("logits (estimated)", 16 * Double(spec.logits.count) / max(1, meanLength)))
        }
        let perToken = bytesPerToken.reduce(0) { $0 + $1.1 }
        let cacheBytes = splits.reduce(0) { $0 + Int(Double($1.2) * perToken) }

        let studentConfigs = try pipeline.students.map { try StudentFactory.config(for: $0.named.spec.student, teacher: config) }
        // Checkpoints: final, best and the resumable state (weights + two moments) per student, and the teacher's fine-tune.
        var checkpointBytes = 0
        for s in studentConfigs {
            checkpointBytes += 5 * 4 * BertLayout(config: s, heads: BertHeads(pooler: true, classifierLabels: 2)).count
        }
        if finetuneEpochs != nil { checkpointBytes += 5 * 4 * BertLayout(config: config, heads: BertHeads(pooler: true, classifierLabels: 2)).count }
        try fm.createDirectory(at: results, withIntermediateDirectories: true)
        let available = ((try? fm.attributesOfFileSystem(forPath: results.path))?[.systemFreeSize] as? NSNumber)?.intValue ?? Int.max

        // Time: the teacher's measured forward speed; training a model costs about four forward
        // passes (forward, backward for activations and for weights, the optimiser's pass over the
        // embedding table, dev evaluations), scaled by layers × width². Calibrated on quiet runs:
        // the seed study (15 students per pass) measured 1.5× three passes, the demo (6–9) 1.2×.
        var estimates: [Estimate] = []
        let rate = teacherRate > 0 ? teacherRate : 5000
        let trainTokens = Double(splits.first?.2 ?? 0), allTokens = Double(splits.reduce(0) { $0 + $1.2 })
        let passesPerTrainingToken = 4.0
        // Each student's cost relative to the teacher's.
        let relativeCosts = studentConfigs.map { Double($0.numHiddenLayers * $0.hiddenSize * $0.hiddenSize) / Double(config.numHiddenLayers * config.hiddenSize * config.hiddenSize) }
        if let epochs = finetuneEpochs { estimates.append(Estimate(stage: "fine-tune teacher", seconds: passesPerTrainingToken * trainTokens * Double(epochs) / rate)) }
        estimates.append(Estimate(stage: "cache", seconds: allTokens / rate * 1.25))
        var studentSeconds = 0.0
        for (student, relativeCost) in zip(pipeline.students, relativeCosts) {
            let spec = student.named.spec
            let tokens = spec.maxSteps > 0 ? Double(spec.maxSteps * spec.batchSize) * trainTokens / Double(max(1, splits.first?.1 ?? 1)) : trainTokens * Double(spec.epochs)
            studentSeconds += passesPerTrainingToken * tokens * relativeCost / rate
        }
        estimates.append(Estimate(stage: "train \(pipeline.students.count) students", seconds: studentSeconds))
        if let s = pipeline.studentFinetune {
            estimates.append(Estimate(stage: "fine-tune students", seconds: passesPerTrainingToken * trainTokens * Double(s.spec.epochs) * relativeCosts.reduce(0, +) / rate))
        }
        // Scoring the teacher and every student on dev and test: a forward pass each (the seed
        // study measured 676 s for 46 models on 2,000 sentences where this comes to 618 s).
        let evaluationTokens = allTokens - trainTokens
        if evaluationTokens > 0 {
            estimates.append(Estimate(stage: "evaluate", seconds: evaluationTokens * (1 + relativeCosts.reduce(0, +)) / rate))
        }
        return StudyPlan(pipeline: pipeline, cacheSpec: spec, derivedCache: pipeline.cache == nil, splits: splits, bytesPerToken: bytesPerToken,
                         cacheBytes: cacheBytes, checkpointBytes: checkpointBytes, availableBytes: available,
                         teacherTokensPerSecond: teacherRate, estimates: estimates)
    }

    /// Refuses a study that will not fit on the results disk (caches and checkpoints, 10 % margin).
    public func checkDisk(results: URL = URL(fileURLWithPath: "results")) throws {
        let needed = Int(Double(cacheBytes + checkpointBytes) * 1.1)
        if needed > availableBytes {
            throw PipelineError.refused("the study needs about \(Format.bytes(needed)) on the disk of \(results.path) (caches \(Format.bytes(cacheBytes)), checkpoints \(Format.bytes(checkpointBytes))) but only \(Format.bytes(availableBytes)) are free")
        }
    }

    /// The plan as people read it.
    public var description: String {
        var lines: [String] = []
        lines.append("pipeline \(pipeline.name) (\(pipeline.source.path)), \(pipeline.setting.rawValue)")
        switch pipeline.teacher {
        case .folder(let url): lines.append("teacher: \(url.path)")
        case .finetune(let s): lines.append("teacher: fine-tune \(s.from!) for \(s.spec.epochs) epoch(s) at learning rate \(s.spec.learningRate)")
        }
        lines.append("data: " + splits.map { "\($0.name) \($0.sequences) sequences (~\($0.tokens) tokens)" }.joined(separator: ", ") + ", max length \(cacheSpec.maxLength)")
        lines.append("cache (\(derivedCache ? "derived from the students" : "as given")): hidden \(list(cacheSpec.hiddenLayers)), attention \(list(cacheSpec.attentionLayers)), Q/K/V \(list(cacheSpec.relationLayers)), logits \(cacheSpec.logits.isEmpty ? "none" : cacheSpec.logits.map(\.rawValue).joined(separator: ","))")
        for (component, bytes) in bytesPerToken { lines.append(String(format: "  %@: %.0f B/token", component, bytes)) }
        lines.append("disk: caches ~\(Format.bytes(cacheBytes)), checkpoints ~\(Format.bytes(checkpointBytes)), free \(Format.bytes(availableBytes))")
        lines.append("students (\(pipeline.students.count)):")
        for s in pipeline.students {
            let spec = s.named.spec
            lines.append("  \(s.named.name): \(Pipeline.describe(spec.objectives)), init \(spec.student.initialization), \(spec.student.layers) layers, seed \(spec.seed), " + (spec.maxSteps > 0 ? "\(spec.maxSteps) updates" : "\(spec.epochs) epochs"))
        }
        let jobs = StudyJobs(pipeline)
        lines.append("jobs: " + jobs.jobs.map { "\($0.stage.rawValue)\($0.tasks > 1 ? " ×\($0.tasks)" : "")" }.joined(separator: " → ")
                     + " (students per task: " + jobs.studentTasks.map { String($0.count) }.joined(separator: ", ") + ")")
        if teacherTokensPerSecond > 0 { lines.append(String(format: "teacher forward on this machine: %.0f tokens/s (measured on the sample)", teacherTokensPerSecond)) }
        let total = estimates.reduce(0) { $0 + $1.seconds }
        lines.append("estimated time: " + estimates.map { String(format: "%@ %.0f s", $0.stage, $0.seconds) }.joined(separator: ", ") + String(format: "; total ~%.0f min", total / 60))
        return lines.joined(separator: "\n")
    }

    private func list(_ layers: [Int]) -> String { layers.isEmpty ? "none" : layers.map(String.init).joined(separator: ",") }
}

import ArgumentParser
import Distillation
import Foundation
import Logging
import Training

/// `distillery train`: stage two.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a student from a teacher cache (the teacher itself is never run).",
        discussion: """
        Objectives (any combination, each with a weight): ce, mse, kd, kd_topk, kd_sampled, \
        hidden_mse, hidden_cosine, attention_kl, attention_scores, value_relation, relations, ted \
        (TED stage two, with --ted-filters from `distillery ted-filters`; TED's loss is ce=1, kd=α_kl, ted=α_mse). \
        Layer mappings: uniform, last, or student:teacher pairs like 1:2,2:4,3:6 (hidden states \
        count the embeddings as layer 0). Before the first step the run checks the cache holds \
        every tensor its objectives need and names the `distillery cache` flags that would add \
        what is missing. The run folder gets config.json, metrics.jsonl, eval.jsonl and Hugging \
        Face checkpoints final/ and best/.
        """
    )

    @Option(help: "Training cache written by `distillery cache`.") var cache: String
    @Option(help: "Dev cache (same spec, held-out data) for evaluation and the best checkpoint.") var dev: String?
    @Option(help: "Teacher folder: vocabulary for checkpoints, weights for --init and --online.") var teacher: String?
    @Option(help: "Run folder to create (config, metrics, checkpoints).") var out: String
    @Option(help: "A YAML training spec (the pipelines' `train:` block); the flags below override it.") var spec: String?

    @Option(help: "Student layers (default 3).") var layers: Int?
    @Option(help: "Student hidden size (default: the teacher's).") var hiddenSize: Int?
    @Option(help: "Student attention heads (default: the teacher's).") var heads: Int?
    @Option(help: "Student FFN size (default: the teacher's).") var intermediateSize: Int?
    @Option(help: "Initialisation: random, or teacher layers lower, upper, uniform, or a list like 1,3,5 (default lower).")
    var initialization: String?
    @Option(name: .customLong("objective"), help: "name=weight; repeat for several (default kd=1), e.g. --objective kd=0.5 --objective ce=0.5.")
    var objectives: [String] = []
    @Option(help: "Softmax temperature of logit KD (default 2).") var temperature: Float?
    @Flag(inversion: .prefixedNo, help: "Scale logit KD by τ² (default on).") var temperatureScaling: Bool?
    @Option(help: "Top-k KD tail: ghost or renormalized (default ghost).") var topkTail: String?
    @Option(help: "MiniLM v2 relation heads (default 12).") var relationHeads: Int?
    @Option(help: "Hidden-state mapping: uniform, last or pairs (default uniform).") var hiddenMapping: String?
    @Option(help: "Attention mapping: uniform, last or pairs (default last).") var attentionMapping: String?
    @Option(help: "Relation mapping: last or pairs (default last).") var relationMapping: String?
    @Option(help: "TED teacher filters written by `distillery ted-filters` (for the ted objective).") var tedFilters: String?
    @Option(help: "TED mapping, student layer to filtered teacher layer: uniform, last or pairs (default uniform).") var tedMapping: String?
    @Option(help: "Epochs (default 3).") var epochs: Int?
    @Option(help: "Stop after this many updates.") var maxSteps: Int?
    @Option(help: "Sequences per update (default 32).") var batchSize: Int?
    @Option(help: "Peak learning rate (default 1e-4).") var learningRate: Float?
    @Option(help: "Warm-up fraction of all updates (default 0.1).") var warmupRatio: Float?
    @Option(help: "Decay after warm-up: linear, cosine, constant (default linear).") var schedule: String?
    @Option(help: "AdamW decoupled weight decay (default 0.01).") var weightDecay: Float?
    @Option(help: "Global gradient-norm clip, 0 = off (default 1).") var clipNorm: Float?
    @Option(help: "Dropout of the student (default 0.1).") var dropout: Float?
    @Option(help: "Seed of initialisation, shuffling and dropout (default 0).") var seed: UInt64?
    @Option(help: "Evaluate every N updates (default: each epoch).") var evalEvery: Int?
    @Option(help: "Metrics line every N updates (default 10).") var logEvery: Int?
    @Flag(help: "Check mode: the teacher computes the targets on the fly instead of the cache (needs --teacher).") var online = false
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        threads.apply()
        let logger = Logger(label: "distillery.train")
        let spec = try resolvedSpec()
        let trainer = try StudentTrainer(spec: spec, cache: URL(fileURLWithPath: cache), teacherDirectory: teacher.map { URL(fileURLWithPath: $0) },
                                         online: online, logger: logger)
        let configuration = try JSONSerialization.data(withJSONObject: trainer.resolvedConfiguration, options: [.prettyPrinted, .sortedKeys])
        FileHandle.standardError.write(configuration + Data("\n".utf8))
        let run = try RunFolder(url: URL(fileURLWithPath: out))
        let bar = ProgressReporter(label: "train")
        let summary = try trainer.train(dev: dev.map { URL(fileURLWithPath: $0) }, run: run) { report in
            bar.update(done: report.step, total: report.totalSteps, rate: report.tokensPerSecond,
                       unit: String(format: "tokens/s, loss %.4f", report.loss))
        }
        bar.finish()
        var line = String(format: "trained %d steps, %.0f tokens/s, %.1f%% waiting for the cache; run folder %@",
                          summary.steps, summary.tokensPerSecond, summary.waitShare * 100, out)
        if let last = summary.evaluations.last {
            line += "\ndev: " + last.summaryLine
        }
        print(line)
    }

    /// The YAML spec (or the defaults) with every given flag applied on top.
    func resolvedSpec() throws -> TrainSpec {
        var s = try spec.map { try TrainSpec.load(yaml: URL(fileURLWithPath: $0)) } ?? TrainSpec()
        func set<T>(_ value: T?, _ keyPath: WritableKeyPath<TrainSpec, T>) { if let value { s[keyPath: keyPath] = value } }
        set(layers, \.student.layers)
        if let hiddenSize { s.student.hiddenSize = hiddenSize }
        if let heads { s.student.heads = heads }
        if let intermediateSize { s.student.intermediateSize = intermediateSize }
        if let initialization { s.student.initialization = try .init(parsing: initialization) }
        if !objectives.isEmpty {
            var named: [String: Float] = [:]
            for item in objectives {
                let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, let weight = Float(parts[1]) else {
                    throw ValidationError("--objective '\(item)': expected name=weight, e.g. kd=0.5")
                }
                named[parts[0]] = weight
            }
            s.objectives = try TrainSpec.objectives(named)
        }
        set(temperature, \.temperature); set(temperatureScaling, \.scaleByTemperatureSquared)
        if let topkTail {
            guard let tail = TrainSpec.TopKTail(rawValue: topkTail) else { throw ValidationError("--topk-tail must be ghost or renormalized") }
            s.topkTail = tail
        }
        set(relationHeads, \.relationHeads)
        if let hiddenMapping { s.hiddenMapping = try LayerMapping(parsing: hiddenMapping) }
        if let attentionMapping { s.attentionMapping = try LayerMapping(parsing: attentionMapping) }
        if let relationMapping { s.relationMapping = try LayerMapping(parsing: relationMapping) }
        if let tedFilters { s.tedFilters = tedFilters }
        if let tedMapping { s.tedMapping = try LayerMapping(parsing: tedMapping) }
        set(epochs, \.epochs); set(maxSteps, \.maxSteps); set(batchSize, \.batchSize); set(learningRate, \.learningRate)
        set(warmupRatio, \.warmupRatio)
        if let schedule {
            guard let decay = LearningRateSchedule.Decay(rawValue: schedule) else { throw ValidationError("--schedule must be linear, cosine or constant") }
            s.schedule = decay
        }
        set(weightDecay, \.weightDecay); set(clipNorm, \.clipNorm); set(dropout, \.student.dropout); set(seed, \.seed)
        set(evalEvery, \.evalEvery); set(logEvery, \.logEvery)
        do { try s.validate() } catch let error as DistillationError { throw ValidationError(error.description) }
        return s
    }
}

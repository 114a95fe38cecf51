import ArgumentParser
import Distillation
import Foundation
import Kernels
import Logging
import TeacherCache
import Training

/// `distillery train`: stage two.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a student from a teacher cache (the teacher itself is never run).",
        discussion: """
        Objectives (any combination, each with a weight): ce, mse, kd, kd_topk, kd_sampled, \
        hidden_mse, hidden_cosine, attention_kl, attention_scores, value_relation, relations, ted \
        (TED stage two, with --ted-filters from `distillery ted-filters`; TED's loss is ce=1, kd=α_kl, ted=α_mse), \
        pooled_mse (the pooled last hidden state, --pooling first or mean). A student with its own \
        tokenizer (--student-tokenizer FOLDER) encodes each cached example's text itself and learns \
        the sequence-level objectives only (ce, mse, kd, kd_topk, kd_sampled, pooled_mse). \
        Layer mappings: uniform, last, or student:teacher pairs like 1:2,2:4,3:6 (hidden states \
        count the embeddings as layer 0). Before the first step the run checks the cache holds \
        every tensor its objectives need and names the `distillery cache` flags that would add \
        what is missing. The run folder gets config.json, metrics.jsonl, eval.jsonl and Hugging \
        Face checkpoints final/ and best/, a resumable checkpoint/ every --checkpoint-every updates \
        and on Ctrl-C or SIGTERM (continue with --resume, to the same weights), and done.json \
        when it finishes: the same command again skips a finished student (--force retrains). \
        Several students (--student FILE repeated, or --students LIST) train in one pass over \
        the cache: each batch is read once and handed to every student; a student that cannot \
        train is named and the others go on.
        """
    )

    @Option(help: "Training cache written by `distillery cache`.") var cache: String
    @Option(help: "Dev cache (same spec, held-out data) for evaluation and the best checkpoint.") var dev: String?
    @Option(help: "Teacher folder: vocabulary for checkpoints, weights for --init and --online.") var teacher: String?
    @Option(help: "Run folder to create (config, metrics, checkpoints).") var out: String
    @Option(help: "A YAML training spec (the pipelines' `train:` block); the flags below override it.") var spec: String?

    // The settings of the spec: help and default from `TrainSpec.settings` (the keys are named
    // there, with the flag each has).
    @Option(help: train("student.layers")) var layers: Int?
    @Option(help: train("student.hidden_size")) var hiddenSize: Int?
    @Option(help: train("student.heads")) var heads: Int?
    @Option(help: train("student.intermediate_size")) var intermediateSize: Int?
    @Option(help: train("student.init")) var initialization: String?
    @Option(help: train("student.family")) var family: String?
    @Option(help: train("student.tokenizer")) var studentTokenizer: String?
    @Option(help: train("pooling")) var pooling: Pooling?
    @Option(help: train("precision")) var precision: Precision?
    @Option(name: .customLong("objective"), help: train("objectives", usage: "name=weight, repeated for several, e.g. --objective kd=0.5 --objective ce=0.5"))
    var objectives: [String] = []
    @Option(help: train("temperature")) var temperature: Float?
    @Flag(inversion: .prefixedNo, help: train("scale_by_temperature_squared")) var temperatureScaling: Bool?
    @Option(help: train("topk_tail")) var topkTail: String?
    @Option(help: train("relation_heads")) var relationHeads: Int?
    @Option(help: train("hidden_mapping")) var hiddenMapping: String?
    @Option(help: train("attention_mapping")) var attentionMapping: String?
    @Option(help: train("relation_mapping")) var relationMapping: String?
    @Option(help: train("ted_filters")) var tedFilters: String?
    @Option(help: train("ted_mapping")) var tedMapping: String?
    @Option(help: train("epochs")) var epochs: Int?
    @Option(help: train("max_steps")) var maxSteps: Int?
    @Option(help: train("batch_size")) var batchSize: Int?
    @Option(help: train("learning_rate")) var learningRate: Float?
    @Option(help: train("warmup_ratio")) var warmupRatio: Float?
    @Option(help: train("schedule")) var schedule: String?
    @Option(help: train("weight_decay")) var weightDecay: Float?
    @Option(help: train("clip_norm")) var clipNorm: Float?
    @Option(help: train("student.dropout")) var dropout: Float?
    @Option(help: train("seed")) var seed: UInt64?
    @Option(help: train("eval_every")) var evalEvery: Int?
    @Option(help: train("log_every")) var logEvery: Int?
    @Option(help: train("data_seed")) var dataSeed: UInt64?
    @Option(help: train("checkpoint_every")) var checkpointEvery: Int?
    @Option(name: .customLong("student"), help: "A student's train spec (YAML, optional `name:`); repeat to train several students in one pass. Run folders: OUT/NAME.")
    var studentFiles: [String] = []
    @Option(help: "A YAML file with a `students:` list (and optional `train:` defaults) to train in one pass. Run folders: OUT/NAME.")
    var students: String?
    @Option(name: .customLong("students-schedule"), help: "Students side by side on one thread each (concurrent), one after another on all threads (sequential), or timed both ways (auto, the default).")
    var studentsSchedule: StudentGroup.Schedule = .auto
    @Flag(help: "Continue interrupted runs from their checkpoints (kill -9 included).") var resume = false
    @Flag(help: "Train again even when a run folder holds a finished or unfinished run.") var force = false
    @Flag(help: "Check mode: the teacher computes the targets on the fly instead of the cache (needs --teacher).") var online = false
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        threads.apply()
        InterruptRequest.shared.install()
        let logger = Logger(label: "distillery.train")
        let several = students != nil || !studentFiles.isEmpty
        let named: [NamedStudent]
        if several {
            let base = try spec.map { try loadSpecNode(yaml: URL(fileURLWithPath: $0), key: "train", unreadable: DistillationError.io, invalid: DistillationError.invalidSpec) }
            var list = try students.map { try StudentList.load(list: URL(fileURLWithPath: $0), base: base) } ?? []
            list += studentFiles.isEmpty ? [] : try StudentList.load(files: studentFiles.map { URL(fileURLWithPath: $0) }, base: base)
            // Names become run folders: unique across the list file and the spec files together.
            named = try StudentList.checked(try list.map { NamedStudent(name: $0.name, spec: try applyFlags(to: $0.spec)) },
                                            origin: ([students].compactMap { $0 } + studentFiles).joined(separator: ", "))
        } else {
            named = [NamedStudent(name: "student", spec: try resolvedSpec())]
        }
        let out = URL(fileURLWithPath: self.out)
        let launch = StudentLaunch(students: named, cache: URL(fileURLWithPath: cache), dev: dev.map { URL(fileURLWithPath: $0) },
                                   teacher: teacher.map { URL(fileURLWithPath: $0) }, folder: { several ? out.appendingPathComponent($0.name) : out },
                                   options: .init(resume: resume, force: force, online: online), logger: logger)
        for (name, folder) in launch.skipped { print("\(name): already trained with this configuration and cache (\(folder.path)); --force trains it again") }
        for (name, error) in launch.rejected { FileHandle.standardError.write(Data("error: \(name): \(error)\n".utf8)) }
        if !several, let trainer = launch.members.first?.trainer {
            let configuration = try JSONSerialization.data(withJSONObject: trainer.resolvedConfiguration, options: [.prettyPrinted, .sortedKeys])
            FileHandle.standardError.write(configuration + Data("\n".utf8))
        } else {
            for m in launch.members { FileHandle.standardError.write(Data("\(m.trainer.name): \(m.trainer.totalSteps) updates, \(m.trainer.student.layout.count) parameters → \(m.run!.url.path)\n".utf8)) }
        }
        var outcomes: [StudentGroup.Outcome] = []
        if !launch.members.isEmpty {
            let bar = ProgressReporter(label: several ? "train \(launch.members.count) students" : "train")
            let group = StudentGroup(members: launch.members, threads: Threads.count, logger: logger)
            if !several {
                launch.members[0].trainer.onReport = { report in
                    bar.update(done: report.step, total: report.totalSteps, rate: report.tokensPerSecond, unit: String(format: "tokens/s, loss %.4f", report.loss))
                }
            }
            do {
                outcomes = try group.run(schedule: studentsSchedule, progress: { p in
                    if several { bar.update(done: p.stepsDone, total: p.stepsTotal, rate: p.tokensPerSecond, unit: "tokens/s, \(p.training) training") }
                })
            } catch DistillationError.interrupted(let signal, let detail) {
                bar.finish()
                FileHandle.standardError.write(Data("interrupted: \(detail)\n".utf8))
                throw ExitCode(128 + signal)
            }
            bar.finish()
            for pass in group.passes where pass.students.count > 1 {
                var line = "pass of \(pass.students.count) students: \(pass.batches) batches read once, schedule \(pass.schedule.rawValue)"
                if let s = pass.sequentialSeconds, let c = pass.concurrentSeconds {
                    line += String(format: " (median batch %.3f s one after another, %.3f s side by side)", s, c)
                }
                print(line + String(format: ", %.1f s, %.1f s waiting for the cache", pass.seconds, pass.waitSeconds))
            }
        }
        var lines: [[String: Any]] = []
        let summaries = Dictionary(outcomes.compactMap { o in o.summary.map { (o.name, $0) } }, uniquingKeysWith: { a, _ in a })
        for (name, status) in launch.statuses(after: outcomes) {
            let folder = several ? out.appendingPathComponent(name) : out
            var entry: [String: Any] = ["name": name, "status": status.word]
            if case .rejected = status {} else { entry["folder"] = folder.path }
            if let message = status.message { entry["error"] = message }
            if case .failed(let message) = status { FileHandle.standardError.write(Data("error: \(name): \(message)\n".utf8)) }
            if let summary = summaries[name] {
                var line = (several ? "\(name): " : "") + String(format: "trained %d steps, %.0f tokens/s, %.1f%% waiting for the cache; run folder %@",
                                  summary.steps, summary.tokensPerSecond, summary.waitShare * 100, folder.path)
                if summary.resumedAt > 0 { line += " (resumed at update \(summary.resumedAt))" }
                if let last = summary.evaluations.last { line += (several ? "\n  dev: " : "\ndev: ") + last.summaryLine }
                print(line)
                entry["steps"] = summary.steps
                if let last = summary.evaluations.last { entry["dev"] = last.json }
            }
            lines.append(entry)
        }
        if several {
            let data = try JSONSerialization.data(withJSONObject: ["students": lines], options: [.prettyPrinted, .sortedKeys])
            try data.write(to: out.appendingPathComponent("summary.json"), options: .atomic)
            print("summary: \(out.appendingPathComponent("summary.json").path)")
        }
        let failures = launch.rejected.count + outcomes.filter { $0.error != nil }.count
        if failures > 0 {
            FileHandle.standardError.write(Data("\(failures) of \(named.count) students failed\n".utf8))
            throw ExitCode(1)
        }
    }

    /// The YAML spec (or the defaults) with every given flag applied on top.
    func resolvedSpec() throws -> TrainSpec {
        try applyFlags(to: try spec.map { try TrainSpec.load(yaml: URL(fileURLWithPath: $0)) } ?? TrainSpec())
    }

    /// `base` with every given flag applied on top, validated.
    func applyFlags(to base: TrainSpec) throws -> TrainSpec {
        var s = base
        func set<T>(_ value: T?, _ keyPath: WritableKeyPath<TrainSpec, T>) { if let value { s[keyPath: keyPath] = value } }
        func set<T>(_ value: T?, _ keyPath: WritableKeyPath<TrainSpec, T?>) { if let value { s[keyPath: keyPath] = value } }
        func parse<T>(_ text: String?, _ keyPath: WritableKeyPath<TrainSpec, T>, _ parse: (String) throws -> T) throws {
            if let text { s[keyPath: keyPath] = try parse(text) }
        }
        set(layers, \.student.layers); set(hiddenSize, \.student.hiddenSize); set(heads, \.student.heads)
        set(intermediateSize, \.student.intermediateSize); set(dropout, \.student.dropout); set(family, \.student.family)
        set(studentTokenizer, \.student.tokenizer); set(pooling, \.pooling); set(precision, \.precision)
        try parse(initialization, \.student.initialization, StudentSpec.Initialization.init(parsing:))
        if !objectives.isEmpty { s.objectives = try TrainSpec.objectives(try Self.weights(objectives)) }
        set(temperature, \.temperature); set(temperatureScaling, \.scaleByTemperatureSquared)
        if let topkTail {
            guard let tail = TrainSpec.TopKTail(rawValue: topkTail) else { throw ValidationError("--topk-tail must be ghost or renormalized") }
            s.topkTail = tail
        }
        set(relationHeads, \.relationHeads)
        try parse(hiddenMapping, \.hiddenMapping, LayerMapping.init(parsing:))
        try parse(attentionMapping, \.attentionMapping, LayerMapping.init(parsing:))
        try parse(relationMapping, \.relationMapping, LayerMapping.init(parsing:))
        set(tedFilters, \.tedFilters); try parse(tedMapping, \.tedMapping, LayerMapping.init(parsing:))
        set(epochs, \.epochs); set(maxSteps, \.maxSteps); set(batchSize, \.batchSize); set(learningRate, \.learningRate)
        set(warmupRatio, \.warmupRatio)
        if let schedule {
            guard let decay = LearningRateSchedule.Decay(rawValue: schedule) else { throw ValidationError("--schedule must be linear, cosine or constant") }
            s.schedule = decay
        }
        set(weightDecay, \.weightDecay); set(clipNorm, \.clipNorm); set(seed, \.seed)
        set(evalEvery, \.evalEvery); set(logEvery, \.logEvery); set(dataSeed, \.dataSeed); set(checkpointEvery, \.checkpointEvery)
        do { try s.validate() } catch let error as DistillationError { throw ValidationError(error.description) }
        return s
    }

    /// `--objective name=weight` items as a map.
    static func weights(_ items: [String]) throws -> [String: Float] {
        var named: [String: Float] = [:]
        for item in items {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let weight = Float(parts[1]) else {
                throw ValidationError("--objective '\(item)': expected name=weight, e.g. kd=0.5")
            }
            named[parts[0]] = weight
        }
        return named
    }
}

/// The help of a train setting's flag, from `TrainSpec.settings` (default included).
private func train(_ path: String, usage: String? = nil) -> ArgumentHelp { ArgumentHelp(TrainSpec.settings.help(path, usage: usage)) }

extension StudentGroup.Schedule: ExpressibleByArgument {}

extension Pooling: ExpressibleByArgument {}

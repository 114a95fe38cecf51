import ArgumentParser
import Bert
import Foundation
import Kernels
import Datasets
import Distillation
import Logging
import TeacherCache

/// `distillery bench`: throughput figures for the benchmarks in the Makefile.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure throughput (used by `make bench-*`).",
        subcommands: [TeacherBench.self, CacheBench.self, TrainBench.self, ManyBench.self]
    )
}

struct TeacherBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "teacher",
        abstract: "Teacher forward throughput in tokens/s, capturing hidden states and attention probabilities."
    )

    @OptionGroup var model: ModelOptions
    @OptionGroup var threads: ThreadOptions
    @Option(help: "Sequences per batch.") var batch = 32
    @Option(help: "Tokens per sequence (all real, no padding).") var seq = 128
    @Option(help: "Timed runs; the median is reported.") var runs = 5
    @Option(help: "Untimed warm-up runs.") var warmup = 1

    func run() throws {
        threads.apply()
        let bert = try BertModel.load(directory: URL(fileURLWithPath: model.model))
        let forward = BertForward(model: bert, maxBatch: batch, maxSeq: seq, capture: [.hiddenStates, .attentions])
        var generator = SystemRandomNumberGenerator()
        let ids = (0..<(batch * seq)).map { i in i % seq == 0 ? Int32(101) : Int32.random(in: 1000..<Int32(bert.config.vocabSize), using: &generator) }
        let input = BertInput(batch: batch, seq: seq, inputIds: ids, tokenTypeIds: .init(repeating: 0, count: ids.count),
                              attentionMask: .init(repeating: 1, count: ids.count))
        for _ in 0..<warmup { try forward.run(input) }
        var rates: [Double] = []
        for _ in 0..<runs {
            let start = DispatchTime.now().uptimeNanoseconds
            try forward.run(input)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            rates.append(Double(batch * seq) / seconds)
        }
        let median = rates.sorted()[rates.count / 2]
        print(String(format: "distillery teacher: batch %d x seq %d, %d threads: median %.0f tokens/s over %d runs (min %.0f, max %.0f)",
                     batch, seq, Threads.count, median, runs, rates.min()!, rates.max()!))
    }
}

/// `distillery bench cache`: what stage one costs beyond the teacher, what it stores, how fast it reads.
struct CacheBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "Stage-one wall time against the teacher alone, bytes per token per codec, and sequential read throughput."
    )

    @Option(help: "Teacher folder.") var teacher: String
    @Option(help: "JSON Lines text sample ({\"text\": …} per line).") var data: String
    @Option(help: "Folder for the benchmark caches (removed afterwards).") var workDirectory = "build/bench-cache"
    @Option(help: "Tokens per sequence.") var maxLength = 128
    @Option(help: "Sequences per forward pass.") var batchSize = 32
    @Option(help: "Hidden layers to cache.") var hidden = LayerList(argument: "2,4,6")!
    @Option(help: "Attention layers to cache.") var attention = LayerList(argument: "6")!
    @Option(help: "zstd level.") var level = 3
    @Option(help: "Timed repetitions; medians are reported.") var runs = 3
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        threads.apply()
        let folder = URL(fileURLWithPath: workDirectory)
        try? FileManager.default.removeItem(at: folder)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let layers = 6
        var spec = CacheSpec()
        spec.maxLength = maxLength; spec.batchSize = batchSize; spec.compressionLevel = level
        spec.hiddenLayers = hidden.resolve(last: layers, first: 0)
        spec.attentionLayers = attention.resolve(last: layers, first: 1)
        func request(_ spec: CacheSpec, _ name: String) -> CacheRequest {
            var r = CacheRequest(teacher: URL(fileURLWithPath: teacher), data: [URL(fileURLWithPath: data)], readOptions: DatasetReadOptions(),
                                 spec: spec, output: folder.appendingPathComponent(name))
            r.overwrite = true
            return r
        }
        func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
        let logger = Logger(label: "bench")

        // 1. Stage one against the teacher alone, alternated so machine noise hits both.
        var teacherTimes: [Double] = [], cacheTimes: [Double] = [], tokens = 0
        for _ in 0..<runs {
            let pass = try CacheBuilder.teacherPass(request(spec, "unused.h5"))
            teacherTimes.append(pass.seconds); tokens = pass.tokens
            cacheTimes.append(try CacheBuilder.build(request(spec, "fp16.h5"), logger: logger).wallSeconds)
        }
        let t = median(teacherTimes), c = median(cacheTimes)
        print(String(format: "stage one, all-MiniLM-L6-v2, %d tokens (seq ≤ %d), hidden %@ + attention %@, fp16 + zstd %d: teacher alone %.2f s, whole cache run %.2f s: %.3f× (medians of %d)",
                     tokens, maxLength, "\(spec.hiddenLayers)", "\(spec.attentionLayers)", level, t, c, c / t, runs))

        // 2. Bytes per token per component for each codec.
        for codec in TensorCodec.allCases {
            var s = spec
            s.codecs.hidden = codec; s.codecs.attention = codec
            let name = "\(codec).h5"
            if codec != .fp16 { _ = try CacheBuilder.build(request(s, name), logger: logger) }
            let report = try CacheReport.read(folder.appendingPathComponent(name))
            let parts = report.components.filter { $0.name != "inputs" }.map { part in
                String(format: "%@ %.0f B/token (%.2f× vs raw fp32)", part.name, Double(part.storedBytes) / Double(report.tokens),
                       Double(part.rawBytes) / Double(max(part.storedBytes, 1)))
            }
            print("codec \(codec): " + parts.joined(separator: ", ") + String(format: "; file %.0f B/token", Double(report.fileBytes) / Double(report.tokens)))
        }

        // 3. Sequential reads of what a 3-layer student needs from the fp16 cache.
        let reader = try CacheReader(url: folder.appendingPathComponent("fp16.h5"))
        let selection = CacheSelection(hiddenLayers: Array(spec.hiddenLayers.suffix(3)), attentionLayers: [spec.attentionLayers.last!])
        var rates: [Double] = []
        for _ in 0..<runs {
            let start = DispatchTime.now().uptimeNanoseconds
            var read = 0
            for batch in CacheBatches(reader: reader, options: .init(batchSize: 32, selection: selection)) { read += batch.reduce(0) { $0 + $1.length } }
            rates.append(Double(read) / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9))
        }
        print(String(format: "sequential read (hidden %@ + attention %@, fp16): median %.0f tokens/s", "\(selection.hiddenLayers)", "\(selection.attentionLayers)", median(rates)))
    }
}

/// `distillery bench train`: stage-two training throughput against the cache, the share of step
/// time spent waiting for cache reads, and peak memory. The teacher is all-MiniLM-L6-v2 with a
/// random two-class head (MiniLM ships without one; KD needs logits, their values do not matter
/// for speed); its cache is built once into the work folder and reused.
struct TrainBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Student training tokens/s from a cache (3 × 384 student, KD + hidden MSE + attention KL on the last layer)."
    )

    @Option(help: "Teacher folder (all-MiniLM-L6-v2).") var teacher: String
    @Option(help: "JSON Lines text sample ({\"text\": …} per line), long enough to fill --seq tokens.") var data: String
    @Option(help: "Folder for the teacher with a head and its caches (kept between runs).") var workDirectory = "build/bench-train"
    @Option(help: "Sequences per step.") var batch = 32
    @Option(help: "Tokens per sequence.") var seq = 128
    @Option(help: "Student layers (hidden size, heads and FFN are the teacher's).") var layers = 3
    @Option(help: "Timed steps per run.") var steps = 5
    @Option(help: "Timed runs; the median is reported.") var runs = 3
    @Option(help: "Untimed warm-up steps.") var warmup = 2
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        threads.apply()
        let folder = URL(fileURLWithPath: workDirectory)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let logger = Logger(label: "bench")
        let headed = try Self.teacherWithHead(teacher, in: folder)
        let cache = folder.appendingPathComponent("cache-\(seq).h5")
        if !FileManager.default.fileExists(atPath: cache.path) {
            var spec = CacheSpec()
            spec.maxLength = seq; spec.hiddenLayers = [6]; spec.attentionLayers = [6]; spec.logits = [.full]
            _ = try CacheBuilder.build(CacheRequest(teacher: headed, data: [URL(fileURLWithPath: data)], readOptions: DatasetReadOptions(),
                                                    spec: spec, output: cache), logger: logger)
        }
        var spec = TrainSpec()
        spec.objectives = [.kd: 1, .hiddenMSE: 1, .attentionKL: 1]
        spec.hiddenMapping = .last; spec.attentionMapping = .last
        spec.student.layers = layers
        spec.batchSize = batch
        spec.maxSteps = 1 << 30
        let trainer = try StudentTrainer(spec: spec, cache: cache, teacherDirectory: headed, logger: logger)
        let reader = try CacheReader(url: cache)
        var batches = CacheBatches(reader: reader, options: .init(batchSize: batch, shuffle: true, selection: trainer.plan.selection))
        var epoch = 0, stepIndex = 0
        func nextBatch() throws -> [CachedSequence] {
            while true {
                if let b = try batches.nextBatch(), b.count == batch { return b }
                epoch += 1
                batches = CacheBatches(reader: reader, options: .init(batchSize: batch, shuffle: true, epoch: epoch, selection: trainer.plan.selection))
            }
        }
        for _ in 0..<warmup { _ = try trainer.step(try nextBatch(), index: stepIndex, learningRate: 1e-4); stepIndex += 1 }
        var rates: [Double] = [], waits: [Double] = []
        for _ in 0..<runs {
            let waitBefore = batches.waitSeconds
            let start = DispatchTime.now().uptimeNanoseconds
            var tokens = 0, waitAcrossEpochs = 0.0
            for _ in 0..<steps {
                let current = batches
                let before = current.waitSeconds
                let b = try nextBatch()
                waitAcrossEpochs += current === batches ? 0 : current.waitSeconds - before
                tokens += b.reduce(0) { $0 + $1.length }
                _ = try trainer.step(b, index: stepIndex, learningRate: 1e-4)
                stepIndex += 1
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            rates.append(Double(tokens) / seconds)
            waits.append((max(0, batches.waitSeconds - waitBefore) + waitAcrossEpochs) / seconds)
        }
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        let median = { (xs: [Double]) in xs.sorted()[xs.count / 2] }
        print(String(format: "distillery train step: student %d x %d, batch %d x seq %d, %d threads: cache waiting %.1f%% of step time, peak RSS %.0f MiB, median %.0f tokens/s over %d runs",
                     layers, trainer.student.config.hiddenSize, batch, seq, Threads.count, median(waits) * 100,
                     Double(usage.ru_maxrss) / 1024, median(rates), runs))
    }

    /// `folder`/teacher-with-head: the teacher with a random two-class head (made once, then reused).
    static func teacherWithHead(_ teacher: String, in folder: URL) throws -> URL {
        let headed = folder.appendingPathComponent("teacher-with-head")
        if !FileManager.default.fileExists(atPath: headed.appendingPathComponent("model.safetensors").path) {
            try addClassifier(to: URL(fileURLWithPath: teacher), labels: 2, saveTo: headed)
        }
        return headed
    }

    /// The teacher with a randomly initialised classification head, saved as a Hugging Face folder.
    static func addClassifier(to directory: URL, labels: Int, saveTo output: URL) throws {
        let headed = StudentFactory.model(try BertModel.load(directory: directory), withHeads: BertHeads(pooler: true, classifierLabels: labels),
                                          labels: (0..<labels).map { "LABEL_\($0)" }, seed: 0)
        try StudentExport.save(headed, to: output, tokenizerFrom: directory)
    }
}

/// `distillery bench many`: what the cache is for. Eight small students, one epoch each:
/// (a) together in one pass over the cache, (b) one after another from the cache, (c) one after
/// another with the teacher run online for each (how public toolkits distil). Same data, same
/// students, same run; the cache is built once and its build time is reported on its own.
struct ManyBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "many",
        abstract: "Wall time of 8 students for one epoch: together from the cache, one by one from the cache, one by one with the teacher online."
    )

    @Option(help: "Teacher folder (all-MiniLM-L6-v2; a random two-class head is added for KD).") var teacher: String
    @Option(help: "JSON Lines text sample ({\"text\": …} per line).") var data: String
    @Option(help: "Folder for the teacher with a head and the cache (kept between runs).") var workDirectory = "build/bench-many"
    @Option(help: "Tokens per sequence.") var maxLength = 64
    @Option(help: "Sequences per update.") var batch = 32
    @Option(help: "Student layers.") var layers = 2
    @Option(help: "Which runs: any of a, b, c.") var modes = "abc"
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        threads.apply()
        let folder = URL(fileURLWithPath: workDirectory)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let headed = try TrainBench.teacherWithHead(teacher, in: folder)
        // Eight students: four objective sets × lower/upper initialisation.
        var students: [NamedStudent] = []
        let objectiveSets: [(String, [ObjectiveKind: Float])] = [
            ("kd", [.kd: 1]), ("kd-hidden", [.kd: 1, .hiddenMSE: 1]), ("kd-attention", [.kd: 1, .attentionKL: 1]), ("kd-relations", [.kd: 1, .relations: 1]),
        ]
        for (name, objectives) in objectiveSets {
            for initialization in ["lower", "upper"] {
                var spec = TrainSpec()
                spec.objectives = objectives
                spec.student.layers = layers
                spec.student.initialization = try .init(parsing: initialization)
                spec.epochs = 1; spec.batchSize = batch; spec.checkpointEvery = 0; spec.logEvery = 1 << 20
                spec.hiddenMapping = .uniform; spec.attentionMapping = .last; spec.relationMapping = .last
                students.append(NamedStudent(name: "\(name)-\(initialization)", spec: spec))
            }
        }
        let cache = folder.appendingPathComponent("cache-\(maxLength).h5")
        var cacheSpec = CacheSpec()
        cacheSpec.maxLength = maxLength
        cacheSpec.hiddenLayers = Array(Set([0, 6] + (1...layers).map { $0 * 6 / layers })).sorted()
        cacheSpec.attentionLayers = [6]; cacheSpec.relationLayers = [6]; cacheSpec.logits = [.full]
        var request = CacheRequest(teacher: headed, data: [URL(fileURLWithPath: data)], readOptions: DatasetReadOptions(), spec: cacheSpec, output: cache)
        request.overwrite = true
        let build = try CacheBuilder.build(request, logger: logger)
        let sequences = try CacheReader(url: cache).sequenceCount
        print(String(format: "cache: %d sequences (≤ %d tokens), hidden %@ + attention 6 + Q/K/V 6 + logits, built once in %.1f s",
                     sequences, maxLength, "\(cacheSpec.hiddenLayers)", build.wallSeconds))

        func trainers(online: Bool) throws -> [StudentTrainer] {
            try students.map { try StudentTrainer(spec: $0.spec, cache: cache, teacherDirectory: headed, online: online, logger: logger, name: $0.name) }
        }
        func timed(_ groups: [[StudentTrainer]], schedule: StudentGroup.Schedule) throws -> (seconds: Double, summaries: [TrainingSummary], passes: [StudentGroup.PassReport]) {
            let start = Date()
            var summaries: [TrainingSummary] = [], passes: [StudentGroup.PassReport] = []
            for members in groups {
                let group = StudentGroup(members: members.map { .init(trainer: $0, run: nil, dev: nil) }, threads: Threads.available, logger: logger)
                for outcome in try group.run(schedule: schedule) {
                    if let error = outcome.error { throw error }
                    summaries.append(outcome.summary!)
                }
                passes += group.passes
            }
            return (Date().timeIntervalSince(start), summaries, passes)
        }
        var results: [Character: Double] = [:]
        if modes.contains("a") {
            let a = try timed([try trainers(online: false)], schedule: .auto)
            results["a"] = a.seconds
            let pass = a.passes[0]
            var line = String(format: "(a) together, one pass: %.1f s; %d batches read once, %.1f s waiting for the reader, schedule %@",
                              a.seconds, pass.batches, pass.waitSeconds, pass.schedule.rawValue)
            if let s = pass.sequentialSeconds, let c = pass.concurrentSeconds {
                line += String(format: " (median batch for all students %.3f s one after another on %d threads, %.3f s side by side)", s, Threads.available, c)
            }
            print(line)
        }
        if modes.contains("b") {
            let b = try timed(try trainers(online: false).map { [$0] }, schedule: .sequential)
            results["b"] = b.seconds
            print(String(format: "(b) one after another from the cache: %.1f s; %.1f s waiting for the reader", b.seconds, b.passes.reduce(0) { $0 + $1.waitSeconds }))
        }
        if modes.contains("c") {
            let c = try timed(try trainers(online: true).map { [$0] }, schedule: .sequential)
            results["c"] = c.seconds
            let teacherTime = c.summaries.reduce(0) { $0 + $1.teacherSeconds }
            print(String(format: "(c) one after another, teacher online: %.1f s, of which %.1f s (%.0f%%) in the teacher's forward passes",
                         c.seconds, teacherTime, 100 * teacherTime / c.seconds))
        }
        if let c = results["c"] {
            for mode: Character in ["a", "b"] {
                guard let x = results[mode] else { continue }
                print(String(format: "(%@)/(c) = %.3f (%.3f counting the one-off cache build)", String(mode), x / c, (x + build.wallSeconds) / c))
            }
        }
    }
}

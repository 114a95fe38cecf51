import ArgumentParser
import Bert
import Foundation
import Kernels
import Datasets
import Logging
import TeacherCache

/// `distillery bench`: throughput figures for the benchmarks in the Makefile.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure throughput (used by `make bench-*`).",
        subcommands: [TeacherBench.self, CacheBench.self]
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

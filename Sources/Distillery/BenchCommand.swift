import ArgumentParser
import Benchmarks
import Foundation

/// `distillery bench`: throughput figures for the benchmarks in the Makefile. The work is the
/// `Benchmarks` module's; these commands parse options and print its lines.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure throughput (used by `make bench-*`); any BERT folder as the teacher.",
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
    @OptionGroup var precision: PrecisionOptions
    @Option(help: "Sequences per batch.") var batch = 32
    @Option(help: "Tokens per sequence (all real, no padding).") var seq = 128
    @Option(help: "Timed runs; the median is reported.") var runs = 5
    @Option(help: "Untimed warm-up runs.") var warmup = 1

    func run() throws {
        threads.apply()
        print(try TeacherThroughput.measure(model: URL(fileURLWithPath: model.model), batch: batch, seq: seq, runs: runs, warmup: warmup,
                                            precision: precision.precision).line)
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
    @Option(help: "Hidden layers to cache (default: L/3, 2L/3 and L of the teacher's L layers).") var hidden: LayerList?
    @Option(help: "Attention layers to cache (default: the last).") var attention: LayerList?
    @Option(help: "zstd level (default: the cache's default).") var level: Int?
    @Option(help: "Timed repetitions; medians are reported.") var runs = 3
    @OptionGroup var precision: PrecisionOptions
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        threads.apply()
        var settings = StageOneBenchmark.Settings(teacher: URL(fileURLWithPath: teacher), data: URL(fileURLWithPath: data),
                                                  workDirectory: URL(fileURLWithPath: workDirectory))
        settings.maxLength = maxLength; settings.batchSize = batchSize; settings.runs = runs
        if let level { settings.level = level }
        settings.precision = precision.precision
        let depth = try teacherDepth(teacher)
        settings.hiddenLayers = hidden?.resolve(last: depth, first: 0)
        settings.attentionLayers = attention?.resolve(last: depth, first: 1)
        try StageOneBenchmark.run(settings) { print($0) }
    }
}

/// `distillery bench train`: stage-two training throughput against the cache.
struct TrainBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Student training tokens/s from a cache (a student of the teacher's width, KD + hidden MSE + attention KL on the last layer)."
    )

    @Option(help: "Teacher folder (a random two-class head is added when it has none).") var teacher: String
    @Option(help: "JSON Lines text sample ({\"text\": …} per line), long enough to fill --seq tokens.") var data: String
    @Option(help: "Folder for the teacher with a head and its caches (kept between runs).") var workDirectory = "build/bench-train"
    @Option(help: "Sequences per step.") var batch = 32
    @Option(help: "Tokens per sequence.") var seq = 128
    @Option(help: "Student layers (hidden size, heads and FFN are the teacher's).") var layers = 3
    @Option(help: "Timed steps per run.") var steps = 5
    @Option(help: "Timed runs; the median is reported.") var runs = 3
    @Option(help: "Untimed warm-up steps.") var warmup = 2
    @OptionGroup var precision: PrecisionOptions
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        threads.apply()
        var settings = TrainStepBenchmark.Settings(teacher: URL(fileURLWithPath: teacher), data: URL(fileURLWithPath: data),
                                                   workDirectory: URL(fileURLWithPath: workDirectory))
        settings.batch = batch; settings.seq = seq; settings.layers = layers; settings.steps = steps; settings.runs = runs; settings.warmup = warmup
        settings.precision = precision.precision
        print(try TrainStepBenchmark.measure(settings).line)
    }
}

/// `distillery bench many`: eight students together from the cache, one by one from the cache,
/// one by one with the teacher online.
struct ManyBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "many",
        abstract: "Wall time of 8 students for one epoch: together from the cache, one by one from the cache, one by one with the teacher online."
    )

    @Option(help: "Teacher folder (a random two-class head is added when it has none).") var teacher: String
    @Option(help: "JSON Lines text sample ({\"text\": …} per line).") var data: String
    @Option(help: "Folder for the teacher with a head and the cache (kept between runs).") var workDirectory = "build/bench-many"
    @Option(help: "Tokens per sequence.") var maxLength = 64
    @Option(help: "Sequences per update.") var batch = 32
    @Option(help: "Student layers.") var layers = 2
    @Option(help: "Which runs: any of a, b, c.") var modes = "abc"
    @OptionGroup var precision: PrecisionOptions
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        threads.apply()
        var settings = ManyStudentsBenchmark.Settings(teacher: URL(fileURLWithPath: teacher), data: URL(fileURLWithPath: data),
                                                      workDirectory: URL(fileURLWithPath: workDirectory))
        settings.maxLength = maxLength; settings.batch = batch; settings.layers = layers; settings.modes = modes
        settings.precision = precision.precision
        try ManyStudentsBenchmark.run(settings) { print($0) }
    }
}

import ArgumentParser
import Bert
import Foundation
import Kernels

/// `distillery bench`: throughput figures for the benchmarks in the Makefile.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure throughput (used by `make bench-*`).",
        subcommands: [TeacherBench.self]
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

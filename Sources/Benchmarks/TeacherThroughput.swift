import Bert
import Foundation
import Kernels

/// Teacher forward throughput in tokens/s on a (batch, seq) of random real tokens, capturing hidden
/// states and attention probabilities as stage one does (`make bench-teacher`).
public enum TeacherThroughput {
    public struct Result: Sendable {
        public var batch: Int, seq: Int, threads: Int
        public var precision: Precision
        public var rates: [Double]
        public var median: Double { Measure.median(rates) }
        public var line: String {
            String(format: "distillery teacher%@: batch %d x seq %d, %d threads, OpenBLAS %@: median %.0f tokens/s over %d runs (min %.0f, max %.0f)",
                   precision == .bf16 ? " (bf16)" : "", batch, seq, threads, BLASCore.current, median, rates.count, rates.min()!, rates.max()!)
        }
    }

    public static func measure(model folder: URL, batch: Int, seq: Int, runs: Int, warmup: Int, precision: Precision = .fp32) throws -> Result {
        let bert = try BertModel.load(directory: folder)
        let forward = BertForward(model: bert, maxBatch: batch, maxSeq: seq, capture: [.hiddenStates, .attentions], precision: precision)
        var generator = SystemRandomNumberGenerator()
        // [CLS]-like first token, then ids from the upper part of the vocabulary (ordinary word pieces).
        let low = Int32(min(1000, bert.config.vocabSize / 2))
        let ids = (0..<(batch * seq)).map { i in i % seq == 0 ? Int32(min(101, bert.config.vocabSize - 1)) : Int32.random(in: low..<Int32(bert.config.vocabSize), using: &generator) }
        let input = BertInput(batch: batch, seq: seq, inputIds: ids, tokenTypeIds: .init(repeating: 0, count: ids.count),
                              attentionMask: .init(repeating: 1, count: ids.count))
        for _ in 0..<warmup { try forward.run(input) }
        var rates: [Double] = []
        for _ in 0..<runs { rates.append(Double(batch * seq) / (try Measure.seconds { try forward.run(input) })) }
        return Result(batch: batch, seq: seq, threads: Threads.count, precision: precision, rates: rates)
    }
}

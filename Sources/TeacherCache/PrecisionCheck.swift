import Bert
import Foundation
import Kernels

/// What a bf16 teacher costs in accuracy, measured where it is used: when a bf16 cache starts, the
/// data's first `sampleSequences` sequences run through the teacher twice, in bf16 and in fp32, and
/// every output the cache stores is compared over the real tokens. Kept in the cache's provenance
/// (`distillery inspect` prints it). The first sequences of the whole data, not of a shard, so
/// every shard of one cache records the same figures.
public struct PrecisionCheck: Codable, Equatable, Sendable {
    /// Largest and mean absolute difference from fp32.
    public struct Deviation: Codable, Equatable, Sendable {
        public var maxAbs: Double
        public var meanAbs: Double
    }

    public var precision: Precision
    /// Sequences compared (the data's first).
    public var sequences: Int

    /// How many sequences a cache compares: about a thousand tokens, hundreds of thousands of
    /// values per output, at a quarter of a 32-sequence batch's cost (a whole batch in fp32 took a
    /// fifth of a 48k-token bf16 cache run).
    public static let sampleSequences = 8
    /// By output: "hidden.L", "attention.L", "relations.L", "logits".
    public var outputs: [String: Deviation]

    /// Runs `records` through `forward` (bf16) and an fp32 pass of the same teacher, as `pack` stores them.
    static func measure(_ forward: BertForward, records: [SequenceRecord], spec: CacheSpec,
                        run: (BertForward, inout [SequenceRecord]) throws -> TeacherOutputs) throws -> PrecisionCheck {
        let reference = BertForward(model: forward.model, maxBatch: records.count, maxSeq: forward.maxSeq, capture: forward.capture)
        var a = records, b = records
        let fast = try run(forward, &a), exact = try run(reference, &b)
        var outputs: [String: Deviation] = [:]
        func compare(_ name: String, _ x: [Float], _ y: [Float]) {
            guard !x.isEmpty, x.count == y.count else { return }
            var worst: Double = 0, sum: Double = 0
            for i in x.indices {
                let d = Double(abs(x[i] - y[i]))
                worst = max(worst, d); sum += d
            }
            outputs[name] = Deviation(maxAbs: worst, meanAbs: sum / Double(x.count))
        }
        for (k, l) in spec.hiddenLayers.enumerated() { compare("hidden.\(l)", fast.hidden[k], exact.hidden[k]) }
        for (k, l) in spec.attentionLayers.enumerated() { compare("attention.\(l)", fast.attention[k], exact.attention[k]) }
        for (k, l) in spec.relationLayers.enumerated() { compare("relations.\(l)", fast.relations[k], exact.relations[k]) }
        compare("logits", fast.logits, exact.logits)
        return PrecisionCheck(precision: forward.precision, sequences: records.count, outputs: outputs)
    }

    /// One line per output, in the cache's order of names.
    public var lines: [String] {
        ["\(precision.rawValue) teacher against fp32 on the first \(sequences) sequences (absolute differences):"]
            + outputs.keys.sorted { Self.order($0) < Self.order($1) }.map { name in
                let d = outputs[name]!
                return String(format: "  %@: max %.3g, mean %.3g", name, d.maxAbs, d.meanAbs)
            }
    }

    private static func order(_ name: String) -> (Int, Int) {
        let parts = name.split(separator: ".")
        let kind = ["hidden", "attention", "relations", "logits"].firstIndex(of: String(parts[0])) ?? 4
        return (kind, parts.count > 1 ? Int(parts[1]) ?? 0 : 0)
    }
}

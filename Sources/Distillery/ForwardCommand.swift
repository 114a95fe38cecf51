import ArgumentParser
import Bert
import Foundation
import SafeTensors
import TeacherCache
import Tokenization

/// `distillery forward`: run the teacher on a few lines of text and save what it computes.
/// For inspection and small samples; whole datasets go through `distillery cache`.
struct ForwardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Run a BERT model on text lines and save its outputs as safetensors.",
        discussion: """
        Input: one example per line, `text` or `text<TAB>pair`. Output tensors (padded to the longest \
        example): input_ids, token_type_ids, attention_mask (batch, seq); hidden.<l> (batch, seq, hidden) \
        for l = 0 (embeddings) … layers; attention.<l> (batch, heads, seq, seq) and query/key/value.<l> \
        for l = 1 … layers (the layer whose output is hidden.<l>, as in caches); pooled; logits. Read them with safetensors in Python or `distillery` itself.
        """
    )

    @OptionGroup var model: ModelOptions
    @OptionGroup var threads: ThreadOptions
    @OptionGroup var precision: PrecisionOptions

    @Option(name: .long, help: "Text file, one example per line (text or text<TAB>pair).")
    var input: String

    @Option(name: .long, help: "Where to write the outputs (.safetensors).")
    var out: String

    @Option(name: .long, help: "Maximum tokens per example, [CLS]/[SEP] included (default 128, or the model's max_position_embeddings if smaller).")
    var maxLength: Int?

    @Option(name: .long, parsing: .upToNextOption, help: "What to save: hidden, attentions, projections, logits.")
    var capture: [CaptureKind] = [.hidden, .logits]

    func validate() throws {
        if let maxLength, maxLength < 3 { throw ValidationError("--max-length must be at least 3") }
    }

    func run() throws {
        threads.apply()
        let folder = URL(fileURLWithPath: model.model)
        let bert = try BertModel.load(directory: folder)
        let tokenizer = try loadTeacherTokenizer(folder, config: bert.config)
        let positions = bert.config.maxSequenceLength
        if let maxLength, maxLength > positions {
            throw ValidationError("--max-length \(maxLength) is over \(bert.config.positionsDescription) (\(folder.path)/config.json)")
        }
        let lines = try readExamples(URL(fileURLWithPath: input))
        let batch = tokenizer.encodeBatch(lines, maxLength: maxLength ?? min(128, positions))
        let what = capture.reduce(into: BertCapture()) { $0.insert($1.option) }
        let forward = BertForward(model: bert, maxBatch: batch.batchSize, maxSeq: batch.sequenceLength, capture: what, precision: precision.precision)
        try forward.run(BertInput(batch: batch.batchSize, seq: batch.sequenceLength, inputIds: batch.inputIds,
                                  tokenTypeIds: batch.tokenTypeIds, attentionMask: batch.attentionMask))

        let (b, t, c, h) = (batch.batchSize, batch.sequenceLength, bert.config.hiddenSize, bert.config.numAttentionHeads)
        var writer = SafeTensorsWriter(metadata: ["producer": "distillery \(DistilleryCommand.version)", "model": folder.path])
        try writer.add("input_ids", shape: [b, t], int64s: batch.inputIds.map(Int64.init))
        try writer.add("token_type_ids", shape: [b, t], int64s: batch.tokenTypeIds.map(Int64.init))
        try writer.add("attention_mask", shape: [b, t], int64s: batch.attentionMask.map(Int64.init))
        let layers = bert.config.numHiddenLayers
        if what.contains(.hiddenStates) {
            for l in 0...layers { try writer.add("hidden.\(l)", shape: [b, t, c], floats: Array(forward.hiddenState(layer: l))) }
        } else {
            try writer.add("hidden.\(layers)", shape: [b, t, c], floats: Array(forward.hiddenState(layer: layers)))
        }
        for l in 1...layers {
            if what.contains(.attentions) {
                try writer.add("attention.\(l)", shape: [b, h, t, t], floats: Array(forward.attentionProbabilities(layer: l)))
            }
            if what.contains(.projections) {
                for projection in BertForward.Projection.allCases {
                    try writer.add("\(projection).\(l)", shape: [b, t, c], floats: forward.projection(projection, layer: l))
                }
            }
        }
        if what.contains(.logits) {
            if bert.heads.pooler { try writer.add("pooled", shape: [b, c], floats: Array(forward.pooled)) }
            if bert.heads.classifierLabels > 0 {
                try writer.add("logits", shape: [b, bert.heads.classifierLabels], floats: Array(forward.classifierLogits))
            } else if bert.heads.maskedLM {
                try writer.add("logits", shape: [b, t, bert.config.vocabSize], floats: Array(forward.maskedLMLogits))
            }
        }
        try writer.write(to: URL(fileURLWithPath: out))
        print("wrote \(out): \(b) examples × \(t) tokens (\(batch.lengths.reduce(0, +)) real), \(layers) layers, captured \(capture.map(\.rawValue).joined(separator: ", "))")
    }

    private func readExamples(_ url: URL) throws -> [(text: String, pair: String?)] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ValidationError("cannot read \(url.path)")
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            throw ValidationError("\(url.path) is not valid UTF-8")
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true).map { line -> (text: String, pair: String?) in
            let parts = line.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]) : nil)
        }
        guard !lines.isEmpty else { throw ValidationError("\(url.path) has no examples") }
        return lines
    }
}

enum CaptureKind: String, ExpressibleByArgument, CaseIterable {
    case hidden, attentions, projections, logits

    var option: BertCapture {
        switch self {
        case .hidden: return .hiddenStates
        case .attentions: return .attentions
        case .projections: return .projections
        case .logits: return .logits
        }
    }
}

/// One cached sequence as the teacher saw it.
public struct SequenceRecord: Sendable {
    /// Row of the input dataset (0-based, across all data files) and the view (masked-LM copies).
    public var exampleIndex: Int
    public var view: Int
    public var exampleId: String
    /// The example's text and the second text of a pair, as the teacher's tokenizer read them.
    public var text: String
    public var textPair: String?
    public var label: LabelValue?
    /// Token ids after masking (when masking applies), [CLS] … [SEP] with no padding.
    public var inputIds: [Int32]
    public var tokenTypeIds: [Int32]
    public var masking: MaskingPlan?

    public var length: Int { inputIds.count }
}

public enum LabelValue: Sendable, Equatable {
    case classIndex(Int64)
    case regression(Float)
}

/// What the teacher produced for one batch, packed without padding, ready for the writer.
struct TeacherOutputs: Sendable {
    var sequences: [SequenceRecord]
    /// Per `spec.hiddenLayers` entry: (Σn, hidden).
    var hidden: [[Float]]
    /// Per `spec.attentionLayers` entry: per sequence heads × n × n.
    var attention: [[Float]]
    /// Per `spec.relationLayers` entry: (Σn, 3·hidden) as [query | key | value].
    var relations: [[Float]]
    /// (rows, logitWidth): one row per sequence (classifier) or per masked position (MLM).
    var logits: [Float]
    var logitWidth: Int

    var tokenCount: Int { sequences.reduce(0) { $0 + $1.length } }
}

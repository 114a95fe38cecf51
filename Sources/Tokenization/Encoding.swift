/// One encoded input with its specials, e.g. [CLS] a [SEP] b [SEP] (BERT) or <s> a </s></s> b </s> (RoBERTa).
public struct Encoding: Sendable, Equatable {
    public var inputIds: [Int32]
    /// BERT: 0 for [CLS], the first sequence and its [SEP]; 1 for the pair and its [SEP].
    /// RoBERTa and XLM-R: all 0.
    public var tokenTypeIds: [Int32]
    /// The vocabulary token of each id, specials included.
    public var tokens: [String]

    public init(inputIds: [Int32], tokenTypeIds: [Int32], tokens: [String]) {
        self.inputIds = inputIds
        self.tokenTypeIds = tokenTypeIds
        self.tokens = tokens
    }
}

/// A batch padded to one length; every array is row-major (batchSize, sequenceLength).
public struct PaddedBatch: Sendable {
    public var batchSize: Int
    public var sequenceLength: Int
    /// Padding positions hold the tokenizer's `padId`.
    public var inputIds: [Int32]
    /// Padding positions hold 0.
    public var tokenTypeIds: [Int32]
    /// 1 for real tokens, 0 for padding.
    public var attentionMask: [Int32]
    /// Real (unpadded) length of each row.
    public var lengths: [Int]

    public init(
        batchSize: Int, sequenceLength: Int, inputIds: [Int32], tokenTypeIds: [Int32],
        attentionMask: [Int32], lengths: [Int]
    ) {
        self.batchSize = batchSize
        self.sequenceLength = sequenceLength
        self.inputIds = inputIds
        self.tokenTypeIds = tokenTypeIds
        self.attentionMask = attentionMask
        self.lengths = lengths
    }
}

/// What the rest of the code needs from a tokenizer of any model family: ids of a text (or a
/// pair) with the model's special tokens around them, padded batches, and the special ids and
/// vocabulary size a model's embedding tables must match.
///
/// Conformers: `BertTokenizer` (vocab.txt WordPiece, as transformers' Python BertTokenizer) and
/// `PipelineTokenizer` (tokenizer.json, vocab.json + merges.txt or a SentencePiece model, as the
/// Rust `tokenizers` library). `loadTokenizer(modelDirectory:format:)` picks one for a folder.
public protocol Tokenizer: Sendable {
    /// Rows an embedding table needs: the largest id the tokenizer can produce, plus one
    /// (HF's `get_vocab_size(with_added_tokens=True)` for a dense vocabulary).
    var vocabularySize: Int { get }
    var padId: Int32 { get }
    var unkId: Int32 { get }
    var maskId: Int32 { get }
    /// The token opening every encoding: [CLS] for BERT, <s> (bos) for RoBERTa and XLM-R.
    var clsId: Int32 { get }
    /// The token closing each sequence: [SEP] for BERT, </s> (eos) for RoBERTa and XLM-R.
    var sepId: Int32 { get }

    func id(of token: String) -> Int32?
    func token(of id: Int32) -> String?
    /// The tokens of `text`, without the specials the encoding adds around it.
    func tokenize(_ text: String) -> [String]
    /// Ids and token types of `text` (and `pair`) with the model's specials, cut to `maxLength`
    /// tokens including the specials by the family's reference truncation.
    func encodeIds(_ text: String, pair: String?, maxLength: Int?) -> (inputIds: [Int32], tokenTypeIds: [Int32])
}

extension Tokenizer {
    /// `encodeIds` with the token of each id.
    public func encode(_ text: String, pair: String? = nil, maxLength: Int? = nil) -> Encoding {
        let (inputIds, tokenTypeIds) = encodeIds(text, pair: pair, maxLength: maxLength)
        return Encoding(inputIds: inputIds, tokenTypeIds: tokenTypeIds, tokens: inputIds.map { token(of: $0) ?? "" })
    }

    /// Encodes every item (as `encode`) and pads all rows to the longest, rounded up to a multiple
    /// of `padToMultipleOf` when given, with `padId`. Runs on the calling thread: thread policy is
    /// the caller's (tokenizers are Sendable, so batches can be encoded concurrently).
    public func encodeBatch(
        _ items: [(text: String, pair: String?)], maxLength: Int?, padToMultipleOf: Int? = nil
    ) -> PaddedBatch {
        let rows = items.map { encodeIds($0.text, pair: $0.pair, maxLength: maxLength) }
        var sequenceLength = rows.map(\.inputIds.count).max() ?? 0
        if let multiple = padToMultipleOf, multiple > 1 {
            sequenceLength = (sequenceLength + multiple - 1) / multiple * multiple
        }
        let cells = rows.count * sequenceLength
        var inputIds = [Int32](repeating: padId, count: cells)
        var tokenTypeIds = [Int32](repeating: 0, count: cells)
        var attentionMask = [Int32](repeating: 0, count: cells)
        for (row, encoded) in rows.enumerated() {
            let offset = row * sequenceLength
            for (column, id) in encoded.inputIds.enumerated() {
                inputIds[offset + column] = id
                tokenTypeIds[offset + column] = encoded.tokenTypeIds[column]
                attentionMask[offset + column] = 1
            }
        }
        return PaddedBatch(
            batchSize: rows.count, sequenceLength: sequenceLength, inputIds: inputIds,
            tokenTypeIds: tokenTypeIds, attentionMask: attentionMask, lengths: rows.map(\.inputIds.count))
    }
}

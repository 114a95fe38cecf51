extension BertTokenizer {
    /// Encodes every item (as `encode`) and pads all rows to the longest, rounded up to a multiple
    /// of `padToMultipleOf` when given. Runs on the calling thread: thread policy is the caller's
    /// (the tokenizer is Sendable, so batches can be encoded concurrently).
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

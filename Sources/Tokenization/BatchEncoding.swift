import Foundation

extension BertTokenizer {
    /// Encodes every item (as `encode`) and pads all rows to the longest, rounded up to a multiple
    /// of `padToMultipleOf` when given. Large batches are encoded on all cores.
    public func encodeBatch(
        _ items: [(text: String, pair: String?)], maxLength: Int?, padToMultipleOf: Int? = nil
    ) -> PaddedBatch {
        let rows = encodeAll(items, maxLength: maxLength)
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

    private func encodeAll(
        _ items: [(text: String, pair: String?)], maxLength: Int?
    ) -> [(inputIds: [Int32], tokenTypeIds: [Int32])] {
        // Below this, starting threads costs more than it saves.
        let itemsPerChunk = 64
        let chunks = (items.count + itemsPerChunk - 1) / itemsPerChunk
        if chunks < 2 {
            return items.map { encodeIds($0.text, pair: $0.pair, maxLength: maxLength) }
        }
        return [(inputIds: [Int32], tokenTypeIds: [Int32])](unsafeUninitializedCapacity: items.count) { buffer, count in
            let base = buffer.baseAddress!
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                let range = chunk * itemsPerChunk..<min(items.count, (chunk + 1) * itemsPerChunk)
                for i in range {  // each index written by exactly one chunk
                    (base + i).initialize(to: encodeIds(items[i].text, pair: items[i].pair, maxLength: maxLength))
                }
            }
            count = items.count
        }
    }
}

/// Greedy longest-match-first WordPiece over one word, as HF's `WordpieceTokenizer`: the longest
/// vocabulary prefix, then the longest "##" continuation, and so on; [UNK] for the whole word
/// when some remainder has no match or the word has more than 100 code points.
struct WordPiece: Sendable {
    static let maxInputCharsPerWord = 100

    let vocabulary: Vocabulary
    let unknownId: Int32

    /// `word` is UTF-8; pieces are cut only at scalar boundaries, as Python slices code points.
    func appendIds(of word: UnsafeBufferPointer<UInt8>, to ids: inout [Int32]) {
        var scalarCount = 0
        for byte in word where !isContinuationByte(byte) { scalarCount += 1 }
        if scalarCount > Self.maxInputCharsPerWord {
            ids.append(unknownId)
            return
        }
        let firstNewId = ids.count
        var start = 0
        while start < word.count {
            let table = start == 0 ? vocabulary.wholeTokens : vocabulary.continuations
            // Longer slices than the longest key cannot match; start there.
            var end = min(word.count, start + table.maxKeyLength)
            while end < word.count && isContinuationByte(word[end]) { end -= 1 }
            var match: Int32?
            while end > start {
                if let id = table.id(for: UnsafeBufferPointer(rebasing: word[start..<end])) {
                    match = id
                    break
                }
                end -= 1
                while end > start && isContinuationByte(word[end]) { end -= 1 }
            }
            guard let id = match else {
                ids.removeSubrange(firstNewId...)
                ids.append(unknownId)
                return
            }
            ids.append(id)
            start = end
        }
    }

    @inline(__always)
    private func isContinuationByte(_ byte: UInt8) -> Bool { byte & 0xC0 == 0x80 }
}

/// Greedy longest-match-first WordPiece over one word, as HF's `WordpieceTokenizer`: the longest
/// vocabulary prefix, then the longest continuation (the vocabulary's prefix, "##" for BERT), and
/// so on; [UNK] for the whole word when some remainder has no match or the word has more than
/// `maxInputCharsPerWord` code points (100 in HF).
struct WordPiece: Sendable {
    let vocabulary: Vocabulary
    let unknownId: Int32
    var maxInputCharsPerWord = 100

    /// `word` is UTF-8; pieces are cut only at scalar boundaries, as Python slices code points.
    func appendIds(of word: UnsafeBufferPointer<UInt8>, to ids: inout [Int32]) {
        var scalarCount = 0
        for byte in word where !isContinuationByte(byte) { scalarCount += 1 }
        if scalarCount > maxInputCharsPerWord {
            ids.append(unknownId)
            return
        }
        let firstNewId = ids.count
        var start = 0
        while start < word.count {
            guard let match = longestMatch(in: word, from: start) else {
                ids.removeSubrange(firstNewId...)
                ids.append(unknownId)
                return
            }
            ids.append(match.id)
            start = match.end
        }
    }

    /// The longest vocabulary token at `start` (a continuation unless at the word's start).
    private func longestMatch(in word: UnsafeBufferPointer<UInt8>, from start: Int) -> (id: Int32, end: Int)? {
        let continuing = start > 0
        let maxKeyLength = continuing ? vocabulary.continuations.maxKeyLength : vocabulary.wholeTokens.maxKeyLength
        // Longer slices than the longest key cannot match; start there, on a scalar boundary.
        var end = min(word.count, start + maxKeyLength)
        while end < word.count && isContinuationByte(word[end]) { end -= 1 }
        while end > start {
            let slice = UnsafeBufferPointer(rebasing: word[start..<end])
            let id = continuing ? vocabulary.continuations.id(for: slice) : vocabulary.wholeTokens.id(for: slice)
            if let id { return (id, end) }
            end -= 1
            while end > start && isContinuationByte(word[end]) { end -= 1 }
        }
        return nil
    }

    @inline(__always)
    private func isContinuationByte(_ byte: UInt8) -> Bool { byte & 0xC0 == 0x80 }
}

/// A token of tokenizer.json's "added_tokens" (the specials among them): found in the text before
/// anything else and encoded as its id, whatever the model would make of it.
struct AddedToken: Sendable {
    var content: String
    var id: Int32
    /// Also takes the White_Space before / after it.
    var lstrip = false
    var rstrip = false
    /// Matched in normalised text (after the normaliser) rather than in the raw text.
    var normalized = false
}

/// HF's AddedVocabulary split: occurrences of the tokens, leftmost first then longest, exact
/// bytes, with lstrip / rstrip taking neighbouring White_Space into the match.
struct AddedTokenMatcher: Sendable {
    private let tokens: [AddedToken]
    private let utf8: [[UInt8]]
    private let isFirstByte: [Bool]  // 256 entries: can a token start with this byte?

    /// nil when `tokens` is empty (nothing to split on).
    init?(_ tokens: [AddedToken]) {
        let tokens = tokens.filter { !$0.content.isEmpty }
        guard !tokens.isEmpty else { return nil }
        self.tokens = tokens
        utf8 = tokens.map { Array($0.content.utf8) }
        var isFirstByte = [Bool](repeating: false, count: 256)
        for bytes in utf8 { isFirstByte[Int(bytes[0])] = true }
        self.isFirstByte = isFirstByte
    }

    /// `onText` gets each stretch between tokens with its byte offset in `text`; `onToken` each token's id.
    func split(_ text: String, text onText: (Substring, Int) -> Void, token onToken: (Int32) -> Void) {
        let bytes = Array(text.utf8)
        var matches: [(range: Range<Int>, id: Int32)] = []
        var i = 0
        while i < bytes.count {
            guard isFirstByte[Int(bytes[i])], let found = longestMatch(bytes, at: i) else {
                i += 1
                continue
            }
            var start = i, stop = i + utf8[found].count
            let previousStop = matches.last?.range.upperBound ?? 0
            if tokens[found].lstrip {
                while start > previousStop, let (scalarStart, isSpace) = scalarBefore(bytes, start), isSpace {
                    start = scalarStart
                }
            }
            i = stop
            if tokens[found].rstrip {
                while stop < bytes.count, let (length, isSpace) = scalarAt(bytes, stop), isSpace { stop += length }
            }
            matches.append((start..<stop, tokens[found].id))
        }
        var position = 0
        for match in matches {
            if position < match.range.lowerBound { onText(substring(text, bytes, position..<match.range.lowerBound), position) }
            onToken(match.id)
            position = max(position, match.range.upperBound)
        }
        if position < bytes.count { onText(substring(text, bytes, position..<bytes.count), position) }
    }

    private func longestMatch(_ bytes: [UInt8], at i: Int) -> Int? {
        var best: Int?
        for (k, token) in utf8.enumerated() where token.count > (best.map { utf8[$0].count } ?? 0) {
            if i + token.count <= bytes.count && bytes[i..<i + token.count].elementsEqual(token) { best = k }
        }
        return best
    }

    private func substring(_ text: String, _ bytes: [UInt8], _ range: Range<Int>) -> Substring {
        let utf8 = text.utf8
        let start = utf8.index(utf8.startIndex, offsetBy: range.lowerBound)
        let end = utf8.index(start, offsetBy: range.count)
        return text[start..<end]
    }

    private func scalarBefore(_ bytes: [UInt8], _ end: Int) -> (start: Int, isSpace: Bool)? {
        guard end > 0 else { return nil }
        var start = end - 1
        while start > 0 && bytes[start] & 0xC0 == 0x80 { start -= 1 }
        guard let (length, isSpace) = scalarAt(bytes, start), start + length == end else { return nil }
        return (start, isSpace)
    }

    private func scalarAt(_ bytes: [UInt8], _ i: Int) -> (length: Int, isSpace: Bool)? {
        bytes.withUnsafeBufferPointer { buffer in
            let (value, length) = decodeScalar(buffer, at: i)
            return (length, Unicode.Scalar(value)?.properties.isWhitespace ?? false)
        }
    }
}

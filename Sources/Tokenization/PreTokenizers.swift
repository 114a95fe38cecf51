/// Words of one stretch of text: UTF-8 bytes and the ranges of the words in them, in order.
/// Pre-tokenizers rewrite both; the model then sees each range alone.
struct Words {
    var bytes: [UInt8]
    var ranges: [Range<Int>]
}

/// The pre-tokenizers of HF `tokenizers` this package follows (tokenizer.json's "pre_tokenizer").
indirect enum PreTokenizer: Sendable {
    case sequence([PreTokenizer])
    /// GPT-2's: an optional leading space, then GPT-2's regex (`forEachGPT2Piece`) when `useRegex`.
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    /// SentencePiece's: spaces become `replacement` (▁), which is prepended per `prepend`, and each
    /// ▁ starts a new word when `split`.
    case metaspace(replacement: Unicode.Scalar, prepend: PrependScheme, split: Bool)
    /// BERT's: White_Space separates words and is dropped; each punctuation scalar is a word.
    case bert
    /// White_Space separates words and is dropped.
    case whitespaceSplit

    enum PrependScheme: String, Sendable {
        case always, first, never
    }

    /// `isFirst`: the stretch starts the input text (Metaspace's "first" scheme prepends only to a
    /// word at offset 0 of such a stretch).
    func apply(_ words: inout Words, isFirst: Bool) {
        switch self {
        case .sequence(let steps):
            for step in steps { step.apply(&words, isFirst: isFirst) }
        case .byteLevel(let addPrefixSpace, let useRegex):
            rebuild(&words) { word, output, ranges in
                let start = output.count
                if addPrefixSpace && word.first != 0x20 { output.append(0x20) }
                output += word
                guard useRegex else { return ranges.append(start..<output.count) }
                output.withUnsafeBufferPointer { all in
                    forEachGPT2Piece(UnsafeBufferPointer(rebasing: all[start...])) {
                        ranges.append($0.lowerBound + start..<$0.upperBound + start)
                    }
                }
            }
        case .metaspace(let replacement, let prepend, let split):
            let marker = Array(String(replacement).utf8)
            rebuild(&words) { word, output, ranges in
                let start = output.count
                // "first": only a word at the very start of the input (its offset in the stretch is 0).
                let prependHere = prepend == .always || (prepend == .first && isFirst && word.startIndex == 0)
                if prependHere && word.first != 0x20 && !word.starts(with: marker) { output += marker }
                var wordStart = start
                var i = word.startIndex
                while i < word.endIndex {
                    let atMarker = word[i...].starts(with: marker)
                    if word[i] == 0x20 || atMarker {
                        if split && output.count > wordStart { ranges.append(wordStart..<output.count) }
                        if split { wordStart = output.count }
                        output += marker
                        i += atMarker ? marker.count : 1
                    } else {
                        output.append(word[i])
                        i += 1
                    }
                }
                if output.count > wordStart { ranges.append(wordStart..<output.count) }
            }
        case .bert:
            splitOnScalars(&words) { value in
                if BertNormalization.isWhitespace(Unicode.Scalar(value)!) { return .removed }
                return BertNormalization.isPunctuation(Unicode.Scalar(value)!) ? .isolated : .kept
            }
        case .whitespaceSplit:
            splitOnScalars(&words) { Unicode.Scalar($0)!.properties.isWhitespace ? .removed : .kept }
        }
    }

    /// Builds new words from each old one (empty ones skipped, as HF drops empty splits).
    private func rebuild(_ words: inout Words, _ body: (ArraySlice<UInt8>, inout [UInt8], inout [Range<Int>]) -> Void) {
        var output: [UInt8] = []
        output.reserveCapacity(words.bytes.count + 8)
        var ranges: [Range<Int>] = []
        for range in words.ranges where !range.isEmpty {
            body(words.bytes[range], &output, &ranges)
        }
        words = Words(bytes: output, ranges: ranges.filter { !$0.isEmpty })
    }

    private enum ScalarRole { case kept, removed, isolated }

    /// Splits each word at scalars whose role is not `.kept`; the bytes stay as they are.
    private func splitOnScalars(_ words: inout Words, _ role: (UInt32) -> ScalarRole) {
        var ranges: [Range<Int>] = []
        words.bytes.withUnsafeBufferPointer { bytes in
            for range in words.ranges {
                var start = range.lowerBound
                var i = start
                while i < range.upperBound {
                    let (value, length) = decodeScalar(bytes, at: i)
                    let scalarRole = role(value)
                    if scalarRole != .kept {
                        if start < i { ranges.append(start..<i) }
                        if scalarRole == .isolated { ranges.append(i..<i + length) }
                        start = i + length
                    }
                    i += length
                }
                if start < range.upperBound { ranges.append(start..<range.upperBound) }
            }
        }
        words.ranges = ranges
    }
}

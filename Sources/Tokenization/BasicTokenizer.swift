import Foundation

/// HF's `BasicTokenizer`, the stage before WordPiece: clean the text, isolate CJK ideographs,
/// split on whitespace, then per word NFC, lower-case, strip accents (NFD, drop Mn) and split
/// off punctuation. Works on Unicode scalars, as Python works on code points.
struct BasicTokenizer: Sendable {
    let lowercase: Bool
    let stripAccents: Bool
    let splitChinese: Bool
    /// Words HF leaves whole and un-lower-cased (the special tokens). Only reached when cleaning
    /// assembles one, e.g. "[SE\u{0}P]", since special tokens in the raw text are split off earlier.
    let neverSplit: [String]

    /// Calls `body` with each resulting piece as UTF-8, in order.
    func forEachPiece(in text: Substring, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        var word: [Unicode.Scalar] = []  // the current whitespace-separated word, cleaned
        word.reserveCapacity(32)
        var wordIsASCII = true
        var bytes: [UInt8] = []  // the current word after normalisation, as UTF-8
        bytes.reserveCapacity(64)

        func finishWord() {
            guard !word.isEmpty else { return }
            if wordIsASCII {
                splitASCIIWord(word, into: &bytes, body)
            } else {
                splitWord(word, into: &bytes, body)
            }
            word.removeAll(keepingCapacity: true)
            wordIsASCII = true
        }

        for scalar in text.unicodeScalars {
            switch CharacterClasses.cleaning(scalar, splitChinese: splitChinese) {
            case .drop:
                continue
            case .space:
                finishWord()
            case .chinese:
                finishWord()
                word.append(scalar)
                wordIsASCII = false
                finishWord()
            case .keep:
                word.append(scalar)
                if scalar.value >= 0x80 { wordIsASCII = false }
            }
        }
        finishWord()
    }

    /// The common case: NFC and accent stripping leave ASCII unchanged, so bytes suffice.
    private func splitASCIIWord(
        _ word: [Unicode.Scalar], into bytes: inout [UInt8], _ body: (UnsafeBufferPointer<UInt8>) -> Void
    ) {
        bytes.removeAll(keepingCapacity: true)
        for scalar in word { bytes.append(UInt8(truncatingIfNeeded: scalar.value)) }
        if isNeverSplit(bytes) {
            bytes.withUnsafeBufferPointer(body)
            return
        }
        if lowercase {
            for i in bytes.indices where (0x41...0x5A).contains(bytes[i]) { bytes[i] |= 0x20 }
        }
        bytes.withUnsafeBufferPointer { word in
            var start = 0
            for i in word.indices where CharacterClasses.isASCIIPunctuation(word[i]) {
                if start < i { body(UnsafeBufferPointer(rebasing: word[start..<i])) }
                body(UnsafeBufferPointer(rebasing: word[i..<i + 1]))
                start = i + 1
            }
            if start < word.count { body(UnsafeBufferPointer(rebasing: word[start...])) }
        }
    }

    private func splitWord(
        _ word: [Unicode.Scalar], into bytes: inout [UInt8], _ body: (UnsafeBufferPointer<UInt8>) -> Void
    ) {
        // HF normalises the whole text to NFC; no composition crosses a space, so per word is the same.
        let composed = String(String.UnicodeScalarView(word)).precomposedStringWithCanonicalMapping
        bytes = Array(composed.utf8)
        if isNeverSplit(bytes) {
            bytes.withUnsafeBufferPointer(body)
            return
        }
        var scalars = Array(composed.unicodeScalars)
        if lowercase { scalars = PythonLowercase.lowercased(scalars) }
        if stripAccents {
            let decomposed = String(String.UnicodeScalarView(scalars)).decomposedStringWithCanonicalMapping
            scalars = decomposed.unicodeScalars.filter { $0.properties.generalCategory != .nonspacingMark }
        }
        // Each punctuation scalar is a piece of its own; the runs between are pieces too.
        bytes.removeAll(keepingCapacity: true)
        var pieces: [Range<Int>] = []
        var start = 0
        for scalar in scalars {
            guard CharacterClasses.isPunctuation(scalar) else {
                UTF8.encode(scalar) { bytes.append($0) }
                continue
            }
            if start < bytes.count { pieces.append(start..<bytes.count) }
            start = bytes.count
            UTF8.encode(scalar) { bytes.append($0) }
            pieces.append(start..<bytes.count)
            start = bytes.count
        }
        if start < bytes.count { pieces.append(start..<bytes.count) }
        bytes.withUnsafeBufferPointer { word in
            for piece in pieces { body(UnsafeBufferPointer(rebasing: word[piece])) }
        }
    }

    private func isNeverSplit(_ bytes: [UInt8]) -> Bool {
        neverSplit.contains { $0.utf8.count == bytes.count && $0.utf8.elementsEqual(bytes) }
    }
}

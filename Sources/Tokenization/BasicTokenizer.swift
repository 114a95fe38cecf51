import Foundation

/// HF's `BasicTokenizer`, the stage before WordPiece: clean the text, isolate CJK ideographs,
/// split on whitespace, then per word NFC, lower-case, strip accents (NFD, drop Mn) and split
/// off punctuation. Works on Unicode scalars, as Python works on code points.
struct BasicTokenizer: Sendable {
    let lowercase: Bool
    let stripAccents: Bool
    let splitChinese: Bool
    /// Words HF leaves whole and un-lower-cased (the special tokens), as UTF-8. Only reached when
    /// cleaning assembles one, e.g. "[SE\u{0}P]", since special tokens in the raw text are split
    /// off earlier.
    let neverSplit: [[UInt8]]

    /// Calls `body` with each resulting piece as UTF-8, in order.
    func forEachPiece(in text: Substring, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        var word: [Unicode.Scalar] = []
        word.reserveCapacity(32)
        var wordIsASCII = true
        var piece: [UInt8] = []
        piece.reserveCapacity(64)

        func finishWord() {
            guard !word.isEmpty else { return }
            if wordIsASCII {
                splitASCIIWord(word, piece: &piece, body)
            } else {
                splitWord(word, piece: &piece, body)
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
        _ word: [Unicode.Scalar], piece: inout [UInt8], _ body: (UnsafeBufferPointer<UInt8>) -> Void
    ) {
        piece.removeAll(keepingCapacity: true)
        if neverSplit.contains(where: { $0.elementsEqual(word.lazy.map { UInt8(truncatingIfNeeded: $0.value) }) }) {
            for scalar in word { piece.append(UInt8(truncatingIfNeeded: scalar.value)) }
            piece.withUnsafeBufferPointer(body)
            return
        }
        for scalar in word {
            var byte = UInt8(truncatingIfNeeded: scalar.value)
            if CharacterClasses.isASCIIPunctuation(byte) {
                emit(&piece, body)
                piece.append(byte)
                emit(&piece, body)
            } else {
                if lowercase && (0x41...0x5A).contains(byte) { byte |= 0x20 }
                piece.append(byte)
            }
        }
        emit(&piece, body)
    }

    private func splitWord(
        _ word: [Unicode.Scalar], piece: inout [UInt8], _ body: (UnsafeBufferPointer<UInt8>) -> Void
    ) {
        // HF normalises the whole text to NFC; no composition crosses a space, so per word is the same.
        let composed = String(String.UnicodeScalarView(word)).precomposedStringWithCanonicalMapping
        if neverSplit.contains(where: { $0.elementsEqual(composed.utf8) }) {
            piece = Array(composed.utf8)
            piece.withUnsafeBufferPointer(body)
            return
        }
        var scalars = Array(composed.unicodeScalars)
        if lowercase { scalars = PythonLowercase.lowercased(scalars) }
        if stripAccents {
            let decomposed = String(String.UnicodeScalarView(scalars)).decomposedStringWithCanonicalMapping
            scalars = decomposed.unicodeScalars.filter { $0.properties.generalCategory != .nonspacingMark }
        }
        piece.removeAll(keepingCapacity: true)
        for scalar in scalars {
            if CharacterClasses.isPunctuation(scalar) {
                emit(&piece, body)
                UTF8.encode(scalar) { piece.append($0) }
                emit(&piece, body)
            } else {
                UTF8.encode(scalar) { piece.append($0) }
            }
        }
        emit(&piece, body)
    }

    /// Hands a non-empty piece to `body` and empties it.
    private func emit(_ piece: inout [UInt8], _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        guard !piece.isEmpty else { return }
        piece.withUnsafeBufferPointer(body)
        piece.removeAll(keepingCapacity: true)
    }
}

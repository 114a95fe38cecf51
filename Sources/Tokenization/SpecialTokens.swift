/// The names of BERT's special tokens, and HF's handling of them inside input text.
struct SpecialTokens: Sendable {
    let unknown: String, separator: String, padding: String, classifier: String, mask: String
    /// The five names in the order above.
    let all: [String]
    private let utf8Names: [[UInt8]]
    private let isFirstByte: [Bool]  // 256 entries: can a name start with this byte?

    init(
        unknown: String = "[UNK]", separator: String = "[SEP]", padding: String = "[PAD]",
        classifier: String = "[CLS]", mask: String = "[MASK]"
    ) {
        (self.unknown, self.separator, self.padding, self.classifier, self.mask) =
            (unknown, separator, padding, classifier, mask)
        all = [unknown, separator, padding, classifier, mask]
        utf8Names = all.map { Array($0.utf8) }
        var isFirstByte = Array(repeating: false, count: 256)
        for name in utf8Names { if let first = name.first { isFirstByte[Int(first)] = true } }
        self.isFirstByte = isFirstByte
    }

    /// HF splits the raw text on special tokens (exact, case-sensitive, leftmost then longest)
    /// before any cleaning, and encodes each occurrence as that token. `text` gets the stretches
    /// between them, `special` the index of each occurrence in `all`.
    func split(_ text: String, text onText: (Substring) -> Void, special onSpecial: (Int) -> Void) {
        let names = utf8Names
        let utf8 = text.utf8
        var segmentStart = utf8.startIndex
        var i = utf8.startIndex
        while i < utf8.endIndex {
            guard isFirstByte[Int(utf8[i])] else {
                i = utf8.index(after: i)
                continue
            }
            let rest = utf8[i...]
            let longest = names.indices
                .filter { rest.starts(with: names[$0]) }
                .max { names[$0].count < names[$1].count }
            guard let found = longest else {
                i = utf8.index(after: i)
                continue
            }
            if segmentStart < i { onText(text[segmentStart..<i]) }
            onSpecial(found)
            i = utf8.index(i, offsetBy: names[found].count)
            segmentStart = i
        }
        if segmentStart < utf8.endIndex { onText(text[segmentStart...]) }
    }
}

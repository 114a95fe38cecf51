import Foundation
import FuzzSupport
import Tokenization

// libFuzzer target: tokenizer files and text. The first byte picks what the rest is:
//   0  a tokenizer.json (parsed, then used on a few strings when it loads)
//   1  a sentencepiece.bpe.model (likewise)
//   2  vocab.json and merges.txt, separated by the first NUL byte
//   3+ text (UTF-8, invalid bytes replaced), encoded as a pair and truncated by the committed
//      fixture tokenizers of Tests/Fixtures/tokenizer (byte-level BPE, unigram, WordPiece json)
// Built and run by `make fuzz`; a plain build prints how.
#if FUZZING
let folder = FuzzInput.file(extension: "tokenizer")
try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Tests/Fixtures/tokenizer")
/// Loaded once and kept for the whole run (Fuzz/lsan.supp names this function: LeakSanitizer takes
/// the enum payloads they hold, whose pointers carry tag bits, for leaks).
func loadFixtureTokenizers() -> [any Tokenizer] {
    [("bpe", TokenizerFormat.tokenizerJSON), ("unigram", .sentencePiece), ("wordpiece-cased", .tokenizerJSON)].map { name, format in
        try! loadTokenizer(modelDirectory: fixtures.appendingPathComponent(name), format: format)
    }
}
let fixtureTokenizers = loadFixtureTokenizers()
let probes = ["", "Hello <mask> wörld ﬁ 👍🏽", "日本語 한국어 العربية", "  a  \u{0}\t\n"]

func exercise(_ tokenizer: any Tokenizer) {
    for text in probes { _ = tokenizer.encode(text, pair: text, maxLength: 7) }
}

FuzzInput.run { bytes in
    guard let selector = bytes.first else { return }
    let body = bytes.dropFirst()
    for name in ["tokenizer.json", "sentencepiece.bpe.model", "vocab.json", "merges.txt"] {
        try? FileManager.default.removeItem(at: folder.appendingPathComponent(name))
    }
    switch selector {
    case 0:
        try? body.write(to: folder.appendingPathComponent("tokenizer.json"))
        if let tokenizer = try? loadTokenizer(modelDirectory: folder, format: .tokenizerJSON) { exercise(tokenizer) }
    case 1:
        try? body.write(to: folder.appendingPathComponent("sentencepiece.bpe.model"))
        if let tokenizer = try? loadTokenizer(modelDirectory: folder, format: .sentencePiece) { exercise(tokenizer) }
    case 2:
        let split = body.firstIndex(of: 0) ?? body.endIndex
        try? body[..<split].write(to: folder.appendingPathComponent("vocab.json"))
        try? body[split...].dropFirst().write(to: folder.appendingPathComponent("merges.txt"))
        if let tokenizer = try? loadTokenizer(modelDirectory: folder, format: .bytePairFiles) { exercise(tokenizer) }
    default:
        let text = String(decoding: body, as: UTF8.self)
        let half = text.index(text.startIndex, offsetBy: text.count / 2)
        for tokenizer in fixtureTokenizers {
            _ = tokenizer.tokenize(text)
            _ = tokenizer.encode(String(text[..<half]), pair: String(text[half...]), maxLength: Int(selector % 40))
        }
    }
}
#else
FileHandle.standardError.write(Data("FuzzTokenizers is a libFuzzer target: run `make fuzz`\n".utf8))
exit(2)
#endif

import Foundation
import Tokenization
import XCTest

/// The package root, from this file's place in Tests/TokenizationTests/.
let packageRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

let tokenizerFixtures = packageRoot.appendingPathComponent("Tests/Fixtures/tokenizer")

/// all-MiniLM-L6-v2 (uncased vocab.txt and tokenizer_config.json): $DISTILLERY_MINILM, else models/ in the package.
func miniLMDirectory() throws -> URL {
    let url = ProcessInfo.processInfo.environment["DISTILLERY_MINILM"].map { URL(fileURLWithPath: $0) }
        ?? packageRoot.appendingPathComponent("models/all-MiniLM-L6-v2")
    guard FileManager.default.fileExists(atPath: url.appendingPathComponent("vocab.txt").path) else {
        throw XCTSkip("no all-MiniLM-L6-v2 vocabulary at \(url.path); run make models or set DISTILLERY_MINILM")
    }
    return url
}

/// Shows invisible and non-ASCII scalars, so a failing input can be read in the log.
func escaped(_ text: String) -> String {
    text.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? String($0) : $0.escaped(asASCII: true) }
        .joined()
}

/// A handwritten vocabulary for behaviour tests (specials at 0–4, not BERT's usual 100–103).
let smallVocabulary = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    "hello", "world", "Hello", "un", "##aff", "##able", "a", "##a", "b", "c", "d", "e", "##e", "x",
    "cafe", "café", "Café", "é", "##é", "naive", "naïve", "ο", "##δ", "##ος", "##ο", "##σ", "σ", "##ς",
    "你", "好", "你好", ",", "!", ".", "[", "]", "mask", "##s", "i", "i\u{307}",
]

extension XCTestCase {
    /// A fresh folder, removed after the test, holding vocab.txt with `tokens` (one a line) and,
    /// when given, tokenizer_config.json.
    func makeModelDirectory(tokens: [String], config: String? = nil) throws -> URL {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("tokenization-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        try Data(tokens.map { $0 + "\n" }.joined().utf8).write(to: directory.appendingPathComponent("vocab.txt"))
        if let config {
            try Data(config.utf8).write(to: directory.appendingPathComponent("tokenizer_config.json"))
        }
        return directory
    }

    func smallTokenizer(lowercase: Bool = true, stripAccents: Bool? = nil, tokenizeChineseChars: Bool = true) throws -> BertTokenizer {
        let directory = try makeModelDirectory(tokens: smallVocabulary)
        return try BertTokenizer(
            vocabularyURL: directory.appendingPathComponent("vocab.txt"), lowercase: lowercase,
            stripAccents: stripAccents, tokenizeChineseChars: tokenizeChineseChars)
    }
}

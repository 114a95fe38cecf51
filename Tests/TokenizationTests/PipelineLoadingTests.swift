import Foundation
import Tokenization
import XCTest

/// Bad tokenizer files give an error naming the file and the line or key, never a fallback;
/// and a few behaviours the fixtures do not vary (add_prefix_space, GPT-2's regex).
final class PipelineLoadingTests: XCTestCase {
    func testMalformedMergesLineIsNamed() throws {
        let folder = try copyOfFixture("bpe", only: ["vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"])
        let merges = folder.appendingPathComponent("merges.txt")
        var lines = try String(contentsOf: merges, encoding: .utf8).components(separatedBy: "\n")
        lines[5] = "a b c"
        try lines.joined(separator: "\n").write(to: merges, atomically: true, encoding: .utf8)
        assertError(try loadTokenizer(modelDirectory: folder), mentions: ["merges.txt", "line 6", "a b c"])

        lines[5] = "zzzqqq Ġzzzqqq"
        try lines.joined(separator: "\n").write(to: merges, atomically: true, encoding: .utf8)
        assertError(try loadTokenizer(modelDirectory: folder), mentions: ["merges.txt", "line 6", "missing from the vocabulary"])
    }

    func testUnknownTypesInTokenizerJSONAreNamed() throws {
        let cases: [(edit: (inout [String: Any]) -> Void, mentions: [String])] = [
            ({ $0["model"] = ["type": "WordLevel", "vocab": [String: Int](), "unk_token": "<unk>"] }, ["model", "WordLevel"]),
            ({ $0["normalizer"] = ["type": "Sequence", "normalizers": [["type": "Prepend", "prepend": "▁"]]] },
             ["normalizer.normalizers[0]", "Prepend"]),
            ({ $0["pre_tokenizer"] = ["type": "Digits", "individual_digits": true] }, ["pre_tokenizer", "Digits"]),
            ({ $0["post_processor"] = ["type": "Sequence", "processors": [Any]()] }, ["post_processor", "Sequence"]),
            ({ $0["normalizer"] = ["type": "Replace", "pattern": ["Regex": "\\s+"], "content": " "] }, ["normalizer.pattern.Regex", "\\s+"]),
        ]
        for (edit, mentions) in cases {
            let folder = try editedTokenizerJSON("bpe", edit)
            assertError(try loadTokenizer(modelDirectory: folder), mentions: ["tokenizer.json"] + mentions)
        }
    }

    func testUnsupportedOptionsAreRefusedByName() throws {
        let unigramFallback = try editedTokenizerJSON("unigram") { root in
            var model = root["model"] as! [String: Any]
            model["byte_fallback"] = true
            root["model"] = model
        }
        assertError(try loadTokenizer(modelDirectory: unigramFallback), mentions: ["tokenizer.json", "model", "byte_fallback"])
        let bpeWithoutByteLevel = try editedTokenizerJSON("bpe") { $0["pre_tokenizer"] = ["type": "WhitespaceSplit"] }
        assertError(try loadTokenizer(modelDirectory: bpeWithoutByteLevel), mentions: ["tokenizer.json", "ByteLevel"])
        let singleWord = try editedTokenizerJSON("bpe") { root in
            var added = root["added_tokens"] as! [[String: Any]]
            added[4]["single_word"] = true
            root["added_tokens"] = added
        }
        assertError(try loadTokenizer(modelDirectory: singleWord), mentions: ["added_tokens[4]", "single_word"])
    }

    func testMalformedJSONNamesTheKey() throws {
        let notJSON = try copyOfFixture("bpe", only: ["tokenizer.json"])
        try Data("{\"model\": ".utf8).write(to: notJSON.appendingPathComponent("tokenizer.json"))
        assertError(try loadTokenizer(modelDirectory: notJSON, format: .tokenizerJSON), mentions: ["tokenizer.json", "not JSON"])
        try Data((String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)).utf8)
            .write(to: notJSON.appendingPathComponent("tokenizer.json"))  // bounded depth, no stack overflow
        assertError(try loadTokenizer(modelDirectory: notJSON, format: .tokenizerJSON), mentions: ["tokenizer.json", "not JSON"])
        try Data(#"{"model": {"type": "BPE"}, "model": {"type": "Unigram"}}"#.utf8).write(to: notJSON.appendingPathComponent("tokenizer.json"))
        assertError(try loadTokenizer(modelDirectory: notJSON, format: .tokenizerJSON), mentions: ["tokenizer.json", "not JSON", "model"])
        let missingVocab = try editedTokenizerJSON("bpe") { root in
            var model = root["model"] as! [String: Any]
            model["vocab"] = nil
            root["model"] = model
        }
        assertError(try loadTokenizer(modelDirectory: missingVocab), mentions: ["tokenizer.json", "model", "\"vocab\""])
    }

    func testTruncatedOrForeignSentencePieceFileIsRefused() throws {
        let folder = try copyOfFixture("unigram", only: ["sentencepiece.bpe.model"])
        let model = folder.appendingPathComponent("sentencepiece.bpe.model")
        let bytes = try Data(contentsOf: model)
        try bytes.prefix(bytes.count / 2).write(to: model)
        assertError(try loadTokenizer(modelDirectory: folder), mentions: ["sentencepiece.bpe.model", "not a SentencePiece model"])
        try Data(contentsOf: HFSuite.folder("bpe").appendingPathComponent("tokenizer.json")).write(to: model)
        assertError(try loadTokenizer(modelDirectory: folder), mentions: ["sentencepiece.bpe.model", "not a SentencePiece model"])
        try Data().write(to: model)
        assertError(try loadTokenizer(modelDirectory: folder), mentions: ["sentencepiece.bpe.model"])
    }

    func testOversizedFileIsRefusedBeforeReading() throws {
        let folder = try copyOfFixture("unigram", only: [])
        let model = folder.appendingPathComponent("sentencepiece.bpe.model")
        XCTAssertTrue(FileManager.default.createFile(atPath: model.path, contents: nil))
        let handle = try FileHandle(forWritingTo: model)
        try handle.truncate(atOffset: UInt64(TokenizerFileLimits.sentencePieceModel + 1))  // sparse: no disk used
        try handle.close()
        assertError(try loadTokenizer(modelDirectory: folder), mentions: ["sentencepiece.bpe.model", "over the limit"])
    }

    func testMissingSpecialTokenIsNamed() throws {
        let folder = try copyOfFixture("bpe", only: ["vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"])
        let config = folder.appendingPathComponent("special_tokens_map.json")
        var map = try JSONSerialization.jsonObject(with: Data(contentsOf: config)) as! [String: Any]
        map["mask_token"] = "<MASK-ABSENT>"
        try JSONSerialization.data(withJSONObject: map).write(to: config)
        assertError(try loadTokenizer(modelDirectory: folder), mentions: ["<MASK-ABSENT>", "mask_token", "vocab.json"])

        let json = try editedTokenizerJSON("wordpiece-uncased") { root in
            var model = root["model"] as! [String: Any]
            model["unk_token"] = "[NOPE]"
            root["model"] = model
        }
        assertError(try loadTokenizer(modelDirectory: json, format: .tokenizerJSON), mentions: ["[NOPE]", "tokenizer.json"])
    }

    func testEmptyFolderSaysWhatItLookedFor() throws {
        let folder = try copyOfFixture("bpe", only: [])
        assertError(try loadTokenizer(modelDirectory: folder), mentions: ["tokenizer.json", "merges.txt", "sentencepiece.bpe.model", "vocab.txt"])
    }

    func testPrefixSpaceIsAddedUnlessThereIsOne() throws {
        let plain = try loadTokenizer(modelDirectory: HFSuite.folder("bpe"))
        let prefixed = try loadTokenizer(modelDirectory: editedTokenizerJSON("bpe") { root in
            root["pre_tokenizer"] = ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true]
        })
        for text in ["Hello world", "", "x"] {
            XCTAssertEqual(prefixed.tokenize(text), plain.tokenize(text.isEmpty ? "" : " " + text), text)
            XCTAssertEqual(prefixed.tokenize(" " + text), plain.tokenize(" " + text), text)
        }
        // Per stretch between added tokens, as in tokenizers: ['ĠH', 'el', 'lo', ' <mask>', 'Ġx'].
        XCTAssertEqual(prefixed.tokenize("Hello <mask>x"), ["ĠH", "el", "lo", "<mask>", "Ġx"])
    }

    func testGPT2PatternPieces() throws {
        let tokenizer = try loadTokenizer(modelDirectory: HFSuite.folder("bpe"))
        // Each byte-level piece begins with Ġ (a space) only where GPT-2's regex keeps the space
        // with the word; runs of spaces leave their last space to the next word.
        let pieces = tokenizer.tokenize("I'm  fine!!\n\nok").joined(separator: "|")
        XCTAssertEqual(pieces, "I|'|m|Ġ|Ġf|ine|!|!|Ċ|Ċ|ok")  // from tokenizers
    }

    // MARK: Helpers

    /// A temporary copy of a fixture folder holding only `names`.
    private func copyOfFixture(_ suite: String, only names: [String]) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tokenizer-loading-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: folder) }
        for name in names {
            try FileManager.default.copyItem(at: HFSuite.folder(suite).appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        return folder
    }

    /// A copy of a fixture folder's tokenizer.json (only), edited as a JSON object.
    private func editedTokenizerJSON(_ suite: String, _ edit: (inout [String: Any]) -> Void) throws -> URL {
        let folder = try copyOfFixture(suite, only: ["tokenizer.json"])
        let url = folder.appendingPathComponent("tokenizer.json")
        var root = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        edit(&root)
        try JSONSerialization.data(withJSONObject: root).write(to: url)
        return folder
    }

    private func assertError<T>(_ body: @autoclosure () throws -> T, mentions: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            let message = "\(error)"
            for word in mentions {
                XCTAssertTrue(message.contains(word), "\"\(word)\" not in: \(message)", file: file, line: line)
            }
        }
    }
}

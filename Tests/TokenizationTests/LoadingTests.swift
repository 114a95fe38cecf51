import Foundation
import Tokenization
import XCTest

/// Reading vocab.txt and tokenizer_config.json, lookups, and the errors a user sees.
final class LoadingTests: XCTestCase {
    func testMissingVocabularyNamesThePath() throws {
        let missing = URL(fileURLWithPath: "/nonexistent/distillery-model/vocab.txt")
        XCTAssertThrowsError(try BertTokenizer(vocabularyURL: missing, lowercase: true)) { error in
            XCTAssertTrue("\(error)".contains(missing.path), "\(error)")
        }
        XCTAssertThrowsError(try BertTokenizer(modelDirectory: missing.deletingLastPathComponent())) { error in
            XCTAssertTrue("\(error)".contains(missing.path), "\(error)")
        }
    }

    func testMissingSpecialTokenIsNamed() throws {
        let directory = try makeModelDirectory(tokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello"])
        XCTAssertThrowsError(try BertTokenizer(modelDirectory: directory)) { error in
            XCTAssertTrue("\(error)".contains("[MASK]"), "\(error)")
            XCTAssertTrue("\(error)".contains(directory.appendingPathComponent("vocab.txt").path), "\(error)")
        }
    }

    func testInvalidUTF8IsReported() throws {
        let directory = try makeModelDirectory(tokens: [])
        let vocab = directory.appendingPathComponent("vocab.txt")
        try Data(Array("[PAD]\n[UNK]\n".utf8) + [0xFF, 0x0A]).write(to: vocab)
        XCTAssertThrowsError(try BertTokenizer(vocabularyURL: vocab, lowercase: true)) { error in
            XCTAssertTrue("\(error)".contains("line 3"), "\(error)")
        }
    }

    func testLookups() throws {
        let tokenizer = try smallTokenizer()
        XCTAssertEqual(tokenizer.vocabularySize, smallVocabulary.count)
        XCTAssertEqual([tokenizer.padId, tokenizer.unkId, tokenizer.clsId, tokenizer.sepId, tokenizer.maskId], [0, 1, 2, 3, 4])
        XCTAssertEqual(tokenizer.id(of: "hello"), 5)
        XCTAssertEqual(tokenizer.token(of: 5), "hello")
        XCTAssertEqual(tokenizer.id(of: "##aff"), 9)
        XCTAssertNil(tokenizer.id(of: "absent"))
        XCTAssertNil(tokenizer.token(of: -1))
        XCTAssertNil(tokenizer.token(of: Int32(smallVocabulary.count)))
        // Code-point equality as in Python, not Swift's canonical equivalence.
        XCTAssertNotNil(tokenizer.id(of: "café"))
        XCTAssertNil(tokenizer.id(of: "cafe\u{301}"))
    }

    func testVocabularyLinesFollowPythonReadlines() throws {
        let directory = try makeModelDirectory(tokens: [])
        let vocab = directory.appendingPathComponent("vocab.txt")
        // \r\n, a lone \r, a trailing space kept, a duplicate (the later id wins), no final newline.
        try Data("[PAD]\r\n[UNK]\r[CLS]\n[SEP]\n[MASK]\nhello \nhello\nhello".utf8).write(to: vocab)
        let tokenizer = try BertTokenizer(vocabularyURL: vocab, lowercase: true)
        XCTAssertEqual(tokenizer.vocabularySize, 8)
        XCTAssertEqual(tokenizer.unkId, 1)
        XCTAssertEqual(tokenizer.token(of: 5), "hello ")
        XCTAssertEqual(tokenizer.id(of: "hello"), 7)
        XCTAssertEqual(tokenizer.token(of: 6), "hello")
    }

    func testModelDirectoryReadsTokenizerConfig() throws {
        func tokens(_ config: String?, _ text: String) throws -> [String] {
            try BertTokenizer(modelDirectory: makeModelDirectory(tokens: smallVocabulary, config: config)).tokenize(text)
        }
        XCTAssertEqual(try tokens(nil, "Hello Café"), ["hello", "cafe"])  // HF's defaults: lower-case, strip
        XCTAssertEqual(try tokens(#"{"do_lower_case": false}"#, "Hello Café"), ["Hello", "Café"])
        XCTAssertEqual(try tokens(#"{"do_lower_case": true, "strip_accents": false}"#, "Café"), ["café"])
        XCTAssertEqual(try tokens(#"{"tokenize_chinese_chars": false, "strip_accents": null}"#, "你好"), ["你好"])
        let addedTokens = #"{"mask_token": {"content": "[MASK]", "lstrip": true}, "unk_token": "[UNK]"}"#
        XCTAssertEqual(try tokens(addedTokens, "hello [MASK]"), ["hello", "[MASK]"])
    }

    func testUnusableConfigNamesTheFile() throws {
        for config in ["{not json", #"{"do_basic_tokenize": false}"#, #"{"do_lower_case": "yes"}"#] {
            let directory = try makeModelDirectory(tokens: smallVocabulary, config: config)
            XCTAssertThrowsError(try BertTokenizer(modelDirectory: directory), config) { error in
                XCTAssertTrue("\(error)".contains("tokenizer_config.json"), "\(error)")
            }
        }
    }
}

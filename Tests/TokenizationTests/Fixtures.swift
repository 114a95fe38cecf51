import Foundation
import Tokenization
import XCTest

/// One suite of Tests/Fixtures/tokenizer/manifest.json, written by scripts/fixtures/tokenizer_fixtures.py.
struct FixtureSuite: Decodable {
    var name: String
    var file: String
    var lowercase: Bool
    var stripAccents: Bool?
    var tokenizeChineseChars: Bool
    /// Load through BertTokenizer(modelDirectory:), reading tokenizer_config.json.
    var modelDirectory: Bool
    /// "minilm" for the all-MiniLM-L6-v2 vocabulary, else a file beside the fixtures.
    var vocab: String
    var vocabLines: Int
    var cases: Int
    var fastDisagreements: Int

    static func load(_ name: String) throws -> FixtureSuite {
        struct Manifest: Decodable { var suites: [FixtureSuite] }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let data = try Data(contentsOf: tokenizerFixtures.appendingPathComponent("manifest.json"))
        let suites = try decoder.decode(Manifest.self, from: data).suites
        return try XCTUnwrap(suites.first { $0.name == name }, "no suite \(name) in manifest.json")
    }

    /// The tokenizer the suite was generated with; skips when the MiniLM vocabulary is absent.
    func makeTokenizer() throws -> BertTokenizer {
        let tokenizer: BertTokenizer
        if vocab == "minilm" {
            let directory = try miniLMDirectory()
            tokenizer = modelDirectory
                ? try BertTokenizer(modelDirectory: directory)
                : try BertTokenizer(
                    vocabularyURL: directory.appendingPathComponent("vocab.txt"), lowercase: lowercase,
                    stripAccents: stripAccents, tokenizeChineseChars: tokenizeChineseChars)
        } else {
            XCTAssertFalse(modelDirectory, "suites on committed vocabularies set their options directly")
            tokenizer = try BertTokenizer(
                vocabularyURL: tokenizerFixtures.appendingPathComponent(vocab), lowercase: lowercase,
                stripAccents: stripAccents, tokenizeChineseChars: tokenizeChineseChars)
        }
        XCTAssertEqual(tokenizer.vocabularySize, vocabLines, "\(vocab) is not the vocabulary the fixtures were made with")
        return tokenizer
    }

    func loadCases() throws -> [FixtureCase] { try loadFixtureCases(file, expected: cases, manifest: "manifest.json") }
}

/// The cases of a suite's JSON Lines file, checked against the count its manifest states.
func loadFixtureCases(_ file: String, expected: Int, manifest: String) throws -> [FixtureCase] {
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    let text = try String(contentsOf: tokenizerFixtures.appendingPathComponent(file), encoding: .utf8)
    let cases = try text.split(separator: "\n").map { try decoder.decode(FixtureCase.self, from: Data($0.utf8)) }
    XCTAssertEqual(cases.count, expected, "\(file) holds a different number of cases than \(manifest) says")
    return cases
}

/// One line of a suite: an input and Hugging Face's encoding of it.
struct FixtureCase: Decodable {
    var text: String
    var pair: String?
    var maxLength: Int?
    var inputIds: [Int32]
    var tokenTypeIds: [Int32]
    var tokens: [String]
    /// Whether BertTokenizerFast agrees (the BERT suites only).
    var fastAgrees: Bool?

    var expected: Encoding { Encoding(inputIds: inputIds, tokenTypeIds: tokenTypeIds, tokens: tokens) }

    var label: String {
        "text \"\(escaped(text))\"" + (pair.map { " pair \"\(escaped($0))\"" } ?? "")
            + (maxLength.map { " max_length \($0)" } ?? "")
    }
}

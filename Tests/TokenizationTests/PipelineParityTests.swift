import Foundation
import Tokenization
import XCTest

/// Every case of Tests/Fixtures/tokenizer/<suite>.jsonl (scripts/fixtures/hf_tokenizer_fixtures.py)
/// must encode exactly as the Rust `tokenizers` library did — ids, token types and tokens — from
/// each file format the suite's folder holds. No tolerance: tokenization is discrete.
final class PipelineParityTests: XCTestCase {
    func testByteLevelBPEFromTokenizerJSON() throws { try assertParity("bpe", format: .tokenizerJSON) }
    func testByteLevelBPEFromVocabAndMerges() throws { try assertParity("bpe", format: .bytePairFiles) }
    func testUnigramFromTokenizerJSON() throws { try assertParity("unigram", format: .tokenizerJSON) }
    func testUnigramFromSentencePieceModel() throws { try assertParity("unigram", format: .sentencePiece) }
    func testWordPieceCasedFromTokenizerJSON() throws { try assertParity("wordpiece-cased", format: .tokenizerJSON) }
    func testWordPieceUncasedFromTokenizerJSON() throws { try assertParity("wordpiece-uncased", format: .tokenizerJSON) }
    /// add_prefix_space true, ignore_merges true.
    func testByteLevelBPEVariant() throws { try assertParity("bpe-variant", format: .tokenizerJSON) }
    /// transformers 5's XLM-R pipeline (WhitespaceSplit, Metaspace "first"), <mask> matched after normalisation.
    func testUnigramVariant() throws { try assertParity("unigram-variant", format: .tokenizerJSON) }

    /// A folder's own choice: tokenizer.json for BPE and Unigram; vocab.txt's BertTokenizer for a
    /// BERT folder even beside a WordPiece tokenizer.json.
    func testFolderChoosesItsFormat() throws {
        XCTAssertTrue(try loadTokenizer(modelDirectory: HFSuite.folder("bpe")) is PipelineTokenizer)
        XCTAssertTrue(try loadTokenizer(modelDirectory: HFSuite.folder("unigram")) is PipelineTokenizer)
        XCTAssertTrue(try loadTokenizer(modelDirectory: HFSuite.folder("wordpiece-cased")) is BertTokenizer)
        XCTAssertTrue(try loadTokenizer(modelDirectory: HFSuite.folder("wordpiece-cased"), format: .tokenizerJSON) is PipelineTokenizer)
    }

    func testSpecialIdsAndVocabularySize() throws {
        for name in ["bpe", "unigram"] {
            let suite = try HFSuite.load(name)
            for format in suite.formats {
                let tokenizer = try loadTokenizer(modelDirectory: HFSuite.folder(name), format: format)
                XCTAssertEqual(tokenizer.vocabularySize, suite.vocabSize, "\(name) \(format)")
                XCTAssertEqual([tokenizer.clsId, tokenizer.padId, tokenizer.sepId, tokenizer.unkId], [0, 1, 2, 3], "\(name) \(format)")
                XCTAssertEqual(tokenizer.token(of: tokenizer.maskId), "<mask>")
            }
        }
        let bert = try loadTokenizer(modelDirectory: HFSuite.folder("wordpiece-uncased"), format: .tokenizerJSON)
        XCTAssertEqual([bert.padId, bert.unkId, bert.clsId, bert.sepId, bert.maskId], [0, 1, 2, 3, 4])
        XCTAssertEqual(bert.vocabularySize, try HFSuite.load("wordpiece-uncased").vocabSize)
    }

    /// Batches pad with the tokenizer's own pad id (<pad> is 1 for RoBERTa and XLM-R).
    func testBatchPadsWithThePadId() throws {
        let tokenizer = try loadTokenizer(modelDirectory: HFSuite.folder("unigram"))
        let items: [(text: String, pair: String?)] = [("hello world", nil), ("a", "b"), ("", nil)]
        let batch = tokenizer.encodeBatch(items, maxLength: nil, padToMultipleOf: 8)
        XCTAssertEqual(batch.sequenceLength % 8, 0)
        for (row, item) in items.enumerated() {
            let single = tokenizer.encode(item.text, pair: item.pair)
            let start = row * batch.sequenceLength
            XCTAssertEqual(Array(batch.inputIds[start..<start + single.inputIds.count]), single.inputIds)
            XCTAssertTrue(batch.inputIds[start + single.inputIds.count..<start + batch.sequenceLength].allSatisfy { $0 == 1 })
        }
    }

    private func assertParity(_ name: String, format: TokenizerFormat, file: StaticString = #filePath, line: UInt = #line) throws {
        let suite = try HFSuite.load(name)
        let tokenizer = try loadTokenizer(modelDirectory: HFSuite.folder(name), format: format)
        XCTAssertEqual(tokenizer.vocabularySize, suite.vocabSize, "vocabulary size", file: file, line: line)
        let cases = try suite.loadCases()
        var mismatches: [String] = []
        var spellings = 0
        for fixture in cases {
            let actual = tokenizer.encode(fixture.text, pair: fixture.pair, maxLength: fixture.maxLength)
            // `tokenizers` spells an unknown token, and an added token with the spaces it stripped,
            // as the text it covers ("!" for <unk>, " <mask>"); ours are the vocabulary's tokens.
            // Those positions must hold the unknown or an added token's id; all others must agree.
            let tokensAgree = actual.tokens.count == fixture.tokens.count
                && zip(zip(actual.tokens, fixture.tokens), fixture.inputIds).allSatisfy { pair, id in
                    pair.0 == pair.1 || (id == tokenizer.unkId || pair.1.trimmingCharacters(in: .whitespaces) == pair.0)
                }
            if actual.tokens != fixture.tokens && tokensAgree { spellings += 1 }
            if actual.inputIds != fixture.inputIds || actual.tokenTypeIds != fixture.tokenTypeIds || !tokensAgree {
                mismatches.append("""
                    \(fixture.label)
                      expected \(fixture.tokens.map(escaped)) \(fixture.inputIds) types \(fixture.tokenTypeIds)
                      actual   \(actual.tokens.map(escaped)) \(actual.inputIds) types \(actual.tokenTypeIds)
                    """)
            }
        }
        // Throughput, for the log only.
        let started = Date()
        var tokenCount = 0
        for _ in 0..<5 { for fixture in cases { tokenCount += tokenizer.tokenize(fixture.text).count } }
        let seconds = Date().timeIntervalSince(started)
        print("tokenizer parity \(name) from \(format): \(cases.count) cases, \(mismatches.count) mismatches "
            + "(\(spellings) spell unknown or stripped added tokens as text); \(Int(Double(tokenCount) / seconds)) tokens/s")
        XCTAssertGreaterThan(cases.count, 0, file: file, line: line)
        XCTAssert(mismatches.isEmpty, """
            \(mismatches.count) of \(cases.count) \(name) cases (\(format)) differ from tokenizers; first ones:
            \(mismatches.prefix(5).joined(separator: "\n"))
            """, file: file, line: line)
    }
}

/// One suite of Tests/Fixtures/tokenizer/hf_manifest.json.
struct HFSuite: Decodable {
    var name: String
    var folder: String
    var file: String
    var cases: Int
    var vocabSize: Int

    /// The formats the suite's folder holds besides vocab.txt.
    var formats: [TokenizerFormat] {
        switch name {
        case "bpe": return [.tokenizerJSON, .bytePairFiles]
        case "unigram": return [.tokenizerJSON, .sentencePiece]
        default: return [.tokenizerJSON]
        }
    }

    static func folder(_ name: String) -> URL { tokenizerFixtures.appendingPathComponent(name) }

    static func load(_ name: String) throws -> HFSuite {
        struct Manifest: Decodable { var suites: [HFSuite] }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let data = try Data(contentsOf: tokenizerFixtures.appendingPathComponent("hf_manifest.json"))
        return try XCTUnwrap(try decoder.decode(Manifest.self, from: data).suites.first { $0.name == name }, "no suite \(name)")
    }

    func loadCases() throws -> [FixtureCase] { try loadFixtureCases(file, expected: cases, manifest: "hf_manifest.json") }
}

import Foundation
import Tokenization
import XCTest

/// Every fixture case must encode exactly as Hugging Face's BertTokenizer did: ids, token types
/// and tokens. No tolerance: tokenization is discrete.
final class FixtureParityTests: XCTestCase {
    func testUncasedMiniLM() throws { try assertParity("uncased") }
    func testCased() throws { try assertParity("cased") }
    func testUncasedKeepingAccents() throws { try assertParity("uncased-keep-accents") }
    func testCasedStrippingAccents() throws { try assertParity("cased-strip-accents") }
    func testUncasedWithoutCJKSplitting() throws { try assertParity("uncased-no-cjk-split") }

    /// encodeBatch must hold exactly encode's rows, padded; also reports speed.
    func testBatchOverFixtureCorpusMatchesSingleEncodes() throws {
        let suite = try FixtureSuite.load("cased")
        let tokenizer = try suite.makeTokenizer()
        let items = try suite.loadCases().map { (text: $0.text, pair: $0.pair) }
        let batch = tokenizer.encodeBatch(items, maxLength: 48)
        XCTAssertEqual(batch.batchSize, items.count)
        var mismatches = 0
        for (row, item) in items.enumerated() {
            let single = tokenizer.encode(item.text, pair: item.pair, maxLength: 48)
            let start = row * batch.sequenceLength
            let length = batch.lengths[row]
            let rowIds = Array(batch.inputIds[start..<start + length])
            let rowTypes = Array(batch.tokenTypeIds[start..<start + length])
            let padding = batch.inputIds[start + length..<start + batch.sequenceLength]
            if rowIds != single.inputIds || rowTypes != single.tokenTypeIds
                || padding.contains(where: { $0 != tokenizer.padId }) {
                mismatches += 1
            }
        }
        XCTAssertEqual(mismatches, 0, "batch rows differing from single encodes")
        XCTAssertEqual(batch.sequenceLength, batch.lengths.max())

        // Throughput over the corpus, for the log only (debug builds are far slower than release).
        let texts = items.map(\.text)
        let started = Date()
        var tokenCount = 0
        for _ in 0..<20 { for text in texts { tokenCount += tokenizer.tokenize(text).count } }
        let seconds = Date().timeIntervalSince(started)
        print("tokenizer throughput: \(Int(Double(tokenCount) / seconds)) tokens/s (\(tokenCount) tokens, \(texts.count * 20) texts, \(String(format: "%.3f", seconds)) s)")
    }

    private func assertParity(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let suite = try FixtureSuite.load(name)
        let tokenizer = try suite.makeTokenizer()
        let cases = try suite.loadCases()
        var mismatches: [String] = []
        for fixture in cases {
            let actual = tokenizer.encode(fixture.text, pair: fixture.pair, maxLength: fixture.maxLength)
            if actual != fixture.expected {
                mismatches.append("""
                    \(fixture.label)
                      expected \(fixture.tokens) \(fixture.inputIds) types \(fixture.tokenTypeIds)
                      actual   \(actual.tokens) \(actual.inputIds) types \(actual.tokenTypeIds)
                    """)
            }
        }
        print("tokenizer parity \(name): \(cases.count) cases, \(mismatches.count) mismatches "
            + "(BertTokenizerFast itself differs on \(suite.fastDisagreements))")
        XCTAssertGreaterThan(cases.count, 0, file: file, line: line)
        XCTAssert(mismatches.isEmpty, """
            \(mismatches.count) of \(cases.count) \(name) cases differ from Hugging Face; first ones:
            \(mismatches.prefix(5).joined(separator: "\n"))
            """, file: file, line: line)
    }
}

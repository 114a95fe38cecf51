import Tokenization
import XCTest

/// WordPiece, specials and token types, longest_first truncation and batch padding.
final class EncodingTests: XCTestCase {
    func testWordPieceTakesTheLongestMatchFirst() throws {
        let tokenizer = try smallTokenizer()
        XCTAssertEqual(tokenizer.tokenize("unaffable"), ["un", "##aff", "##able"])
        XCTAssertEqual(tokenizer.tokenize("aaa"), ["a", "##a", "##a"])
        XCTAssertEqual(tokenizer.tokenize("unaffablex hello"), ["[UNK]", "hello"])  // no "##x": the whole word
    }

    func testWordsOverOneHundredCodePointsAreUnknown() throws {
        let tokenizer = try smallTokenizer()
        XCTAssertEqual(tokenizer.tokenize(String(repeating: "a", count: 100)), ["a"] + Array(repeating: "##a", count: 99))
        XCTAssertEqual(tokenizer.tokenize(String(repeating: "a", count: 101)), ["[UNK]"])
        // Code points, not bytes: 100 "é" are 200 bytes and still one word of 100.
        let cased = try smallTokenizer(lowercase: false)
        XCTAssertEqual(cased.tokenize(String(repeating: "é", count: 100)), ["é"] + Array(repeating: "##é", count: 99))
        XCTAssertEqual(cased.tokenize(String(repeating: "é", count: 101)), ["[UNK]"])
    }

    func testEncodeAddsSpecialsAndTokenTypes() throws {
        let tokenizer = try smallTokenizer()
        let single = tokenizer.encode("hello")
        XCTAssertEqual(single.tokens, ["[CLS]", "hello", "[SEP]"])
        XCTAssertEqual(single.inputIds, [tokenizer.clsId, 5, tokenizer.sepId])
        XCTAssertEqual(single.tokenTypeIds, [0, 0, 0])
        let pair = tokenizer.encode("hello", pair: "world !")
        XCTAssertEqual(pair.tokens, ["[CLS]", "hello", "[SEP]", "world", "!", "[SEP]"])
        XCTAssertEqual(pair.tokenTypeIds, [0, 0, 0, 1, 1, 1])
        // An empty pair is still a pair in HF's BertTokenizer.
        XCTAssertEqual(tokenizer.encode("hello", pair: "").tokens, ["[CLS]", "hello", "[SEP]", "[SEP]"])
    }

    func testLongestFirstTruncation() throws {
        let tokenizer = try smallTokenizer()
        func words(_ n: Int) -> String { (0..<n).map { ["a", "b", "c", "d", "e", "x"][$0 % 6] }.joined(separator: " ") }
        func counts(_ first: Int, _ second: Int?, maxLength: Int) -> [Int] {
            let encoding = tokenizer.encode(words(first), pair: second.map(words), maxLength: maxLength)
            XCTAssertLessThanOrEqual(encoding.inputIds.count, max(maxLength, second == nil ? 2 : 3))
            return [0, 1].map { type in encoding.tokenTypeIds.filter { $0 == type }.count }
        }
        // Content lengths are the type counts less the [CLS]/[SEP] of segment 0 and the [SEP] of segment 1.
        XCTAssertEqual(counts(5, 5, maxLength: 10), [2 + 4, 1 + 3])  // equal: the extra token comes from the pair
        XCTAssertEqual(counts(6, 2, maxLength: 8), [2 + 3, 1 + 2])  // longer first sequence pays alone
        XCTAssertEqual(counts(2, 6, maxLength: 8), [2 + 2, 1 + 3])  // longer pair pays alone
        XCTAssertEqual(counts(7, 4, maxLength: 8), [2 + 3, 1 + 2])  // down to equal, then shared
        XCTAssertEqual(counts(6, nil, maxLength: 4), [2 + 2, 0])
        XCTAssertEqual(counts(6, 3, maxLength: 100), [2 + 6, 1 + 3])  // fits: untouched
        XCTAssertEqual(counts(6, 3, maxLength: 2), [2, 1])  // below the specials: only they remain
        XCTAssertEqual(counts(6, nil, maxLength: 1), [2, 0])
    }

    func testBatchPadsToTheLongestWithAttentionMask() throws {
        let tokenizer = try smallTokenizer()
        let items: [(text: String, pair: String?)] = [("hello", nil), ("hello world", "a"), ("", nil)]
        let batch = tokenizer.encodeBatch(items, maxLength: nil)
        let pad = tokenizer.padId, cls = tokenizer.clsId, sep = tokenizer.sepId
        XCTAssertEqual(batch.batchSize, 3)
        XCTAssertEqual(batch.sequenceLength, 6)
        XCTAssertEqual(batch.lengths, [3, 6, 2])
        XCTAssertEqual(batch.inputIds, [
            cls, 5, sep, pad, pad, pad,
            cls, 5, 6, sep, 11, sep,
            cls, sep, pad, pad, pad, pad,
        ])
        XCTAssertEqual(batch.tokenTypeIds, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(batch.attentionMask, [1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0])

        let rounded = tokenizer.encodeBatch(items, maxLength: nil, padToMultipleOf: 4)
        XCTAssertEqual(rounded.sequenceLength, 8)
        XCTAssertEqual(rounded.attentionMask.count, 24)
        XCTAssertEqual(Array(rounded.attentionMask[8..<16]), [1, 1, 1, 1, 1, 1, 0, 0])

        let truncated = tokenizer.encodeBatch(items, maxLength: 4)
        XCTAssertEqual(truncated.sequenceLength, 4)
        XCTAssertEqual(truncated.lengths, [3, 4, 2])
        XCTAssertEqual(Array(truncated.inputIds[4..<8]), [cls, 5, sep, sep])  // longest_first emptied the pair
    }

    func testEmptyBatch() throws {
        let batch = try smallTokenizer().encodeBatch([], maxLength: 16, padToMultipleOf: 8)
        XCTAssertEqual(batch.batchSize, 0)
        XCTAssertEqual(batch.sequenceLength, 0)
        XCTAssertTrue(batch.inputIds.isEmpty && batch.attentionMask.isEmpty && batch.lengths.isEmpty)
    }
}

import Foundation
import XCTest
@testable import Datasets

final class UTF8Tests: XCTestCase {
    func testValidatorAgreesWithUnicodeTable() {
        let valid: [[UInt8]] = [
            [], Array("plain ascii".utf8), Array("é 東京 😀".utf8),
            [0xC2, 0x80], [0xDF, 0xBF], [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF],  // U+D7FF, just below surrogates
            [0xEE, 0x80, 0x80], [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF],  // U+10FFFF
        ]
        for bytes in valid {
            XCTAssertNil(firstInvalid(bytes), "\(bytes) is valid")
        }
        let invalid: [([UInt8], Int)] = [
            ([0x80], 0),                          // lone continuation byte
            ([0x41, 0xC0, 0x80], 1),              // overlong NUL
            ([0xC1, 0xBF], 0),                    // overlong
            ([0xE0, 0x9F, 0xBF], 0),              // overlong three-byte
            ([0xED, 0xA0, 0x80], 0),              // surrogate U+D800
            ([0xF0, 0x8F, 0xBF, 0xBF], 0),        // overlong four-byte
            ([0xF4, 0x90, 0x80, 0x80], 0),        // above U+10FFFF
            ([0xF5, 0x80, 0x80, 0x80], 0),
            ([0xFF], 0),
            ([0x61, 0xE2, 0x82], 1),              // truncated at the end
            ([0xE2, 0x82, 0x41], 0),              // truncated before ASCII
            ([0xF0, 0x9F, 0x98], 0),              // truncated four-byte: same length as one U+FFFD
        ]
        for (bytes, offset) in invalid {
            XCTAssertEqual(firstInvalid(bytes), offset, "\(bytes)")
        }
    }

    func testInvalidBytesInEachFormatNameTheLine() {
        func file(_ before: String, _ bad: [UInt8], _ after: String) -> Data {
            Data(before.utf8) + Data(bad) + Data(after.utf8)
        }
        assertRowError("u.jsonl", file("{\"text\": \"ok\"}\n{\"text\": \"caf", [0xE9], "\"}\n"),
                       line: 2, reason: "invalid UTF-8 (byte 0xE9 at column 14)")
        assertRowError("u.tsv", file("text\nok\nab\t", [0xC3, 0x28], "\n"),
                       line: 3, reason: "invalid UTF-8 (byte 0xC3 at column 4)")
        assertRowError("u.csv", file("text\n", [0xFF], "\n"),
                       line: 2, reason: "invalid UTF-8 (byte 0xFF at column 1)")
        // Inside a record spanning lines: reported where the record starts, naming the bad line.
        assertRowError("u.csv", file("text\n\"first\nsecond ", [0xED, 0xA0, 0x80], "\"\n"),
                       line: 2, reason: "invalid UTF-8 (byte 0xED at line 3, column 8)")
        // Not even a header is accepted with bad bytes.
        assertRowError("u.tsv", file("te", [0x80], "xt\nok\n"),
                       options: .fields(skipBadRows: true), line: 1, reason: "invalid UTF-8 (byte 0x80 at column 3)")
    }

    func testSkippedInvalidRowsAreCounted() throws {
        let contents = Data("text\nfine\n".utf8) + Data([0xFE]) + Data("\nalso fine\n".utf8)
        let (dataset, path) = try loadDataset("u.tsv", contents, options: .fields(skipBadRows: true))
        XCTAssertEqual(dataset.examples.map(\.text), ["fine", "also fine"])
        XCTAssertEqual(dataset.report.skipped.map(\.description), ["\(path):3: invalid UTF-8 (byte 0xFE at column 1)"])
    }

    private func firstInvalid(_ bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBufferPointer { firstInvalidUTF8(in: $0, 0..<$0.count) }
    }
}

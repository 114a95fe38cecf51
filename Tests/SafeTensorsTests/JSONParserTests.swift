import XCTest
@testable import SafeTensors

final class JSONParserTests: XCTestCase {
    private func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

    func testNumbersKeepTheirLiteralText() throws {
        guard case let .array(items) = try parse("[0, 18446744073709551615, -3, 1.0, 1e3, 9223372036854775807]") else {
            return XCTFail("not an array")
        }
        XCTAssertEqual(items.map(\.text), ["0", "18446744073709551615", "-3", "1.0", "1e3", "9223372036854775807"])
        XCTAssertEqual(items.map(\.nonNegativeInt), [0, nil, nil, nil, nil, Int.max])
    }

    func testStringEscapesAndSurrogatePairs() throws {
        guard case let .string(text) = try parse(#""a\"b\\c\/d\n\t\u00e9\ud83d\ude42é""#) else { return XCTFail("not a string") }
        XCTAssertEqual(text, "a\"b\\c/d\n\té🙂é")
    }

    func testObjectsKeepOrderAndDuplicates() throws {
        guard case let .object(members) = try parse(#" { "b" : 1 , "a" : [true, false, null], "b": {} } "#) else {
            return XCTFail("not an object")
        }
        XCTAssertEqual(members.map(\.key), ["b", "a", "b"])
    }

    func testRejectsMalformedInput() {
        let bad = ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "-", "1e", "\"\\ud83d\"", "\"\\x\"", "\"a\u{01}\"", "tru", "{} {}", "{'a': 1}"]
        for text in bad {
            XCTAssertThrowsError(try parse(text), "accepted \(text.debugDescription)")
        }
    }

    func testDepthIsBounded() throws {
        let ok = String(repeating: "[", count: JSONParser.maxDepth) + String(repeating: "]", count: JSONParser.maxDepth)
        XCTAssertNoThrow(try parse(ok))
        let deep = "[" + ok + "]"
        XCTAssertThrowsError(try parse(deep)) { error in
            XCTAssertTrue((error as? JSONParseError)?.message.contains("nested deeper") ?? false, "\(error)")
        }
    }
}

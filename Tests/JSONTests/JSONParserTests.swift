import XCTest
@testable import JSON

final class JSONParserTests: XCTestCase {
    private let limits = JSONLimits(maxBytes: 1 << 20, maxDepth: 64)

    private func parse(_ text: String, limits: JSONLimits? = nil) throws -> JSONValue {
        try JSONParser.parse(Array(text.utf8), limits: limits ?? self.limits)
    }

    private func number(_ text: String, _ value: Double, integer: Bool) -> JSONValue {
        .number(JSONNumber(text: text, value: value, isInteger: integer))
    }

    func testValues() throws {
        XCTAssertEqual(try parse(" null "), .null)
        XCTAssertEqual(try parse("[true, false, -0, 1.5e3, \"\"]"),
                       .array([.bool(true), .bool(false), number("-0", 0, integer: true), number("1.5e3", 1500, integer: false), .string("")]))
        XCTAssertEqual(try parse("{\"a\": {\"b\": []}}"), .object(["a": .object(["b": .array([])])]))
        XCTAssertEqual(try parse("\"東京\""), .string("東京"))
    }

    func testNumbersKeepTheirTextAndWhetherTheyWereIntegers() throws {
        let items = try XCTUnwrap(try parse("[0, 18446744073709551615, -3, 1.0, 1e3, 9223372036854775807]").array)
        let numbers = try items.map { try XCTUnwrap($0.number) }
        XCTAssertEqual(numbers.map(\.text), ["0", "18446744073709551615", "-3", "1.0", "1e3", "9223372036854775807"])
        XCTAssertEqual(numbers.map(\.isInteger), [true, true, true, false, false, true])
        XCTAssertEqual(numbers.map(\.int), [0, nil, -3, nil, nil, Int.max])
        XCTAssertEqual(numbers.map(\.value), [0, 0x1p64, -3, 1, 1000, 0x1p63])  // the nearest Doubles
    }

    func testStringEscapesAndSurrogatePairs() throws {
        XCTAssertEqual(try parse(#""\"\\\/\b\f\n\r\t\u0041\u00e9\ud83d\ude00""#), .string("\"\\/\u{8}\u{C}\n\r\tAé😀"))
        XCTAssertEqual(try parse(#""a\"b\\c\/d\n\t\u00e9\ud83d\ude42é""#), .string("a\"b\\c/d\n\té🙂é"))
    }

    func testObjectsKeepTheirOrder() throws {
        let object = try XCTUnwrap(try parse(#" { "b" : 1 , "a" : [true, false, null], "c": {} } "#).object)
        XCTAssertEqual(object.keys, ["b", "a", "c"])
        XCTAssertEqual(object["a"], .array([.bool(true), .bool(false), .null]))
        XCTAssertNil(object["d"])
    }

    /// Past 16 members an object is looked up through an index; order and duplicates behave the same.
    func testLargeObjects() throws {
        let keys = (0..<40).map { "k\($0)" }
        let text = "{" + keys.enumerated().map { "\"\($1)\": \($0)" }.joined(separator: ", ") + "}"
        let object = try XCTUnwrap(try parse(text).object)
        XCTAssertEqual(object.keys, keys)
        XCTAssertEqual(object["k33"]?.number?.int, 33)
        XCTAssertThrowsError(try parse("{" + keys.map { "\"\($0)\": 0, " }.joined() + "\"k20\": 1}")) { error in
            XCTAssertEqual(error as? JSONSyntaxError, JSONSyntaxError(message: "duplicate key \"k20\"", offset: 1 + 9 * 10 + 10 * 30))
        }
    }

    func testSyntaxErrors() {
        let cases: [(String, String, Int)] = [
            ("", "unexpected end of input", 0),
            ("{", "expected a string key", 1),
            ("{\"a\" 1}", "expected ':' after key", 5),
            ("{\"a\": 1,}", "expected a string key", 8),
            ("{'a': 1}", "expected a string key", 1),
            ("[1 2]", "expected ',' or ']'", 3),
            ("[1,]", "unexpected character ']'", 3),
            ("{} {}", "unexpected text after the JSON value", 3),
            ("01", "leading zero in number", 1),
            ("1.", "expected a digit after '.'", 2),
            ("-", "expected a digit", 1),
            ("1e", "expected a digit in exponent", 2),
            ("+1", "unexpected character '+'", 0),
            ("1e999", "number out of range", 0),
            ("[1, -1e400]", "number out of range", 4),
            ("tru", "invalid literal (expected true)", 0),
            ("\"abc", "unterminated string", 4),
            ("\"a\tb\"", "control character in string (must be escaped)", 2),
            ("\"a\u{01}\"", "control character in string (must be escaped)", 2),
            ("\"\\x\"", "invalid escape character 'x' after '\\'", 2),
            ("\"\\u12\"", "expected four hex digits after \\u", 3),
            ("\"\\ud800\"", "unpaired surrogate in \\u escape", 7),
            ("\"\\ud83d\"", "unpaired surrogate in \\u escape", 7),
            ("\"\\ud800\\u0041\"", "unpaired surrogate in \\u escape", 13),
            ("\"\\udc00\"", "unpaired surrogate in \\u escape", 7),
            ("é", "unexpected character 'é'", 0),
            ("{\"a\": 1, \"b\": 2, \"a\": 3}", "duplicate key \"a\"", 17),
            ("[{\"x\": {\"k\": 1, \"k\": 1}}]", "duplicate key \"k\"", 16),
        ]
        for (text, message, offset) in cases {
            XCTAssertThrowsError(try parse(text), text) { error in
                XCTAssertEqual(error as? JSONSyntaxError, JSONSyntaxError(message: message, offset: offset), text)
            }
        }
    }

    /// Bytes that are not UTF-8 are refused inside strings (at the opening quote) and outside them.
    func testInvalidUTF8() {
        let cases: [([UInt8], String, Int)] = [
            ([0x22, 0x61, 0xFF, 0x22], "string is not valid UTF-8", 0),
            ([0x5B, 0x22, 0x5C, 0x6E, 0xED, 0xA0, 0x80, 0x22, 0x5D], "string is not valid UTF-8", 1),  // ["\n<surrogate>"]
            ([0x22, 0xF1, 0x80, 0x80, 0x22], "string is not valid UTF-8", 0),  // a 4-byte sequence cut short
            ([0xFF], "unexpected character '\u{FFFD}'", 0),
        ]
        for (bytes, message, offset) in cases {
            XCTAssertThrowsError(try JSONParser.parse(bytes, limits: limits), "\(bytes)") { error in
                XCTAssertEqual(error as? JSONSyntaxError, JSONSyntaxError(message: message, offset: offset), "\(bytes)")
            }
        }
    }

    /// `maxDepth` objects and arrays may nest; one more is refused where it opens. Scalars do not count.
    func testDepthIsTheCallersLimit() throws {
        for depth in [1, 64, 256] {
            let limits = JSONLimits(maxBytes: 1 << 20, maxDepth: depth)
            let ok = String(repeating: "[", count: depth) + "1" + String(repeating: "]", count: depth)
            XCTAssertNoThrow(try parse(ok, limits: limits))
            XCTAssertThrowsError(try parse("[" + ok + "]", limits: limits)) { error in
                XCTAssertEqual(error as? JSONSyntaxError, JSONSyntaxError(message: "nested deeper than \(depth) levels", offset: depth))
            }
        }
        XCTAssertThrowsError(try parse(String(repeating: "{\"a\":", count: 100_000), limits: limits)) { error in
            XCTAssertEqual(error as? JSONSyntaxError, JSONSyntaxError(message: "nested deeper than 64 levels", offset: 64 * 5))
        }
    }

    func testSizeIsTheCallersLimit() throws {
        let limits = JSONLimits(maxBytes: 8, maxDepth: 64)
        XCTAssertEqual(try parse("[1234567]", limits: JSONLimits(maxBytes: 9, maxDepth: 64)).array?.count, 1)
        XCTAssertThrowsError(try parse("[1234567]", limits: limits)) { error in
            XCTAssertEqual(error as? JSONSyntaxError, JSONSyntaxError(message: "9 bytes of JSON, over the limit of 8", offset: 8))
        }
    }

    func testKinds() throws {
        let values: [JSONValue] = [.null, .bool(true), .number(JSONNumber(1)), .string(""), .array([]), .object([:])]
        XCTAssertEqual(values.map(\.kind), ["null", "boolean", "number", "string", "array", "object"])
        XCTAssertEqual(values.map(\.kindWithArticle), ["null", "a boolean", "a number", "a string", "an array", "an object"])
    }
}

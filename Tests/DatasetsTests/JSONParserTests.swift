import XCTest
@testable import Datasets

final class JSONParserTests: XCTestCase {
    func testValues() throws {
        XCTAssertEqual(try parse(" null "), .null)
        XCTAssertEqual(try parse("[true, false, -0, 1.5e3, \"\"]"),
                       .array([.bool(true), .bool(false), .number(0, text: "-0"), .number(1500, text: "1.5e3"), .string("")]))
        XCTAssertEqual(try parse("{\"a\": {\"b\": []}}"), .object(["a": .object(["b": .array([])])]))
        XCTAssertEqual(try parse(#""\"\\\/\b\f\n\r\t\u0041\u00e9\ud83d\ude00""#),
                       .string("\"\\/\u{8}\u{C}\n\r\tAé😀"))
        XCTAssertEqual(try parse("\"東京\""), .string("東京"))
    }

    func testSyntaxErrors() {
        let cases: [(String, String, Int)] = [
            ("", "unexpected end of line", 0),
            ("{\"a\" 1}", "expected ':' after key", 5),
            ("{\"a\": 1,}", "expected a string key", 8),
            ("[1 2]", "expected ',' or ']'", 3),
            ("01", "leading zero in number", 1),
            ("1.", "expected a digit after '.'", 2),
            ("-", "expected a digit", 1),
            ("1e", "expected a digit in exponent", 2),
            ("+1", "unexpected character '+'", 0),
            ("1e999", "number out of range", 0),
            ("tru", "invalid literal (expected true)", 0),
            ("\"abc", "unterminated string", 4),
            ("\"a\tb\"", "control character in string (must be escaped)", 2),
            ("\"\\x\"", "invalid escape character 'x' after '\\'", 2),
            ("\"\\u12\"", "expected four hex digits after \\u", 3),
            ("\"\\ud800\"", "unpaired surrogate in \\u escape", 7),
            ("\"\\udc00\"", "unpaired surrogate in \\u escape", 7),
            ("é", "unexpected character 'é'", 0),
            (String(repeating: "[", count: 300), "nested deeper than 256 levels", 256),
        ]
        for (text, message, offset) in cases {
            XCTAssertThrowsError(try parse(text), text) { error in
                XCTAssertEqual(error as? JSONSyntaxError, JSONSyntaxError(message: message, offset: offset), text)
            }
        }
    }

    private func parse(_ text: String) throws -> JSONValue {
        try Array(text.utf8).withUnsafeBufferPointer { try JSONParser.parse($0, 0..<$0.count) }
    }
}

import BoundedYAML
import Foundation
import SchemaValidation
import TestSupport
import XCTest

/// YAML from untrusted files: an alias bomb and deep nesting are refused before Yams composes
/// them (which would take gigabytes, or overflow the stack), with the file and line named;
/// ordinary anchors, aliases and merge keys still load.
final class BoundedYAMLTests: XCTestCase {
    /// Nine levels of anchors, each a list of nine aliases of the one before: 1 KB, 9⁹ nodes.
    static var aliasBomb: String {
        var text = "a: &a [x, x, x, x, x, x, x, x, x]\n"
        for level in 1...8 {
            let name = String(UnicodeScalar(UInt8(97 + level))), previous = String(UnicodeScalar(UInt8(96 + level)))
            text += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ", ") + "]\n"
        }
        return text
    }

    func testAliasBombIsRefusedByLine() throws {
        let started = Date()
        XCTAssertThrowsError(try BoundedYAML.compose(Self.aliasBomb, origin: "bomb.yaml")) {
            XCTAssertEqual("\($0)".prefix(17), "bomb.yaml: line 6", "\($0)")
            XCTAssertTrue("\($0)".contains("aliases"), "\($0)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 1, "refused while streaming, not after expanding")
        XCTAssertThrowsError(try loadYAMLAsJSON(string: Self.aliasBomb))
    }

    func testDeepNestingIsRefusedBeforeComposing() throws {
        for (shape, text) in [("flow", String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)),
                              ("block", String(repeating: "- ", count: 5000) + "x"),
                              ("mappings", (0..<200).map { String(repeating: " ", count: $0) + "k:" }.joined(separator: "\n") + " 1")] {
            XCTAssertThrowsError(try BoundedYAML.compose(text, origin: "deep.yaml"), shape) {
                XCTAssertTrue("\($0)".contains("nested more than \(BoundedYAML.maxDepth) deep"), "\(shape): \($0)")
            }
        }
        // At the limit it loads; one more level is refused.
        let atLimit = String(repeating: "[", count: BoundedYAML.maxDepth) + String(repeating: "]", count: BoundedYAML.maxDepth)
        XCTAssertNotNil(try BoundedYAML.compose(atLimit, origin: "ok"))
        XCTAssertThrowsError(try BoundedYAML.compose("[" + atLimit + "]", origin: "deep"))
    }

    func testSizeIsBoundedBeforeReading() throws {
        let folder = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let big = folder.appendingPathComponent("big.yaml")
        try Data(repeating: UInt8(ascii: "#"), count: BoundedYAML.maxBytes + 1).write(to: big)
        XCTAssertThrowsError(try BoundedYAML.read(big)) { XCTAssertTrue("\($0)".contains("big.yaml") && "\($0)".contains("at most"), "\($0)") }
        XCTAssertThrowsError(try loadYAMLAsJSON(big)) { XCTAssertTrue("\($0)".contains("at most"), "\($0)") }
    }

    /// Anchors, aliases and merge keys within the limits load as before; the count is of expanded
    /// nodes, so 99 aliases of a 1,000-value list are refused while 90 are not.
    func testOrdinaryAliasesLoadAndExpansionIsCounted() throws {
        let value = try loadYAMLAsJSON(string: "base: &b {epochs: 1, lr: 0.1}\ntrain:\n  <<: *b\n  epochs: 2\nlist: &l [1, 2]\nagain: *l\n")
        let object = try XCTUnwrap(value as? [String: Any])
        XCTAssertEqual((object["train"] as? [String: Any])?["epochs"] as? Int, 2)
        XCTAssertEqual((object["train"] as? [String: Any])?["lr"] as? Double, 0.1)
        XCTAssertEqual((object["again"] as? [Any])?.count, 2)
        let thousand = "big: &big [" + (0..<999).map(String.init).joined(separator: ", ") + "]\n"
        func uses(_ n: Int) -> String { thousand + "uses: [" + Array(repeating: "*big", count: n).joined(separator: ", ") + "]\n" }
        XCTAssertNoThrow(try BoundedYAML.compose(uses(90), origin: "ok"))
        XCTAssertThrowsError(try BoundedYAML.compose(uses(101), origin: "over"))
    }

    func testSyntaxErrorsAreYamsMessages() {
        XCTAssertThrowsError(try BoundedYAML.compose("a: [1, 2\nb: c", origin: "broken.yaml")) {
            XCTAssertTrue("\($0)".hasPrefix("broken.yaml: "), "\($0)")
        }
    }
}

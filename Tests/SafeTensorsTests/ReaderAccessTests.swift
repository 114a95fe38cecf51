import Foundation
import XCTest
@testable import SafeTensors

/// Typed reads and the strict key check on a valid file.
final class ReaderAccessTests: XCTestCase {
    private var url: URL!
    private var file: SafeTensorsFile!

    override func setUpWithError() throws {
        url = try makeTemporaryDirectory(self).appendingPathComponent("model.safetensors")
        var writer = SafeTensorsWriter()
        try writer.add("bert.embeddings.word_embeddings.weight", shape: [4, 2], floats: (0..<8).map(Float.init))
        try writer.add("bert.embeddings.position_ids", shape: [1, 3], int64s: [0, 1, 2])
        try writer.add("pooler.dense.bias", shape: [2], floats: [0.5, -0.5], as: .f16)
        try writer.write(to: url)
        file = try SafeTensorsFile(url: url)
    }

    func testIntegerRequestedAsFloat() {
        assertSafeTensorsError(try file.floats("bert.embeddings.position_ids"),
                               mentions: [url.path, "'bert.embeddings.position_ids'", "I64", "Float"]) {
            $0 == .wrongDType(file: url.path, key: "bert.embeddings.position_ids", dtype: .i64, requested: "Float")
        }
    }

    func testFloatRequestedAsInteger() {
        assertSafeTensorsError(try file.int64s("pooler.dense.bias"), mentions: [url.path, "'pooler.dense.bias'", "F16", "Int64"]) {
            if case .wrongDType(_, "pooler.dense.bias", .f16, _) = $0 { return true } else { return false }
        }
    }

    func testShapeMismatchNamesBothShapes() {
        let key = "bert.embeddings.word_embeddings.weight"
        assertSafeTensorsError(try file.floats(key, shape: [2, 4]), mentions: [url.path, "'\(key)'", "[2, 4]", "[4, 2]"]) {
            $0 == .shapeMismatch(file: url.path, key: key, expected: [2, 4], actual: [4, 2])
        }
        // Same element count is not enough, and neither is a missing leading 1.
        assertSafeTensorsError(try file.floats(key, shape: [8]), mentions: ["[8]", "[4, 2]"]) {
            if case .shapeMismatch = $0 { return true } else { return false }
        }
        XCTAssertEqual(try file.floats(key, shape: [4, 2]), (0..<8).map(Float.init))
    }

    func testMissingTensor() {
        assertSafeTensorsError(try file.floats("classifier.weight"), mentions: [url.path, "'classifier.weight'"]) {
            $0 == .missingTensor(file: url.path, key: "classifier.weight")
        }
        assertSafeTensorsError(try file.int64s("classifier.weight"), mentions: ["'classifier.weight'"]) {
            if case .missingTensor = $0 { return true } else { return false }
        }
    }

    func testIntegerAndHalfReads() throws {
        XCTAssertEqual(try file.int64s("bert.embeddings.position_ids"), [0, 1, 2])
        XCTAssertEqual(try file.floats("pooler.dense.bias"), [0.5, -0.5])
    }

    func testCheckKeysAcceptsExactSetAndHarmlessSuffixes() throws {
        let expected: Set = ["bert.embeddings.word_embeddings.weight", "pooler.dense.bias"]
        try file.checkKeys(expected: expected, harmless: ["embeddings.position_ids"])
        try file.checkKeys(expected: expected, harmless: ["bert.embeddings.position_ids"])
    }

    func testCheckKeysReportsMissing() {
        let expected: Set = ["bert.embeddings.word_embeddings.weight", "pooler.dense.bias", "pooler.dense.weight"]
        assertSafeTensorsError(try file.checkKeys(expected: expected, harmless: ["embeddings.position_ids"]),
                               mentions: [url.path, "missing 'pooler.dense.weight'"]) {
            $0 == .keyMismatch(file: url.path, missing: ["pooler.dense.weight"], unexpected: [])
        }
    }

    func testCheckKeysReportsUnexpected() {
        let expected: Set = ["bert.embeddings.word_embeddings.weight"]
        // "position_ids" alone is a suffix at a dot boundary and so harmless; "ids" is not.
        assertSafeTensorsError(try file.checkKeys(expected: expected, harmless: ["position_ids", "ids", "dense"]),
                               mentions: [url.path, "unexpected 'pooler.dense.bias'"]) {
            $0 == .keyMismatch(file: url.path, missing: [], unexpected: ["pooler.dense.bias"])
        }
        assertSafeTensorsError(try file.checkKeys(expected: expected, harmless: ["s.position_ids"]),
                               mentions: ["'bert.embeddings.position_ids'", "'pooler.dense.bias'"]) {
            $0 == .keyMismatch(file: url.path, missing: [], unexpected: ["bert.embeddings.position_ids", "pooler.dense.bias"])
        }
    }

    func testCheckKeysReportsBothAtOnce() {
        assertSafeTensorsError(try file.checkKeys(expected: ["encoder.weight"], harmless: []),
                               mentions: [url.path, "missing 'encoder.weight'", "unexpected 'bert.embeddings.position_ids'"]) {
            if case let .keyMismatch(_, missing, unexpected) = $0 { return missing.count == 1 && unexpected.count == 3 }
            return false
        }
    }
}

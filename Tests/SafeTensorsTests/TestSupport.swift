import Foundation
import TestSupport
import XCTest
@testable import SafeTensors

/// A fresh directory per test, removed afterwards.
func makeTemporaryDirectory(_ test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("SafeTensorsTests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

/// Raw file bytes: little-endian header length, header text, data. `length` overrides the
/// declared header length to craft inconsistent files.
func craftedFile(header: String, data: [UInt8] = [], length: UInt64? = nil) -> Data {
    craftedFile(headerBytes: Array(header.utf8), data: data, length: length)
}

func craftedFile(headerBytes: [UInt8], data: [UInt8] = [], length: UInt64? = nil) -> Data {
    var bytes = withUnsafeBytes(of: (length ?? UInt64(headerBytes.count)).littleEndian) { Array($0) }
    bytes += headerBytes + data
    return Data(bytes)
}

/// Asserts `body` throws a `SafeTensorsError` accepted by `matches` whose description contains
/// every string in `mentions` (the file path, the key, the numbers a user needs).
func assertSafeTensorsError(
    _ body: @autoclosure () throws -> some Any, mentions: [String],
    file: StaticString = #filePath, line: UInt = #line, matches: (SafeTensorsError) -> Bool
) {
    do {
        let value = try body()
        XCTFail("expected an error, got \(value)", file: file, line: line)
    } catch let error as SafeTensorsError {
        XCTAssertTrue(matches(error), "unexpected error case: \(error)", file: file, line: line)
        for text in mentions {
            XCTAssertTrue(error.description.contains(text), "'\(error)' does not mention '\(text)'", file: file, line: line)
        }
    } catch {
        XCTFail("expected SafeTensorsError, got \(error)", file: file, line: line)
    }
}

/// Compares bit patterns, so -0 vs 0 and NaN payloads count; reports the first mismatches.
func assertSameBits(_ actual: [Float], _ expected: [Float], _ label: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "\(label): count", file: file, line: line)
    let mismatches = zip(actual, expected).enumerated().filter { $0.element.0.bitPattern != $0.element.1.bitPattern }
    for (index, pair) in mismatches.prefix(5) {
        XCTFail("\(label)[\(index)]: got \(pair.0) (0x\(String(pair.0.bitPattern, radix: 16))), "
                + "expected \(pair.1) (0x\(String(pair.1.bitPattern, radix: 16)))", file: file, line: line)
    }
    if mismatches.count > 5 { XCTFail("\(label): \(mismatches.count) mismatches in all", file: file, line: line) }
}

enum Python {
    /// The repository root, found from this file's location.
    static let repositoryRoot = packageRoot
    static let checkScript = repositoryRoot.appendingPathComponent("scripts/fixtures/safetensors_check.py")

    /// Runs `python3 arguments...`; returns exit status and combined output.
    static func run(_ arguments: [String]) throws -> ProgramResult {
        try runProgram("python3", arguments)
    }

    /// Skips the calling test unless python3 with numpy and safetensors is available.
    static func requireSafetensors() throws {
        let probe = try? run(["-c", "import safetensors, numpy"])
        guard let probe, probe.status == 0 else {
            throw XCTSkip("python3 with safetensors and numpy not available: \(probe?.output ?? "python3 not found")")
        }
    }
}

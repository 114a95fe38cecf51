import Foundation

/// A fresh directory under the system temporary directory, removed on deinit.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("datasets-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }

    @discardableResult
    func write(_ name: String, _ data: Data) throws -> URL {
        let file = url.appendingPathComponent(name)
        try data.write(to: file)
        return file
    }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> URL {
        try write(name, Data(text.utf8))
    }
}

/// Deterministic pseudo-random numbers for test data (SplitMix64).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e3779b97f4a7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58476d1ce4e5b9
        z = (z ^ (z >> 27)) &* 0x94d049bb133111eb
        return z ^ (z >> 31)
    }
}

import Datasets
import XCTest

/// Writes `contents` to a fresh temporary file named `name` and loads it.
func loadDataset(
    _ name: String, _ contents: String, options: DatasetReadOptions = DatasetReadOptions()
) throws -> (Dataset, path: String) {
    try loadDataset(name, Data(contents.utf8), options: options)
}

func loadDataset(
    _ name: String, _ contents: Data, options: DatasetReadOptions = DatasetReadOptions()
) throws -> (Dataset, path: String) {
    let dir = try TemporaryDirectory()
    let url = try dir.write(name, contents)
    return (try Dataset.load(url, options: options), url.path)
}

/// Asserts that loading `contents` throws a RowError at `line` whose reason is `reason`,
/// and that its description has the "path:line: reason" form.
func assertRowError(
    _ name: String, _ contents: Data, options: DatasetReadOptions = DatasetReadOptions(),
    line: Int, reason: String, file: StaticString = #filePath, testLine: UInt = #line
) {
    do {
        let dir = try TemporaryDirectory()
        let url = try dir.write(name, contents)
        XCTAssertThrowsError(try Dataset.load(url, options: options), file: file, line: testLine) { error in
            guard let rowError = error as? RowError else {
                return XCTFail("expected a RowError, got \(type(of: error)): \(error)", file: file, line: testLine)
            }
            XCTAssertEqual(rowError.file, url.path, file: file, line: testLine)
            XCTAssertEqual(rowError.line, line, file: file, line: testLine)
            XCTAssertEqual(rowError.reason, reason, file: file, line: testLine)
            XCTAssertEqual("\(rowError)", "\(url.path):\(line): \(reason)", file: file, line: testLine)
        }
    } catch {
        XCTFail("could not write the test file: \(error)", file: file, line: testLine)
    }
}

func assertRowError(
    _ name: String, _ contents: String, options: DatasetReadOptions = DatasetReadOptions(),
    line: Int, reason: String, file: StaticString = #filePath, testLine: UInt = #line
) {
    assertRowError(name, Data(contents.utf8), options: options, line: line, reason: reason, file: file, testLine: testLine)
}

extension DatasetReadOptions {
    /// Options reading the given fields, for brevity in tests.
    static func fields(
        text: String = "text", textPair: String? = nil, label: String? = nil, id: String? = nil,
        hasHeader: Bool = true, labelMap: LabelMap? = nil, skipBadRows: Bool = false
    ) -> DatasetReadOptions {
        DatasetReadOptions(
            fields: DatasetFields(text: text, textPair: textPair, label: label, id: id),
            skipBadRows: skipBadRows, hasHeader: hasHeader, labelMap: labelMap)
    }
}

import Foundation
import HDF5
import TestSupport
import XCTest


/// A fresh folder for one test's files, removed afterwards.
final class TemporaryFolder {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("hdf5-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> URL { url.appendingPathComponent(name) }
    deinit { try? FileManager.default.removeItem(at: url) }
}

/// Fails with the first mismatches and the largest error, not just "not equal".
func assertClose(_ actual: [Float], _ expected: [Float], tolerance: (Float) -> Float,
                 _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "length \(message)", file: file, line: line)
    var worst: Float = 0
    var bad: [String] = []
    for i in 0..<min(actual.count, expected.count) {
        let error = abs(actual[i] - expected[i])
        if !(error <= tolerance(expected[i])) && bad.count < 5 { bad.append("[\(i)] \(actual[i]) vs \(expected[i])") }
        if !(error <= worst) { worst = error.isNaN ? .infinity : error }
    }
    XCTAssertTrue(bad.isEmpty, "\(message) max error \(worst); first mismatches: \(bad.joined(separator: ", "))",
                  file: file, line: line)
}

/// Asserts the call throws an H5Error and returns it.
func assertH5Error<T>(_ expression: @autoclosure () throws -> T, _ message: String = "",
                      file: StaticString = #filePath, line: UInt = #line) -> H5Error? {
    do {
        _ = try expression()
        XCTFail("expected an H5Error \(message)", file: file, line: line)
    } catch let error as H5Error {
        return error
    } catch {
        XCTFail("expected an H5Error, got \(error) \(message)", file: file, line: line)
    }
    return nil
}

/// The package root (…/Tests/HDF5Tests/TestSupport.swift → …).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

/// The folder holding libh5zstd.so: DISTILLERY_PLUGIN_DIR, else build/hdf5-plugins.
/// Skips when the default folder has no plugin (`make plugin` builds it); fails when
/// DISTILLERY_PLUGIN_DIR names a folder without one.
func pluginFolder(file: StaticString = #filePath, line: UInt = #line) throws -> URL {
    if let configured = ProcessInfo.processInfo.environment["DISTILLERY_PLUGIN_DIR"], !configured.isEmpty {
        let url = URL(fileURLWithPath: configured, isDirectory: true)
        let plugin = url.appendingPathComponent("libh5zstd.so").path
        XCTAssertTrue(FileManager.default.fileExists(atPath: plugin),
                      "DISTILLERY_PLUGIN_DIR has no libh5zstd.so: \(plugin)", file: file, line: line)
        return url
    }
    let url = packageRoot.appendingPathComponent("build/hdf5-plugins", isDirectory: true)
    guard FileManager.default.fileExists(atPath: url.appendingPathComponent("libh5zstd.so").path) else {
        throw XCTSkip("no zstd plugin at \(url.path); run `make plugin` (or set DISTILLERY_PLUGIN_DIR)")
    }
    return url
}


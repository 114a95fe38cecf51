import Dispatch
import Foundation
import HDF5
import TestSupport
import XCTest

/// Failures name the file, the object and the operation, and carry HDF5's own reason.
final class ErrorTests: XCTestCase {
    func testMissingFileNamesThePath() throws {
        let folder = try TemporaryFolder()
        let url = folder.file("does-not-exist.h5")
        guard let error = assertH5Error(try H5File.open(url)) else { return }
        XCTAssertEqual(error.file, url.path)
        XCTAssertEqual(error.object, "/")
        XCTAssertEqual(error.operation, "open")
        XCTAssertTrue(error.description.hasPrefix(url.path + ": /: open failed: "), error.description)
        XCTAssertTrue(error.description.contains("No such file or directory"), error.description)
        XCTAssertTrue(error.hdf5Stack.first?.hasPrefix("H5Fopen") ?? false, "\(error.hdf5Stack)")
    }

    func testNotAnHDF5FileNamesThePath() throws {
        let folder = try TemporaryFolder()
        let url = folder.file("notes.h5")
        try Data("this is plain text, not HDF5\n".utf8).write(to: url)
        guard let error = assertH5Error(try H5File.open(url)) else { return }
        XCTAssertEqual(error.file, url.path)
        XCTAssertTrue(error.description.contains(url.path), error.description)
        XCTAssertTrue(error.reason.contains("signature"), "HDF5 says the signature is missing: \(error)")
    }

    /// HDF5 keeps an error stack per thread: failures on several threads at once each
    /// report their own file.
    func testErrorsOnConcurrentThreadsNameTheirOwnFiles() throws {
        let folder = try TemporaryFolder()
        let urls = (0..<8).map { folder.file("missing-\($0).h5") }
        var messages = [String](repeating: "", count: urls.count)
        messages.withUnsafeMutableBufferPointer { slots in
            DispatchQueue.concurrentPerform(iterations: urls.count) { index in
                do {
                    _ = try H5File.open(urls[index])
                } catch let error as H5Error {
                    slots[index] = error.reason
                } catch {
                    slots[index] = "unexpected \(error)"
                }
            }
        }
        for (url, message) in zip(urls, messages) {
            XCTAssertTrue(message.contains("name = '\(url.path)'"), message)
        }
    }

    func testCreateRefusesToOverwriteUnlessAsked() throws {
        let folder = try TemporaryFolder()
        let url = folder.file("x.h5")
        let first = try H5File.create(url)
        try first.root.setAttribute("generation", Int64(1))
        try first.close()
        let refused = assertH5Error(try H5File.create(url))
        XCTAssertEqual(refused?.file, url.path)
        XCTAssertEqual(try H5File.open(url).root.int64Attribute("generation"), 1, "the file is untouched")
        let second = try H5File.create(url, overwrite: true)
        XCTAssertFalse(try second.root.hasAttribute("generation"))
    }

    func testMissingObjectsAndBadOptionsNameWhatWasAsked() throws {
        let folder = try TemporaryFolder()
        let url = folder.file("y.h5")
        let file = try H5File.create(url)
        let group = try file.root.createGroup("teacher")
        let missing = assertH5Error(try group.dataset("logits"))
        XCTAssertEqual(missing?.object, "/teacher")
        XCTAssertEqual(missing?.operation, "open dataset 'logits'")
        XCTAssertEqual(missing?.description, "\(url.path): /teacher: open dataset 'logits' failed: there is no dataset of that name")
        let level = assertH5Error(try group.createDataset("z", type: .float32, columns: 4, options: .init(compression: .zstd(level: 99))))
        XCTAssertTrue(level?.reason.contains("zstd level 99") ?? false, "\(String(describing: level))")
        XCTAssertNotNil(assertH5Error(try group.createDataset("g", type: .float32, options: .init(compression: .gzip(level: 10)))))
        _ = try group.createDataset("taken", type: .int8)
        let duplicate = assertH5Error(try group.createDataset("taken", type: .int8))
        XCTAssertEqual(duplicate?.object, "/teacher")
        XCTAssertFalse(duplicate?.hdf5Stack.isEmpty ?? true)
    }
}

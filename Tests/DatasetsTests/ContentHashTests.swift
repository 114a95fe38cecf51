import Foundation
import XCTest
import Hashing

final class ContentHashTests: XCTestCase {
    func testFileMatchesSha256sum() throws {
        let tool = "/usr/bin/sha256sum"
        guard FileManager.default.isExecutableFile(atPath: tool) else {
            throw XCTSkip("\(tool) not installed")
        }
        // Larger than one 4 MiB read block and not a multiple of it.
        var generator = SplitMix(seed: 42)
        let bytes = (0..<(5 << 20) + 12345).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let dir = try TemporaryDirectory()
        let url = try dir.write("weights.bin", Data(bytes))

        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = [url.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let expected = String(decoding: output, as: UTF8.self).split(separator: " ").first.map(String.init)

        XCTAssertEqual(try ContentHash.file(at: url), "sha256:" + (expected ?? "?"))
        XCTAssertEqual(ContentHash.data(Data(bytes)), try ContentHash.file(at: url))
    }

    func testEmptyFile() throws {
        let dir = try TemporaryDirectory()
        let url = try dir.write("empty", Data())
        XCTAssertEqual(try ContentHash.file(at: url),
                       "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    func testMissingFileNamesPath() throws {
        let dir = try TemporaryDirectory()
        let url = dir.url.appendingPathComponent("nope.bin")
        XCTAssertThrowsError(try ContentHash.file(at: url)) { error in
            XCTAssertEqual("\(error)", url.path + ": no such file")
        }
    }

    func testFloatsAreLittleEndianBinary32() {
        // 1.0 = 0x3f800000 and -2.0 = 0xc0000000, stored little-endian.
        let raw = Data([0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0])
        XCTAssertEqual(ContentHash.floats([1.0, -2.0]), ContentHash.data(raw))
        XCTAssertNotEqual(ContentHash.floats([1.0, -2.0]), ContentHash.floats([-2.0, 1.0]))
        XCTAssertTrue(ContentHash.floats([]).hasPrefix("sha256:e3b0c442"))
    }
}

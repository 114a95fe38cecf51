import Foundation
import XCTest
@testable import SafeTensors

/// Prints read speed for a ~50 MB F32 file; informational, no timed assertion.
final class ThroughputTests: XCTestCase {
    func testReadFiftyMegabytesOfF32() throws {
        let url = try makeTemporaryDirectory(self).appendingPathComponent("big.safetensors")
        let count = 50 * 1024 * 1024 / 4
        let values = (0..<count).map { Float($0 % 1000) * 0.001 }
        var writer = SafeTensorsWriter()
        try writer.add("big", shape: [count / 1024, 1024], floats: values)
        let writeStart = Date()
        try writer.write(to: url)
        let writeSeconds = Date().timeIntervalSince(writeStart)

        let openStart = Date()
        let file = try SafeTensorsFile(url: url)
        let openSeconds = Date().timeIntervalSince(openStart)
        let readStart = Date()
        let read = try file.floats("big", shape: [count / 1024, 1024])
        let readSeconds = Date().timeIntervalSince(readStart)

        XCTAssertEqual(read.count, count)
        XCTAssertEqual(read[12345], values[12345])
        XCTAssertEqual(read.last, values.last)
        let megabytes = Double(count * 4) / 1_048_576
        print(String(format: "safetensors throughput: %.0f MB: write %.3f s, open %.4f s, floats() %.3f s (%.0f MB/s)",
                     megabytes, writeSeconds, openSeconds, readSeconds, megabytes / readSeconds))
    }
}

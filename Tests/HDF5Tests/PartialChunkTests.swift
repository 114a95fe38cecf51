import Foundation
import HDF5
import TestSupport
import XCTest

/// A writer that commits partial chunks rewrites them when they fill, and rolls back by truncating.
final class PartialChunkTests: XCTestCase {
    func testRewritingThePartialLastChunkAndTruncating() throws {
        let folder = try TemporaryFolder()
        let url = folder.file("partial.h5")
        var random = SeededRandom(seed: 3)
        let values = random.floats(20 * 3)
        do {
            let file = try H5File.create(url)
            let dataset = try file.root.createDataset("d", type: .float32, columns: 3,
                                                      options: H5DatasetOptions(chunkRows: 8, compression: .zstd(level: 3)))
            let codec = try dataset.chunkCodec()
            try values.withUnsafeBufferPointer { all in
                func rows(_ r: Range<Int>) -> UnsafeBufferPointer<Float> { UnsafeBufferPointer(rebasing: all[(r.lowerBound * 3)..<(r.upperBound * 3)]) }
                try dataset.appendEncodedChunk(try codec.encode(rows(0..<8)))
                try dataset.appendEncodedChunk(try codec.encode(rows(8..<11)))     // partial, committed
                XCTAssertEqual(dataset.rows, 11)
                try dataset.writeEncodedChunk(try codec.encode(rows(8..<16)), atRow: 8)  // filled up: rewritten
                XCTAssertEqual(dataset.rows, 16)
                try dataset.appendEncodedChunk(try codec.encode(rows(16..<20)))
                // A chunk that is not the last one, or that would drop rows, is refused.
                XCTAssertThrowsError(try dataset.writeEncodedChunk(try codec.encode(rows(0..<8)), atRow: 0))
                XCTAssertThrowsError(try dataset.writeEncodedChunk(try codec.encode(rows(16..<18)), atRow: 16))
            }
            try file.close()
        }
        let file = try H5File.open(url, writable: true)
        let dataset = try file.root.dataset("d")
        XCTAssertEqual(try dataset.read(Float.self, rows: 0..<20), values)
        try dataset.truncate(toRows: 13)
        XCTAssertEqual(dataset.rows, 13)
        XCTAssertEqual(try dataset.read(Float.self, rows: 0..<13), Array(values[0..<39]))
        XCTAssertThrowsError(try dataset.truncate(toRows: 14))
        try file.close()
    }
}

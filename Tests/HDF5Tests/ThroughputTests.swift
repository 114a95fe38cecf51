import Dispatch
import Foundation
import HDF5
import TestSupport
import XCTest

/// Prints MB/s (of Float data) for the two ways to write and to read a cache dataset; no timed assertion.
/// Run optimised for meaningful numbers:
///   swift test -c release -Xswiftc -enable-testing --scratch-path .build-h5 --filter ThroughputTests
final class ThroughputTests: XCTestCase {
    func testWriteThroughput() throws {
        let columns = 384
        let rowCount = 16_384  // 25 MB of Float input, 12.6 MB as float16
        var random = SeededRandom(seed: 21)
        let floats = random.activations(rowCount * columns, scale: 2)
        let megabytes = Double(floats.count * 4) / 1e6
        let options = H5DatasetOptions(compression: .zstd(level: 3), shuffle: true, checksum: true)
        let folder = try TemporaryFolder()
        let url = folder.file("t.h5")
        let file = try H5File.create(url)

        // 1. HDF5's own path: append Float rows (converted to float16 here, filtered inside HDF5 under its lock).
        let viaHDF5 = try file.root.createDataset("hdf5", type: .float16, columns: columns, options: options)
        var start = Date()
        try floats.withUnsafeBufferPointer { all in
            for block in stride(from: 0, to: rowCount, by: 512) {
                try viaHDF5.append(UnsafeBufferPointer(rebasing: all[(block * columns)..<((block + 512) * columns)]))
            }
        }
        try file.flush()
        let appendSeconds = Date().timeIntervalSince(start)

        // 2. The fast path: encode chunks on every core, then hand them to HDF5.
        let viaCodec = try file.root.createDataset("codec", type: .float16, columns: columns, options: options)
        let codec = try viaCodec.chunkCodec()
        let chunkCount = (rowCount + codec.chunkRows - 1) / codec.chunkRows
        let cores = ProcessInfo.processInfo.activeProcessorCount
        func encodeAll(threads: Int) -> [Result<H5EncodedChunk, Error>] {
            let results = UnsafeMutableBufferPointer<Result<H5EncodedChunk, Error>?>.allocate(capacity: chunkCount)
            results.initialize(repeating: nil)
            defer { results.deallocate() }
            floats.withUnsafeBufferPointer { all in
                let perThread = (chunkCount + threads - 1) / threads
                DispatchQueue.concurrentPerform(iterations: threads) { thread in
                    for index in (thread * perThread)..<min((thread + 1) * perThread, chunkCount) {
                        let rows = (index * codec.chunkRows)..<min((index + 1) * codec.chunkRows, rowCount)
                        let block = UnsafeBufferPointer(rebasing: all[(rows.lowerBound * columns)..<(rows.upperBound * columns)])
                        results[index] = Result { try codec.encode(block) }
                    }
                }
            }
            return results.map { $0! }
        }
        start = Date()
        let sequential = try encodeAll(threads: 1).map { try $0.get() }
        let encodeOneSeconds = Date().timeIntervalSince(start)
        start = Date()
        let chunks = try encodeAll(threads: cores).map { try $0.get() }
        let encodeAllSeconds = Date().timeIntervalSince(start)
        XCTAssertEqual(chunks.map(\.bytes), sequential.map(\.bytes), "threads do not change the bytes")
        start = Date()
        for chunk in chunks { try viaCodec.appendEncodedChunk(chunk) }
        try file.flush()
        let writeSeconds = Date().timeIntervalSince(start)

        // Reading back as Float: HDF5's read path in 512-row blocks, and raw chunks decoded on every core.
        var readBack = [Float](repeating: 0, count: floats.count)
        start = Date()
        try readBack.withUnsafeMutableBufferPointer { all in
            for block in stride(from: 0, to: rowCount, by: 512) {
                try viaCodec.read(rows: block..<(block + 512), into: UnsafeMutableBufferPointer(rebasing: all[(block * columns)..<((block + 512) * columns)]))
            }
        }
        let readSeconds = Date().timeIntervalSince(start)
        start = Date()
        let stored = try (0..<chunkCount).map { try viaCodec.readEncodedChunk($0) }
        var decoded = [[Float]](repeating: [], count: chunkCount)
        decoded.withUnsafeMutableBufferPointer { slots in
            DispatchQueue.concurrentPerform(iterations: chunkCount) { index in
                slots[index] = (try? codec.decode(stored[index], as: Float.self)) ?? []
            }
        }
        let decodeSeconds = Date().timeIntervalSince(start)
        XCTAssertEqual(Array(decoded.joined()), readBack)
        XCTAssertEqual(readBack[12345], Float(Float16(floats[12345])))

        // Both datasets hold the same rows and the same bytes.
        XCTAssertEqual(viaCodec.rows, rowCount)
        XCTAssertEqual(try viaCodec.read(Float.self, rows: 1000..<1010), try viaHDF5.read(Float.self, rows: 1000..<1010))
        XCTAssertEqual(try viaCodec.readEncodedChunk(chunkCount - 1).bytes, try viaHDF5.readEncodedChunk(chunkCount - 1).bytes)
        let storedBytes = stored.reduce(0) { $0 + $1.bytes.count }
        try file.close()

        func rate(_ seconds: Double) -> String { String(format: "%.0f MB/s", megabytes / seconds) }
        print("""
        [throughput] \(rowCount) rows × \(columns) Float = \(String(format: "%.1f", megabytes)) MB → float16, \
        \(codec.chunkRows)-row chunks, shuffle+zstd(3)+fletcher32, stored \(String(format: "%.1f", Double(storedBytes) / 1e6)) MB
        [throughput] HDF5 append (convert + filter under HDF5's lock): \(rate(appendSeconds))
        [throughput] H5ChunkCodec.encode, 1 thread: \(rate(encodeOneSeconds)); \(cores) threads: \(rate(encodeAllSeconds))
        [throughput] appendEncodedChunk (H5Dwrite_chunk): \(rate(writeSeconds)); encode on \(cores) threads + write: \(rate(encodeAllSeconds + writeSeconds))
        [throughput] read as Float, 512-row blocks through HDF5: \(rate(readSeconds)); readEncodedChunk + decode on \(cores) threads: \(rate(decodeSeconds))
        """)
    }
}

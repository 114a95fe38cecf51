import Foundation
import HDF5
import TestSupport
import XCTest

/// The fast path: chunks encoded by H5ChunkCodec and written with appendEncodedChunk read
/// back through HDF5's normal pipeline exactly, and are byte-identical to the chunks HDF5
/// writes itself; chunks HDF5 wrote decode with the codec.
final class ChunkCodecTests: XCTestCase {
    private let pipelines: [(String, H5DatasetOptions)] = [
        ("zstd+shuffle+fletcher32", H5DatasetOptions(chunkRows: 8, compression: .zstd(level: 3), shuffle: true, checksum: true)),
        ("zstd level 1, no shuffle", H5DatasetOptions(chunkRows: 8, compression: .zstd(level: 1), shuffle: false, checksum: false)),
        ("gzip+shuffle+fletcher32", H5DatasetOptions(chunkRows: 8, compression: .gzip(level: 6), shuffle: true, checksum: true)),
        ("gzip level 1", H5DatasetOptions(chunkRows: 8, compression: .gzip(level: 1), shuffle: false, checksum: false)),
        ("none", H5DatasetOptions.uncompressed.with(chunkRows: 8)),
        ("fletcher32 only", H5DatasetOptions(chunkRows: 8, compression: .none, shuffle: false, checksum: true)),
    ]

    /// For one pipeline and element type: dataset "hdf5" gets the rows through HDF5's own
    /// write path, dataset "codec" gets the same rows as encoded chunks (with 8-row chunks,
    /// 30 rows are 3 full chunks of 8 and a partial one of 6).
    private func check<T: H5Scalar & Equatable>(_ type: H5ElementType, _ rows: [T], columns: Int,
                                                 _ name: String, _ options: H5DatasetOptions) throws {
        let folder = try TemporaryFolder()
        let url = folder.file("c.h5")
        let width = max(columns, 1)
        let rowCount = rows.count / width
        do {
            let file = try H5File.create(url)
            let viaHDF5 = try file.root.createDataset("hdf5", type: type, columns: columns, options: options)
            try viaHDF5.append(rows)
            let viaCodec = try file.root.createDataset("codec", type: type, columns: columns, options: options)
            let codec = try viaCodec.chunkCodec()
            XCTAssertEqual(codec, try H5ChunkCodec(elementType: type, columns: width, options: options))
            try rows.withUnsafeBufferPointer { all in
                for start in stride(from: 0, to: rowCount, by: codec.chunkRows) {
                    let end = min(start + codec.chunkRows, rowCount)
                    let block = UnsafeBufferPointer(rebasing: all[(start * width)..<(end * width)])
                    try viaCodec.appendEncodedChunk(try codec.encode(block))
                }
            }
            XCTAssertEqual(viaCodec.rows, rowCount)
            try file.close()
        }
        let file = try H5File.open(url)
        let viaHDF5 = try file.root.dataset("hdf5")
        let viaCodec = try file.root.dataset("codec")
        // HDF5's read path returns exactly what was encoded, whole and by row ranges.
        let expected = try viaHDF5.read(T.self, rows: 0..<rowCount)
        XCTAssertEqual(try viaCodec.read(T.self, rows: 0..<rowCount), expected, "\(name) \(type)")
        let middle = (rowCount / 4)..<(rowCount - rowCount / 7)
        XCTAssertEqual(try viaCodec.read(T.self, rows: middle), Array(expected[(middle.lowerBound * width)..<(middle.upperBound * width)]), "\(name) \(type)")
        // And the stored chunks are the same bytes HDF5's own pipeline produced.
        let codec = try viaHDF5.chunkCodec()
        let chunks = (rowCount + codec.chunkRows - 1) / codec.chunkRows
        XCTAssertEqual(viaCodec.chunkCount, chunks)
        for index in 0..<chunks {
            let ours = try viaCodec.readEncodedChunk(index)
            let theirs = try viaHDF5.readEncodedChunk(index)
            XCTAssertEqual(ours.bytes, theirs.bytes, "\(name) \(type) chunk \(index)")
            XCTAssertEqual(ours.rows, min(codec.chunkRows, rowCount - index * codec.chunkRows))
            // HDF5-written chunks decode to the rows' stored bytes.
            let decoded = try codec.decode(theirs)
            let first = index * codec.chunkRows * width
            let slice = Array(expected[first..<(first + ours.rows * width)])
            XCTAssertEqual(decoded, slice.withUnsafeBytes { Array($0) }, "\(name) \(type) decode \(index)")
            XCTAssertEqual(try codec.decode(theirs, as: T.self), slice, "\(name) \(type) typed decode \(index)")
        }
    }

    func testEncodedChunksMatchHDF5ForEveryPipeline() throws {
        var random = SeededRandom(seed: 11)
        let floats = random.activations(30 * 5, scale: 3)
        let int64s = (0..<30).map { Int64($0) * 77_777_777_777 - 5 }
        let int8s = (0..<30 * 3).map { Int8(truncatingIfNeeded: $0 * 37) }
        for (name, options) in pipelines {
            try check(.float32, floats, columns: 5, name, options)
            try check(.int64, int64s, columns: 0, name, options)
            try check(.int8, int8s, columns: 3, name, options)
            try check(.uint16, (0..<60).map { UInt16($0 * 1000) }, columns: 2, name, options)
        }
    }

    /// Chunks of real size (hundreds of kilobytes) take the vectorised shuffle of 2-, 4- and
    /// 8-byte elements and the blocked Fletcher32: still HDF5's bytes, odd byte counts included.
    func testLargeChunksMatchHDF5() throws {
        var random = SeededRandom(seed: 13)
        let options = H5DatasetOptions(chunkRows: 3001, compression: .zstd(level: 1), shuffle: true, checksum: true)
        let rows = 7_777
        try check(.float32, random.activations(rows * 7, scale: 3), columns: 7, "large float32", options)
        try check(.uint16, (0..<(rows * 5)).map { _ in UInt16(truncatingIfNeeded: random.next()) }, columns: 5, "large uint16", options)
        try check(.int64, (0..<rows).map { _ in Int64(bitPattern: random.next() >> UInt64(random.next() % 64)) }, columns: 0, "large int64", options)
        try check(.int8, (0..<(rows * 3)).map { _ in Int8(truncatingIfNeeded: random.next()) }, columns: 3, "large int8 (odd bytes)", options)
    }

    /// Fletcher32's edge cases against HDF5's own filter: all bytes 0 (both sums 0), all 0xff
    /// (sums that are multiples of 65535, which HDF5 stores as 65535, not 0), mostly zeros,
    /// and odd byte counts (the last byte as the high half of a word).
    func testFletcher32EdgeCasesMatchHDF5() throws {
        let options = H5DatasetOptions(chunkRows: 1001, compression: .none, shuffle: false, checksum: true)
        var random = SeededRandom(seed: 14)
        for columns in [1, 2, 3, 513] {
            let count = 2_500 * columns
            try check(.uint8, [UInt8](repeating: 0, count: count), columns: columns, "zeros \(columns)", options)
            try check(.uint8, [UInt8](repeating: 0xff, count: count), columns: columns, "0xff \(columns)", options)
            let sparse = (0..<count).map { _ in random.next() % 50 == 0 ? UInt8(truncatingIfNeeded: random.next()) : 0 }
            try check(.uint8, sparse, columns: columns, "sparse \(columns)", options)
        }
    }

    /// Floats encoded as float16 / bfloat16 by the codec equal HDF5's read of appended floats.
    func testSixteenBitFloatsEncodeFromFloats() throws {
        var random = SeededRandom(seed: 12)
        let floats = random.activations(30 * 4, scale: 5) + [0.99999, -3.99325442, 65504, 1e-7]
        for type in [H5ElementType.float16, .bfloat16] {
            let folder = try TemporaryFolder()
            let file = try H5File.create(folder.file("h.h5"))
            let options = H5DatasetOptions(chunkRows: 8)
            let viaHDF5 = try file.root.createDataset("hdf5", type: type, columns: 4, options: options)
            try viaHDF5.append(floats)
            let viaCodec = try file.root.createDataset("codec", type: type, columns: 4, options: options)
            let codec = try viaCodec.chunkCodec()
            try floats.withUnsafeBufferPointer { all in
                for start in stride(from: 0, to: 31, by: 8) {
                    let block = UnsafeBufferPointer(rebasing: all[(start * 4)..<(min(start + 8, 31) * 4)])
                    try viaCodec.appendEncodedChunk(try codec.encode(block))
                }
            }
            try file.flush()
            let expected = try viaHDF5.read(Float.self, rows: 0..<31)
            XCTAssertEqual(try viaCodec.read(Float.self, rows: 0..<31), expected, "\(type)")
            XCTAssertEqual(Array(expected.suffix(4).prefix(2)), [1.0, type == .float16 ? -3.9941406 : -4.0])
            for index in 0..<4 {
                let chunk = try viaHDF5.readEncodedChunk(index)
                XCTAssertEqual(try viaCodec.readEncodedChunk(index).bytes, chunk.bytes, "\(type) chunk \(index)")
                let rows = (index * 8)..<min(index * 8 + 8, 31)
                XCTAssertEqual(try codec.decode(chunk, as: Float.self), Array(expected[(rows.lowerBound * 4)..<(rows.upperBound * 4)]))
            }
            XCTAssertNotNil(assertH5Error(try codec.decode(try viaHDF5.readEncodedChunk(0), as: Double.self)))
        }
    }

    func testAppendEncodedChunkRefusesMisuse() throws {
        let folder = try TemporaryFolder()
        let file = try H5File.create(folder.file("m.h5"))
        let options = H5DatasetOptions(chunkRows: 4)
        let dataset = try file.root.createDataset("d", type: .float32, columns: 2, options: options)
        let codec = try dataset.chunkCodec()
        let partial = try [Float](repeating: 1, count: 6).withUnsafeBufferPointer { try codec.encode($0) }
        try dataset.appendEncodedChunk(partial)
        XCTAssertEqual(dataset.rows, 3)
        let afterPartial = assertH5Error(try dataset.appendEncodedChunk(partial))
        XCTAssertTrue(afterPartial?.reason.contains("inside a chunk") ?? false, "\(String(describing: afterPartial))")
        XCTAssertEqual(afterPartial?.object, "/d")
        // A chunk made for another layout is refused.
        let other = try H5ChunkCodec(elementType: .float32, columns: 2, options: H5DatasetOptions(chunkRows: 4, compression: .gzip(level: 1)))
        let gzipChunk = try [Float](repeating: 2, count: 8).withUnsafeBufferPointer { try other.encode($0) }
        let fresh = try file.root.createDataset("e", type: .float32, columns: 2, options: options)
        XCTAssertTrue(assertH5Error(try fresh.appendEncodedChunk(gzipChunk))?.reason.contains("encoded for") ?? false)
        XCTAssertEqual(fresh.rows, 0)
        // Too many rows, or not whole rows, cannot be encoded.
        XCTAssertNotNil(assertH5Error(try [Float](repeating: 0, count: 10).withUnsafeBufferPointer { try codec.encode($0) }))
        XCTAssertNotNil(assertH5Error(try [Float](repeating: 0, count: 3).withUnsafeBufferPointer { try codec.encode($0) }))
        XCTAssertNotNil(assertH5Error(try [Int32](repeating: 0, count: 2).withUnsafeBufferPointer { try codec.encode($0) }))
        // Normal appends may follow a partial encoded chunk (HDF5 rewrites that chunk).
        try dataset.append([Float(5), 6])
        XCTAssertEqual(try dataset.read(Float.self, rows: 0..<4), [1, 1, 1, 1, 1, 1, 5, 6])
    }

    func testAutomaticChunkRowsAimAtOneMebibyte() throws {
        let codec = try H5ChunkCodec(elementType: .float16, columns: 384, options: H5DatasetOptions())
        XCTAssertEqual(codec.chunkRows, (1 << 20) / (384 * 2))
        XCTAssertEqual(codec.chunkBytes, 1365 * 768)
        let folder = try TemporaryFolder()
        let file = try H5File.create(folder.file("a.h5"))
        let dataset = try file.root.createDataset("x", type: .float16, columns: 384)
        XCTAssertEqual(dataset.chunkRows, 1365)
        XCTAssertEqual(try dataset.chunkCodec(), codec)
    }
}

extension H5DatasetOptions {
    func with(chunkRows: Int) -> H5DatasetOptions {
        var copy = self
        copy.chunkRows = chunkRows
        return copy
    }
}

import Foundation
import HDF5
import TestSupport
import XCTest

/// The module converts Float ↔ float16 / bfloat16 itself (HDF5 1.10.8's float → half
/// conversion is wrong near powers of two). Checked against Swift's Float16 (IEEE,
/// round to nearest even) and the bfloat16 definition (float32 bits rounded to the top 16).
final class Float16ConversionTests: XCTestCase {
    /// The stored 16-bit patterns of `floats`, through an unfiltered codec.
    private func storedBits(_ floats: [Float], as type: H5ElementType) throws -> [UInt16] {
        let codec = try H5ChunkCodec(elementType: type, columns: 1,
                                     options: H5DatasetOptions(chunkRows: floats.count, compression: .none, shuffle: false, checksum: false))
        let chunk = try floats.withUnsafeBufferPointer { try codec.encode($0) }
        return stride(from: 0, to: chunk.bytes.count, by: 2).map { UInt16(chunk.bytes[$0]) | UInt16(chunk.bytes[$0 + 1]) << 8 }
    }

    /// Every 16-bit pattern stored in a dataset, read back as Float.
    private func floatsOfEveryPattern(_ type: H5ElementType) throws -> [Float] {
        let folder = try TemporaryFolder()
        let file = try H5File.create(folder.file("p.h5"))
        let dataset = try file.root.createDataset("p", type: type, columns: 256,
                                                  options: H5DatasetOptions(chunkRows: 256, compression: .none, shuffle: false, checksum: false))
        let patterns = (0...0xffff).map { UInt16($0) }
        try patterns.withUnsafeBytes { try dataset.appendEncodedChunk(try dataset.chunkCodec().encode($0)) }
        return try dataset.read(Float.self, rows: 0..<256)
    }

    private func same(_ a: Float, _ b: Float) -> Bool { a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN) }

    func testEveryHalfPatternWidensLikeFloat16() throws {
        let floats = try floatsOfEveryPattern(.float16)
        var bad: [String] = []
        for pattern in 0...0xffff where !same(floats[pattern], Float(Float16(bitPattern: UInt16(pattern)))) {
            if bad.count < 5 { bad.append(String(pattern, radix: 16)) }
        }
        XCTAssertEqual(bad, [], "patterns read back differently from Float16")
    }

    func testEveryBFloat16PatternWidensToItsFloat() throws {
        let floats = try floatsOfEveryPattern(.bfloat16)
        let bad = (0...0xffff).filter { !same(floats[$0], Float(bitPattern: UInt32($0) << 16)) }
        XCTAssertEqual(bad.count, 0, "first: \(bad.prefix(5).map { String($0, radix: 16) })")
    }

    /// Random floats of every magnitude, ties and the edges, narrowed as Float16(x) does.
    func testFloatsNarrowToHalfLikeFloat16() throws {
        var random = SeededRandom(seed: 5)
        var floats: [Float] = (0..<200_000).map { _ in
            let bits = UInt32(truncatingIfNeeded: random.next())
            let x = Float(bitPattern: bits & 0x8fff_ffff | 0x3000_0000)  // exponents around half's range
            return x.isNaN ? 1 : x
        }
        // Exact ties (round to even), the largest finite, overflow, subnormals, zero signs.
        floats += (0..<64).map { 1 + Float($0) * 0x1p-11 } + [65504, 65519.99, 65520, 1e9, -1e9, 0x1p-24, 0x1p-25, 0x1.8p-25,
                                                          0x1p-26, -0.0, 0, .infinity, -.infinity, 0.99999, 1.99999, 2047.5, 2048.5]
        let bits = try storedBits(floats, as: .float16)
        var bad: [String] = []
        for (x, b) in zip(floats, bits) where b != Float16(x).bitPattern {
            if bad.count < 5 { bad.append("\(x): \(String(b, radix: 16)) vs \(String(Float16(x).bitPattern, radix: 16))") }
        }
        XCTAssertEqual(bad, [])
        let nan = try storedBits([.nan, -.nan], as: .float16)
        XCTAssertTrue(nan.allSatisfy { $0 & 0x7c00 == 0x7c00 && $0 & 0x3ff != 0 }, "NaN stays NaN")
    }

    func testFloatsNarrowToBFloat16RoundingToNearestEven() throws {
        var random = SeededRandom(seed: 6)
        var floats: [Float] = (0..<200_000).map { _ in
            let x = Float(bitPattern: UInt32(truncatingIfNeeded: random.next()))
            return x.isNaN ? 0 : x
        }
        floats += [Float(bitPattern: 0x3f80_8000), Float(bitPattern: 0x3f81_8000), Float(bitPattern: 0x7f7f_ffff), 0.99999, -3.99325442]
        let bits = try storedBits(floats, as: .bfloat16)
        var bad: [String] = []
        // The value of a pattern, with the infinity pattern standing for 2^128 (where rounding overflows to).
        func value(_ p: UInt16) -> Double {
            p & 0x7fff == 0x7f80 ? (p & 0x8000 == 0 ? 0x1p128 : -0x1p128) : Double(Float(bitPattern: UInt32(p) << 16))
        }
        for (x, b) in zip(floats, bits) where x.isFinite {
            // Reference: the nearest bfloat16 by value, ties to the even pattern.
            let down = UInt16(x.bitPattern >> 16)
            let up = down &+ 1
            let dDown = abs(Double(x) - value(down))
            let dUp = abs(Double(x) - value(up))
            let want = dDown < dUp || (dDown == dUp && down & 1 == 0) ? down : up
            if b != want && bad.count < 5 { bad.append("\(x): \(String(b, radix: 16)) vs \(String(want, radix: 16))") }
        }
        XCTAssertEqual(bad, [])
        XCTAssertEqual(bits.suffix(5), [0x3f80, 0x3f82, 0x7f80, 0x3f80, 0xc080])  // ties to even; overflow → inf
        let nan = try storedBits([.nan], as: .bfloat16)[0]
        XCTAssertEqual(nan & 0x7f80, 0x7f80)
        XCTAssertNotEqual(nan & 0x7f, 0, "NaN stays NaN")
    }
}

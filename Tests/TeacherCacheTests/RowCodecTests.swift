import Foundation
import HDF5
import Kernels
import XCTest

@testable import TeacherCache

/// RowCodec: exact bit patterns for known values, rounding ties to even, subnormals and specials, the
/// stated error bounds over wide random data, agreement with Swift's own Float16 conversion, maxAbsError
/// as a recomputation, int8 scales, and a throughput print.
final class RowCodecTests: XCTestCase {
    // MARK: - Helpers

    private func encode(_ values: [Float], width: Int, _ codec: TensorCodec) -> EncodedRows {
        values.withUnsafeBufferPointer { RowCodec.encode($0, width: width, codec: codec) }
    }

    private func decode(_ encoded: EncodedRows, count: Int, width: Int, _ codec: TensorCodec) -> [Float] {
        var out = [Float](repeating: .nan, count: count)
        encoded.bytes.withUnsafeBytes { bytes in
            encoded.scales.withUnsafeBufferPointer { scales in
                out.withUnsafeMutableBufferPointer {
                    RowCodec.decode(bytes, scales: codec == .int8 ? scales : nil, width: width, codec: codec, into: $0)
                }
            }
        }
        return out
    }

    /// The stored 16-bit values of a single-row fp16/bf16 encoding.
    private func halves(_ values: [Float], _ codec: TensorCodec) -> [UInt16] {
        let bytes = encode(values, width: max(1, values.count), codec).bytes
        return (0..<values.count).map { UInt16(bytes[2 * $0]) | UInt16(bytes[2 * $0 + 1]) << 8 }
    }

    /// Random Floats whose magnitudes are log-uniform over [2^lo, 2^hi), random sign.
    private func logUniform(_ count: Int, lo: Float, hi: Float, seed: UInt64) -> [Float] {
        var g = SeededGenerator(seed: seed)
        return (0..<count).map { _ in
            let magnitude = Float(exp2(Double(lo + (hi - lo) * g.nextUnitFloat())))
            return g.next() & 1 == 0 ? magnitude : -magnitude
        }
    }

    /// The largest |decoded - x| over finite x, recomputed independently of the codec's own bookkeeping.
    private func recomputedMaxError(_ values: [Float], _ decoded: [Float]) -> Float {
        var worst: Float = 0
        for (x, d) in zip(values, decoded) where x.isFinite {
            let e = abs(d - x)
            if e.isNaN || e > worst { worst = e.isNaN ? .infinity : e }
        }
        return worst
    }

    // MARK: - The enum

    func testStoredTypesSizesAndNames() throws {
        XCTAssertEqual(TensorCodec.allCases.map(\.storedType), [.float32, .float16, .bfloat16, .int8])
        XCTAssertEqual(TensorCodec.allCases.map(\.bytesPerValue), [4, 2, 2, 1])
        XCTAssertEqual(TensorCodec.allCases.map(\.description), ["fp32", "fp16", "bf16", "int8"])
        let json = try JSONEncoder().encode(TensorCodec.allCases)
        XCTAssertEqual(String(decoding: json, as: UTF8.self), #"["fp32","fp16","bf16","int8"]"#)
        XCTAssertEqual(try JSONDecoder().decode([TensorCodec].self, from: json), TensorCodec.allCases)
        for codec in TensorCodec.allCases {
            let encoded = encode([1, 2, 3, 4, 5, 6], width: 3, codec)
            XCTAssertEqual(encoded.bytes.count, 6 * codec.bytesPerValue, "\(codec)")
            XCTAssertEqual(encoded.scales.count, codec == .int8 ? 2 : 0, "\(codec)")
        }
        for codec in TensorCodec.allCases { XCTAssertTrue(encode([], width: 7, codec).bytes.isEmpty, "\(codec)") }
    }

    // MARK: - fp32

    func testFP32IsBitExactAndLittleEndian() {
        let values: [Float] = [1, -0.0, .infinity, -.infinity, Float(bitPattern: 0x7fc1_2345), .leastNonzeroMagnitude,
                               .greatestFiniteMagnitude, 0.1, -123.456]
        let encoded = encode(values, width: 3, .fp32)
        XCTAssertEqual(Array(encoded.bytes[0..<4]), [0x00, 0x00, 0x80, 0x3f])  // 1.0 = 0x3f800000
        XCTAssertEqual(encoded.maxAbsError, 0)
        XCTAssertEqual(decode(encoded, count: values.count, width: 3, .fp32).map(\.bitPattern), values.map(\.bitPattern))
    }

    // MARK: - fp16

    func testFP16KnownBitPatterns() {
        let cases: [(Float, UInt16, String)] = [
            (1, 0x3c00, "one"), (-2, 0xc000, "minus two"), (0.1, 0x2e66, "0.1"), (1.0 / 3, 0x3555, "1/3"),
            (65504, 0x7bff, "largest half"), (65519.996, 0x7bff, "just below the overflow tie"),
            (65520, 0x7c00, "overflow tie rounds to infinity (even)"), (1e6, 0x7c00, "overflow"),
            (-1e6, 0xfc00, "negative overflow"),
            (0x1p-14, 0x0400, "smallest normal"), (0x1p-24, 0x0001, "smallest subnormal"),
            (0x1.ff8p-15, 0x03ff, "largest subnormal"), (0x1.ffcp-15, 0x0400, "rounds up into the normals"),
            (0x1p-25, 0x0000, "half the smallest subnormal: tie to even 0"),
            (0x1.000002p-25, 0x0001, "just above that tie"), (0x1.8p-24, 0x0002, "1.5 units: tie to even 2"),
            (0x1.4p-23, 0x0002, "2.5 units: tie to even 2"), (1e-9, 0x0000, "underflow"), (-1e-9, 0x8000, "negative underflow"),
            (1 + 0x1p-11, 0x3c00, "tie between 1 and 1+2^-10: even"), (1 + 0x1.8p-10, 0x3c02, "tie 1.5 ulps: even"),
            ((1 + 0x1p-11).nextUp, 0x3c01, "just above a tie"), (2047.0 / 1024 + 0x1p-11, 0x4000, "carry into the exponent"),
            (0, 0x0000, "zero"), (-0.0, 0x8000, "negative zero"), (.infinity, 0x7c00, "infinity"), (-.infinity, 0xfc00, "-infinity"),
        ]
        let bits = halves(cases.map(\.0), .fp16)
        for (i, c) in cases.enumerated() {
            XCTAssertEqual(bits[i], c.1, "\(c.2): \(c.0) → 0x\(String(bits[i], radix: 16))")
        }
        // Stored little-endian: 0x3c00 is the bytes 00 3c.
        XCTAssertEqual(encode([1], width: 1, .fp16).bytes, [0x00, 0x3c])
        // NaN stays NaN (quiet, sign and top payload kept), also a signalling NaN whose payload sits in low bits only.
        let nans = halves([.nan, -.nan, Float(bitPattern: 0x7f80_0001), Float(bitPattern: 0x7fa0_0000)], .fp16)
        XCTAssertEqual(nans, [0x7e00, 0xfe00, 0x7e00, 0x7f00])
    }

    /// Swift's Float16(Float) (compiler-rt, round to nearest even) as the reference: every half value, every
    /// midpoint between neighbouring halves (the ties) and the Floats one ulp either side, and random bit patterns.
    func testFP16MatchesSwiftFloat16() {
        var inputs: [Float] = []
        for h in UInt16(0)...0x7bff {  // every finite non-negative half, and its neighbour above
            let x = Float(Float16(bitPattern: h))
            let next = Float(Float16(bitPattern: h + 1))
            let mid = (x + next) / 2  // exact: 12 significant bits
            inputs += [x, -x, mid, -mid, mid.nextUp, mid.nextDown, -mid.nextUp]
        }
        var g = SeededGenerator(seed: 7)
        for _ in 0..<(1 << 20) { inputs.append(Float(bitPattern: UInt32(truncatingIfNeeded: g.next()))) }
        let bits = halves(inputs, .fp16)
        var mismatches: [String] = []
        for (x, h) in zip(inputs, bits) {
            let expected = Float16(x)
            let ok = x.isNaN ? Float16(bitPattern: h).isNaN : h == expected.bitPattern
            if !ok && mismatches.count < 5 { mismatches.append("\(x) (0x\(String(x.bitPattern, radix: 16))) → 0x\(String(h, radix: 16)), expected 0x\(String(expected.bitPattern, radix: 16))") }
        }
        XCTAssertTrue(mismatches.isEmpty, "first mismatches: \(mismatches)")
    }

    /// The hardware conversion (F16C) against the element-by-element Swift loop, bit for bit: every
    /// 61st Float bit pattern (NaN payloads, subnormals, overflow included) and every tail length.
    func testFP16HardwareConversionEqualsThePortableLoop() {
        var inputs = [Float](repeating: 0, count: 1 << 20)
        var start: UInt64 = 0
        while start < 1 << 32 {
            for i in inputs.indices { inputs[i] = Float(bitPattern: UInt32(truncatingIfNeeded: start + UInt64(i) * 61)) }
            start += UInt64(inputs.count) * 61
            for count in [inputs.count, 17, 8, 7, 1, 0] {
                var fast = [UInt16](repeating: 0, count: count), portable = fast
                let (fastWorst, portableWorst) = inputs.withUnsafeBufferPointer { all in
                    let values = UnsafeBufferPointer(rebasing: all[0..<count])
                    return (fast.withUnsafeMutableBufferPointer { RowCodec.encodeHalves(values, into: $0) },
                            portable.withUnsafeMutableBufferPointer { RowCodec.encodeHalvesPortably(values, into: $0) })
                }
                if fast != portable || fastWorst != portableWorst {
                    let i = fast.indices.first { fast[$0] != portable[$0] }
                    return XCTFail("from 0x\(String(start, radix: 16)), \(count) values: worst \(fastWorst) against \(portableWorst)"
                                   + (i.map { ", 0x\(String(inputs[$0].bitPattern, radix: 16)) → 0x\(String(fast[$0], radix: 16)) against 0x\(String(portable[$0], radix: 16))" } ?? ""))
                }
            }
        }
    }

    func testFP16DecodesEveryBitPatternExactly() {
        let all = (0...0xffff).map { UInt16($0) }
        let bytes = all.flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] }
        var out = [Float](repeating: 0, count: all.count)
        bytes.withUnsafeBytes { raw in
            out.withUnsafeMutableBufferPointer { RowCodec.decode(raw, scales: nil, width: 256, codec: .fp16, into: $0) }
        }
        for (h, x) in zip(all, out) {
            let expected = Float(Float16(bitPattern: h))
            if expected.isNaN {
                XCTAssertTrue(x.isNaN, "0x\(String(h, radix: 16))")
            } else {
                XCTAssertEqual(x.bitPattern, expected.bitPattern, "0x\(String(h, radix: 16))")
            }
        }
    }

    /// Relative error ≤ 2⁻¹¹ (half an ulp of an 11-bit significand) for normal halves, absolute ≤ 2⁻²⁵ (half
    /// the subnormal unit) below 2⁻¹⁴; maxAbsError is exactly the recomputed maximum.
    func testFP16RoundTripErrorBounds() {
        let values = logUniform(200_000, lo: -30, hi: 15.99, seed: 1)
        let encoded = encode(values, width: 1000, .fp16)
        let decoded = decode(encoded, count: values.count, width: 1000, .fp16)
        for (x, d) in zip(values, decoded) {
            let bound = abs(x) >= 0x1p-14 ? abs(x) * 0x1p-11 : 0x1p-25
            if !(abs(d - x) <= bound) { XCTFail("fp16 \(x) → \(d), error \(abs(d - x)) > \(bound)"); break }
        }
        XCTAssertEqual(encoded.maxAbsError, recomputedMaxError(values, decoded))
        XCTAssertGreaterThan(encoded.maxAbsError, 0)
    }

    func testFP16NonFiniteInputsAndOverflowInMaxAbsError() {
        // inf and NaN are kept as themselves (error 0); the finite values here round trip exactly.
        let kept = encode([1, .infinity, .nan, -.infinity, 0.5], width: 5, .fp16)
        XCTAssertEqual(kept.maxAbsError, 0)
        let decoded = decode(kept, count: 5, width: 5, .fp16)
        XCTAssertEqual(decoded[1], .infinity)
        XCTAssertTrue(decoded[2].isNaN)
        XCTAssertEqual(decoded[3], -.infinity)
        // A finite value that overflows becomes infinity: the error is infinite.
        XCTAssertEqual(encode([1, 70_000], width: 2, .fp16).maxAbsError, .infinity)
    }

    // MARK: - bf16

    func testBF16KnownBitPatterns() {
        let cases: [(UInt32, UInt16, String)] = [
            (0x3f80_0000, 0x3f80, "one"), (0xbfc0_0000, 0xbfc0, "-1.5"),
            (0x3f80_8000, 0x3f80, "tie, even below"), (0x3f81_8000, 0x3f82, "tie, even above"),
            (0x3f80_8001, 0x3f81, "just above a tie"), (0x3f80_7fff, 0x3f80, "just below a tie"),
            (0x3fff_8000, 0x4000, "carry into the exponent"), (0x7f7f_ffff, 0x7f80, "largest Float rounds to infinity"),
            (0xff7f_ffff, 0xff80, "most negative Float rounds to -infinity"), (0x7f7f_0000, 0x7f7f, "largest bfloat16"),
            (0x0000_8000, 0x0000, "subnormal tie to even 0"), (0x0001_8000, 0x0002, "subnormal tie to even 2"),
            (0x0000_0001, 0x0000, "least subnormal rounds to 0"), (0x8000_0000, 0x8000, "negative zero"),
            (0x7f80_0000, 0x7f80, "infinity"), (0xff80_0000, 0xff80, "-infinity"),
        ]
        let bits = halves(cases.map { Float(bitPattern: $0.0) }, .bf16)
        for (i, c) in cases.enumerated() {
            XCTAssertEqual(bits[i], c.1, "\(c.2): 0x\(String(c.0, radix: 16)) → 0x\(String(bits[i], radix: 16))")
        }
        XCTAssertEqual(encode([1], width: 1, .bf16).bytes, [0x80, 0x3f])
        // NaN stays NaN, even one whose payload is only in the low 16 bits (plain rounding would give infinity).
        let nans = halves([Float(bitPattern: 0x7f80_0001), Float(bitPattern: 0xffc0_0000), Float(bitPattern: 0x7fff_ffff)], .bf16)
        XCTAssertEqual(nans, [0x7fc0, 0xffc0, 0x7fff])
    }

    /// Against a reference that picks the nearer of the two neighbouring bfloat16 values in Double arithmetic
    /// (the even one on a tie): random bit patterns over the whole finite range.
    func testBF16MatchesNearestNeighbourReference() {
        var g = SeededGenerator(seed: 11)
        var inputs: [Float] = []
        while inputs.count < 1 << 20 {
            let x = Float(bitPattern: UInt32(truncatingIfNeeded: g.next()))
            if x.isFinite { inputs.append(x) }
        }
        let bits = halves(inputs, .bf16)
        for (x, b) in zip(inputs, bits) {
            let down = x.bitPattern >> 16  // toward zero
            let lo = Double(Float(bitPattern: down << 16))
            // Above the largest bfloat16 the next value up is 2^128 as if the exponent went on (IEEE overflow rule).
            let hi = (down + 1) & 0x7f80 == 0x7f80 ? (x < 0 ? -0x1p128 : 0x1p128) : Double(Float(bitPattern: (down + 1) << 16))
            let dLo = abs(Double(x) - lo), dHi = abs(Double(x) - hi)
            let expected = dLo < dHi || (dLo == dHi && down & 1 == 0) ? down : down + 1
            if UInt32(b) != expected { XCTFail("bf16 0x\(String(x.bitPattern, radix: 16)) → 0x\(String(b, radix: 16)), expected 0x\(String(expected, radix: 16))"); break }
        }
    }

    /// Relative error ≤ 2⁻⁸ (half an ulp of an 8-bit significand) over normal Floats; maxAbsError recomputed.
    func testBF16RoundTripErrorBounds() {
        let values = logUniform(200_000, lo: -120, hi: 120, seed: 2)
        let encoded = encode(values, width: 500, .bf16)
        let decoded = decode(encoded, count: values.count, width: 500, .bf16)
        for (x, d) in zip(values, decoded) where !(abs(d - x) <= abs(x) * 0x1p-8) {
            XCTFail("bf16 \(x) → \(d), relative error \(abs(d - x) / abs(x)) > 2^-8")
            break
        }
        XCTAssertEqual(encoded.maxAbsError, recomputedMaxError(values, decoded))
    }

    // MARK: - int8

    func testInt8KnownRowTiesAndBytes() {
        // maxAbs 127 → scale 1: q = round(x) with ties to even, exactly representable results.
        let row: [Float] = [127, -63.5, 0.5, 1.5, 2.5, -127, 3.2, 0]
        let encoded = encode(row, width: row.count, .int8)
        XCTAssertEqual(encoded.scales, [1])
        XCTAssertEqual(encoded.bytes, [0x7f, 0xc0, 0x00, 0x02, 0x02, 0x81, 0x03, 0x00])  // 127 -64 0 2 2 -127 3 0
        XCTAssertEqual(decode(encoded, count: row.count, width: row.count, .int8), [127, -64, 0, 2, 2, -127, 3, 0])
        XCTAssertEqual(encoded.maxAbsError, 0.5)  // the ties
    }

    /// |q·scale − x| ≤ scale·(1/2 + 2⁻¹⁶): half a step, plus the two Float roundings (x/scale, then q·scale)
    /// of at most 127·2⁻²⁴ steps each. The largest magnitude of each row decodes to ±127·scale.
    func testInt8ErrorWithinHalfAScalePerRow() {
        let width = 768, rows = 300
        var g = SeededGenerator(seed: 3)
        var values = [Float](repeating: 0, count: width * rows)
        for r in 0..<rows {
            let magnitude = Float(exp2(Double(-20 + 40 * g.nextUnitFloat())))  // rows of very different scales
            for i in 0..<width { values[r * width + i] = (g.nextUnitFloat() * 2 - 1) * magnitude }
        }
        let encoded = encode(values, width: width, .int8)
        let decoded = decode(encoded, count: values.count, width: width, .int8)
        XCTAssertEqual(encoded.scales.count, rows)
        for r in 0..<rows {
            let row = values[(r * width)..<((r + 1) * width)]
            let maxAbs = row.map { abs($0) }.max()!
            let scale = encoded.scales[r]
            XCTAssertEqual(scale, maxAbs / 127, "row \(r)")
            let bound = scale * (0.5 + 0x1p-16)
            for i in (r * width)..<((r + 1) * width) where !(abs(decoded[i] - values[i]) <= bound) {
                XCTFail("row \(r): \(values[i]) → \(decoded[i]), error \(abs(decoded[i] - values[i])) > \(bound)")
                break
            }
            let codes = encoded.bytes[(r * width)..<((r + 1) * width)].map { Int8(bitPattern: $0) }
            XCTAssertEqual(codes.map { abs(Int($0)) }.max(), 127, "row \(r): the largest magnitude gets ±127")
        }
        XCTAssertEqual(encoded.maxAbsError, recomputedMaxError(values, decoded))
    }

    func testInt8ZeroRowsTinyRowsAndNonFiniteRows() {
        let width = 4
        let tiny = Float.leastNonzeroMagnitude  // 2^-149
        let values: [Float] = [
            0, 0, -0.0, 0,  // all zero: scale 0, codes 0
            1, -2, 0.5, 4,  // ordinary
            7 * tiny, -2 * tiny, 0, tiny,  // maxAbs/127 underflows: scale is the least subnormal, still exact
            1, .nan, 2, 3,  // cannot be scaled: NaN scale, zeros, decodes to NaN
            .infinity, 1, 2, 3,
        ]
        let encoded = encode(values, width: width, .int8)
        XCTAssertEqual(encoded.scales[0], 0)
        XCTAssertEqual(Array(encoded.bytes[0..<4]), [0, 0, 0, 0])
        XCTAssertEqual(encoded.scales[1], 4.0 / 127)
        XCTAssertEqual(encoded.scales[2], .leastNonzeroMagnitude)
        XCTAssertTrue(encoded.scales[3].isNaN && encoded.scales[4].isNaN)
        XCTAssertEqual(Array(encoded.bytes[12..<20]), [UInt8](repeating: 0, count: 8))
        XCTAssertEqual(encoded.maxAbsError, .infinity, "a lost row makes the block's error infinite")
        let decoded = decode(encoded, count: values.count, width: width, .int8)
        XCTAssertEqual(Array(decoded[0..<4]), [0, 0, 0, 0])
        XCTAssertEqual(Array(decoded[8..<12]), Array(values[8..<12]), "subnormal row is exact in units of 2^-149")
        XCTAssertTrue(decoded[12..<20].allSatisfy(\.isNaN))
        // Without the lost rows the error is the ordinary rows' (≤ half a step of 4/127).
        let finite = encode(Array(values[0..<12]), width: width, .int8)
        XCTAssertLessThanOrEqual(finite.maxAbsError, 2.0 / 127 * (1 + 0x1p-16))
        XCTAssertEqual(finite.maxAbsError, recomputedMaxError(Array(values[0..<12]), Array(decoded[0..<12])))
    }

    // MARK: - All codecs

    func testDecodeReadsUnalignedBytes() {
        let values = logUniform(999, lo: -5, hi: 5, seed: 4)
        for codec in TensorCodec.allCases {
            let encoded = encode(values, width: 333, codec)
            let expected = decode(encoded, count: values.count, width: 333, codec)
            let shifted = [0xAA] + encoded.bytes  // the encoding starts at an odd address
            var out = [Float](repeating: 0, count: values.count)
            shifted.withUnsafeBytes { raw in
                encoded.scales.withUnsafeBufferPointer { scales in
                    out.withUnsafeMutableBufferPointer {
                        RowCodec.decode(UnsafeRawBufferPointer(rebasing: raw[1...]), scales: codec == .int8 ? scales : nil,
                                        width: 333, codec: codec, into: $0)
                    }
                }
            }
            XCTAssertEqual(out, expected, "\(codec)")
        }
    }

    /// Prints MB/s of Float data encoded and decoded on one thread; no timed assertion (machines differ).
    func testThroughputPrint() {
        #if DEBUG
        let rows = 1024  // unoptimised code: a smaller block, so the suite stays quick
        #else
        let rows = 8192  // 12 MiB of Floats: a block of hidden states
        #endif
        let width = 384
        let values = logUniform(width * rows, lo: -8, hi: 4, seed: 5)
        let megabytes = Double(values.count * 4) / 1_000_000
        var out = [Float](repeating: 0, count: values.count)
        var lines: [String] = []
        for codec in TensorCodec.allCases {
            var encoded = encode(values, width: width, codec)  // warm-up
            var encodeSeconds = Double.infinity, decodeSeconds = Double.infinity
            for _ in 0..<3 {
                let start = DispatchTime.now().uptimeNanoseconds
                encoded = encode(values, width: width, codec)
                let middle = DispatchTime.now().uptimeNanoseconds
                encoded.bytes.withUnsafeBytes { bytes in
                    encoded.scales.withUnsafeBufferPointer { scales in
                        out.withUnsafeMutableBufferPointer { RowCodec.decode(bytes, scales: scales, width: width, codec: codec, into: $0) }
                    }
                }
                let end = DispatchTime.now().uptimeNanoseconds
                encodeSeconds = min(encodeSeconds, Double(middle - start) / 1e9)
                decodeSeconds = min(decodeSeconds, Double(end - middle) / 1e9)
            }
            XCTAssertLessThanOrEqual(recomputedMaxError(values, out), encoded.maxAbsError)
            lines.append(String(format: "[throughput] RowCodec %@: encode %.0f MB/s, decode %.0f MB/s (of Float data)",
                                codec.rawValue, megabytes / encodeSeconds, megabytes / decodeSeconds))
        }
        #if DEBUG
        lines.append("[throughput] (debug build: run with -c release for representative figures)")
        #endif
        print(lines.joined(separator: "\n"))
    }
}

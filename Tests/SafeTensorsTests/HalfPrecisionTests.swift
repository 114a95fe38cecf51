import XCTest
@testable import SafeTensors

/// Conversions against numpy (float16) and PyTorch (bfloat16) bit patterns in
/// HalfPrecisionReference.swift, and exhaustive self-consistency checks.
final class HalfPrecisionTests: XCTestCase {
    func testNarrowingMatchesReference() {
        var failures = 0
        for row in halfPrecisionReference {
            let value = Float(bitPattern: row.float)
            let half = HalfPrecision.half(from: value)
            let bfloat = HalfPrecision.bfloat16(from: value)
            if value.isNaN {
                // Payload bits differ between numpy and hardware; NaN must stay NaN.
                XCTAssertTrue(HalfPrecision.float(fromHalf: half).isNaN, "float16 of NaN 0x\(String(row.float, radix: 16))")
                XCTAssertTrue(HalfPrecision.float(fromBFloat16: bfloat).isNaN, "bfloat16 of NaN 0x\(String(row.float, radix: 16))")
                continue
            }
            if half != row.half || bfloat != row.bfloat16 {
                failures += 1
                if failures <= 5 {
                    XCTFail("\(value) (0x\(String(row.float, radix: 16))): float16 0x\(String(half, radix: 16)) "
                            + "vs numpy 0x\(String(row.half, radix: 16)), bfloat16 0x\(String(bfloat, radix: 16)) "
                            + "vs torch 0x\(String(row.bfloat16, radix: 16))")
                }
            }
        }
        XCTAssertEqual(failures, 0, "of \(halfPrecisionReference.count) reference rows")
        XCTAssertGreaterThan(halfPrecisionReference.count, 400)
    }

    func testEdgeValues() {
        XCTAssertEqual(HalfPrecision.half(from: 65504), 0x7BFF)          // largest finite
        XCTAssertEqual(HalfPrecision.half(from: 65520), 0x7C00)          // tie above it rounds to infinity
        XCTAssertEqual(HalfPrecision.half(from: 0x1p-24), 0x0001)        // smallest subnormal
        XCTAssertEqual(HalfPrecision.half(from: 0x1p-25), 0x0000)        // tie: to even (zero)
        XCTAssertEqual(HalfPrecision.half(from: 3 * 0x1p-25), 0x0002)    // tie 1.5 units: to even (2)
        XCTAssertEqual(HalfPrecision.half(from: 1 + 0x1p-11), 0x3C00)    // tie: to even (1.0)
        XCTAssertEqual(HalfPrecision.half(from: 1 + 3 * 0x1p-11), 0x3C02) // tie: to even, up
        XCTAssertEqual(HalfPrecision.half(from: -.infinity), 0xFC00)
        XCTAssertEqual(HalfPrecision.half(from: -0.0), 0x8000)
        XCTAssertEqual(HalfPrecision.float(fromHalf: 0x0001), 0x1p-24)
        XCTAssertEqual(HalfPrecision.float(fromHalf: 0x03FF), 1023 * 0x1p-24) // largest subnormal
        XCTAssertEqual(HalfPrecision.float(fromHalf: 0xFC00), -.infinity)
        XCTAssertTrue(HalfPrecision.float(fromHalf: 0x7C01).isNaN)
        XCTAssertEqual(HalfPrecision.bfloat16(from: .greatestFiniteMagnitude), 0x7F80) // rounds up to infinity
        XCTAssertEqual(HalfPrecision.bfloat16(from: Float(bitPattern: 0x3F80_8000)), 0x3F80) // tie: to even
        XCTAssertEqual(HalfPrecision.bfloat16(from: Float(bitPattern: 0x3F81_8000)), 0x3F82) // tie: to even, up
        XCTAssertTrue(HalfPrecision.float(fromBFloat16: HalfPrecision.bfloat16(from: .nan)).isNaN)
        XCTAssertTrue(HalfPrecision.float(fromBFloat16: HalfPrecision.bfloat16(from: Float(bitPattern: 0x7F80_0001))).isNaN)
    }

    /// Every float16 widens and narrows back to itself (NaNs to a NaN).
    func testAllHalvesRoundTrip() {
        for bits in 0...UInt16.max {
            let value = HalfPrecision.float(fromHalf: bits)
            if value.isNaN {
                XCTAssertTrue(HalfPrecision.float(fromHalf: HalfPrecision.half(from: value)).isNaN)
            } else if HalfPrecision.half(from: value) != bits {
                XCTFail("0x\(String(bits, radix: 16)) → \(value) → 0x\(String(HalfPrecision.half(from: value), radix: 16))")
            }
        }
    }

    #if !(os(macOS) && arch(x86_64))
    /// Against the standard library's Float16, where it exists: every float16 widening, and
    /// float32 narrowing on a stride through all 2^32 bit patterns.
    func testAgreesWithStandardLibraryFloat16() {
        for bits in 0...UInt16.max {
            let ours = HalfPrecision.float(fromHalf: bits), theirs = Float(Float16(bitPattern: bits))
            XCTAssertTrue(ours.bitPattern == theirs.bitPattern || (ours.isNaN && theirs.isNaN), "0x\(String(bits, radix: 16))")
        }
        var mismatches = 0
        for bits in stride(from: UInt32(0), to: UInt32.max - 1021, by: 1021) {
            let value = Float(bitPattern: bits)
            let ours = HalfPrecision.half(from: value), theirs = Float16(value).bitPattern
            if ours != theirs && !value.isNaN {
                mismatches += 1
                if mismatches <= 5 { XCTFail("0x\(String(bits, radix: 16)): 0x\(String(ours, radix: 16)) vs Float16 0x\(String(theirs, radix: 16))") }
            }
        }
        XCTAssertEqual(mismatches, 0)
    }
    #endif
}

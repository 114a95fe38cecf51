import HalfFloat
import XCTest

/// Conversions against numpy (float16) and PyTorch (bfloat16) bit patterns in
/// HalfPrecisionReference.swift, and exhaustive self-consistency checks.
final class HalfPrecisionTests: XCTestCase {
    func testNarrowingMatchesReference() {
        var failures = 0
        for row in halfPrecisionReference {
            let value = Float(bitPattern: row.float)
            let half = HalfFloat.half(value)
            let bfloat = HalfFloat.bfloat16(value)
            if value.isNaN {
                // Payload bits differ between numpy and hardware; NaN must stay NaN.
                XCTAssertTrue(HalfFloat.float(half: half).isNaN, "float16 of NaN 0x\(String(row.float, radix: 16))")
                XCTAssertTrue(HalfFloat.float(bfloat16: bfloat).isNaN, "bfloat16 of NaN 0x\(String(row.float, radix: 16))")
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
        XCTAssertEqual(HalfFloat.half(65504), 0x7BFF)          // largest finite
        XCTAssertEqual(HalfFloat.half(65520), 0x7C00)          // tie above it rounds to infinity
        XCTAssertEqual(HalfFloat.half(0x1p-24), 0x0001)        // smallest subnormal
        XCTAssertEqual(HalfFloat.half(0x1p-25), 0x0000)        // tie: to even (zero)
        XCTAssertEqual(HalfFloat.half(3 * 0x1p-25), 0x0002)    // tie 1.5 units: to even (2)
        XCTAssertEqual(HalfFloat.half(1 + 0x1p-11), 0x3C00)    // tie: to even (1.0)
        XCTAssertEqual(HalfFloat.half(1 + 3 * 0x1p-11), 0x3C02) // tie: to even, up
        XCTAssertEqual(HalfFloat.half(-.infinity), 0xFC00)
        XCTAssertEqual(HalfFloat.half(-0.0), 0x8000)
        XCTAssertEqual(HalfFloat.float(half: 0x0001), 0x1p-24)
        XCTAssertEqual(HalfFloat.float(half: 0x03FF), 1023 * 0x1p-24) // largest subnormal
        XCTAssertEqual(HalfFloat.float(half: 0xFC00), -.infinity)
        XCTAssertTrue(HalfFloat.float(half: 0x7C01).isNaN)
        XCTAssertEqual(HalfFloat.bfloat16(.greatestFiniteMagnitude), 0x7F80) // rounds up to infinity
        XCTAssertEqual(HalfFloat.bfloat16(Float(bitPattern: 0x3F80_8000)), 0x3F80) // tie: to even
        XCTAssertEqual(HalfFloat.bfloat16(Float(bitPattern: 0x3F81_8000)), 0x3F82) // tie: to even, up
        XCTAssertTrue(HalfFloat.float(bfloat16: HalfFloat.bfloat16(.nan)).isNaN)
        XCTAssertTrue(HalfFloat.float(bfloat16: HalfFloat.bfloat16(Float(bitPattern: 0x7F80_0001))).isNaN)
    }

    /// Every float16 widens and narrows back to itself (NaNs to a NaN).
    func testAllHalvesRoundTrip() {
        for bits in 0...UInt16.max {
            let value = HalfFloat.float(half: bits)
            if value.isNaN {
                XCTAssertTrue(HalfFloat.float(half: HalfFloat.half(value)).isNaN)
            } else if HalfFloat.half(value) != bits {
                XCTFail("0x\(String(bits, radix: 16)) → \(value) → 0x\(String(HalfFloat.half(value), radix: 16))")
            }
        }
    }

    #if !(os(macOS) && arch(x86_64))
    /// Against the standard library's Float16, where it exists: every float16 widening, and
    /// float32 narrowing on a stride through all 2^32 bit patterns.
    func testAgreesWithStandardLibraryFloat16() {
        for bits in 0...UInt16.max {
            let ours = HalfFloat.float(half: bits), theirs = Float(Float16(bitPattern: bits))
            XCTAssertTrue(ours.bitPattern == theirs.bitPattern || (ours.isNaN && theirs.isNaN), "0x\(String(bits, radix: 16))")
        }
        var mismatches = 0
        for bits in stride(from: UInt32(0), to: UInt32.max - 1021, by: 1021) {
            let value = Float(bitPattern: bits)
            let ours = HalfFloat.half(value), theirs = Float16(value).bitPattern
            if ours != theirs && !value.isNaN {
                mismatches += 1
                if mismatches <= 5 { XCTFail("0x\(String(bits, radix: 16)): 0x\(String(ours, radix: 16)) vs Float16 0x\(String(theirs, radix: 16))") }
            }
        }
        XCTAssertEqual(mismatches, 0)
    }
    #endif
}

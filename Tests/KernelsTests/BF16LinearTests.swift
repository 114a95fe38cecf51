import Foundation
import TestSupport
import XCTest
import HalfFloat
@testable import Kernels

/// The bf16 linear layer against the fp32 one. bf16 keeps 8 bits of mantissa: each input and
/// weight is off by up to 2⁻⁹ relative, and with K products of random sign the errors add like a
/// random walk, so on O(1) inputs the result is off by ~2⁻⁸·√K·|x||w| — about 2e-3 of the largest
/// output here (measured the same in scripts/bench/gemm_probe.c). We allow 1e-2 of the largest
/// |output|; a wrong layout or transposition gives errors of its full size.
final class BF16LinearTests: XCTestCase {
    func testMatchesTheFP32LinearLayerWithinBF16Rounding() throws {
        if let reason = Precision.bf16.unsupportedReason { throw XCTSkip(reason) }
        var rng = SeededRandom(seed: 11)
        for (rows, k, n) in [(1, 32, 96), (7, 64, 37), (200, 384, 1536), (33, 1536, 384)] {
            let x = rng.floats(rows * k), w = rng.floats(n * k), b = rng.floats(n)
            var expected = [Float](repeating: 0, count: rows * n), actual = [Float](repeating: .nan, count: rows * n)
            linearForward(&expected, x, w, b, rows: rows, inFeatures: k, outFeatures: n)
            let layer = BF16Linear(weight: w, outFeatures: n, inFeatures: k)
            layer.forward(&actual, x, b, rows: rows)
            layer.forward(&actual, x, b, rows: rows)  // the cached primitive gives the same
            let scale = expected.map(abs).max()!, worst = zip(actual, expected).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(worst, 1e-2 * scale, "\(rows)×\(k)×\(n): max error \(worst), largest output \(scale)")
            print("bf16 linear \(rows)×\(k)×\(n): max error \(worst / scale) of the largest output")
        }
    }

    /// Bias and GELU inside the product (inference's intermediate layer) against the fp32 layer and
    /// our GELU: GELU's slope is at most 1.13, so the same 1e-2 of the largest pre-activation holds.
    func testFusedBiasAndGELU() throws {
        if let reason = Precision.bf16.unsupportedReason { throw XCTSkip(reason) }
        var rng = SeededRandom(seed: 12)
        let (rows, k, n) = (70, 96, 384)
        let x = rng.floats(rows * k), w = rng.floats(n * k), b = rng.floats(n)
        var pre = [Float](repeating: 0, count: rows * n), expected = pre, actual = [Float](repeating: .nan, count: rows * n)
        linearForward(&pre, x, w, b, rows: rows, inFeatures: k, outFeatures: n)
        geluForward(&expected, pre, count: rows * n)
        BF16Linear(weight: w, outFeatures: n, inFeatures: k).forward(&actual, x, b, rows: rows, gelu: true)
        let scale = pre.map(abs).max()!, worst = zip(actual, expected).map { abs($0 - $1) }.max()!
        XCTAssertLessThanOrEqual(worst, 1e-2 * scale, "max error \(worst), largest pre-activation \(scale)")
    }

    /// The bf16 hand-off between two layers (`forwardToBFloat16`, then `forward(bfloat16:)`) gives
    /// the same bits as fp32 outputs rounded to nearest even, and the next layer the same bits as
    /// from the fp32 input it would round.
    func testBFloat16OutputIsTheRoundedFP32Output() throws {
        if let reason = Precision.bf16.unsupportedReason { throw XCTSkip(reason) }
        var rng = SeededRandom(seed: 13)
        let (rows, k, n, m) = (70, 96, 384, 64)
        let x = rng.floats(rows * k), w = rng.floats(n * k), b = rng.floats(n), w2 = rng.floats(m * n)
        let first = BF16Linear(weight: w, outFeatures: n, inFeatures: k), second = BF16Linear(weight: w2, outFeatures: m, inFeatures: n)
        var fp32 = [Float](repeating: .nan, count: rows * n)
        first.forward(&fp32, x, b, rows: rows, gelu: true)
        let bits = first.forwardToBFloat16(x, b, rows: rows, gelu: true)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: bits, count: rows * n)), fp32.map(HalfFloat.bfloat16))
        var fromFloat = [Float](repeating: .nan, count: rows * m), fromBits = fromFloat
        second.forward(&fromFloat, fp32, nil, rows: rows)
        second.forward(&fromBits, bfloat16: bits, nil, rows: rows)
        XCTAssertEqual(fromBits, fromFloat)
    }

    func testAMissingCPUFeatureIsNamed() {
        setenv("DISTILLERY_FAULT_NO_BF16", "1", 1)
        defer { unsetenv("DISTILLERY_FAULT_NO_BF16") }
        XCTAssertTrue(Precision.bf16.unsupportedReason?.contains("AVX-512 BF16") == true)
        XCTAssertNil(Precision.fp32.unsupportedReason)
    }
}

import Foundation
import TestSupport
import XCTest
import HalfFloat
@testable import Kernels

/// The packed linear layer of inference against `linearForward` (OpenBLAS) and `geluForward`.
///
/// fp32: the same products summed in another order (oneDNN's tiles, OpenBLAS's blocks), so each
/// output may differ by the rounding of its sum: a few ulp of Σ|x||w| (K·2⁻²⁴ at the very worst; we
/// allow 1e-5 of Σ|x||w| + |b|, as for `BF16Matmul`). A wrong layout or transposition is off by
/// the output's whole size. oneDNN's GELU (erf) and ours are both within ~1e-7, well inside that.
///
/// bf16: bf16 keeps 8 bits of mantissa: each input and
/// weight is off by up to 2⁻⁹ relative, and with K products of random sign the errors add like a
/// random walk, so on O(1) inputs the result is off by ~2⁻⁸·√K·|x||w| — about 2e-3 of the largest
/// output here (measured the same in scripts/bench/gemm_probe.c). We allow 1e-2 of the largest
/// |output|; a wrong layout or transposition gives errors of its full size.
final class PackedLinearTests: XCTestCase {
    override func tearDown() {
        Threads.configure(1)
    }

    func testFP32MatchesOpenBLASUpToTheOrderOfTheSums() {
        var rng = SeededRandom(seed: 10)
        for (rows, k, n) in [(1, 32, 96), (7, 64, 37), (200, 384, 1536), (33, 1536, 384)] {
            let x = rng.floats(rows * k), w = rng.floats(n * k), b = rng.floats(n)
            for gelu in [false, true] {
                var pre = [Float](repeating: 0, count: rows * n), expected = pre, actual = [Float](repeating: .nan, count: rows * n)
                linearForward(&pre, x, w, b, rows: rows, inFeatures: k, outFeatures: n)
                if gelu { geluForward(&expected, pre, count: rows * n) } else { expected = pre }
                let layer = PackedLinear(weight: w, outFeatures: n, inFeatures: k, precision: .fp32)
                layer.forward(&actual, x, b, rows: rows, gelu: gelu)
                for r in 0..<rows {
                    for j in 0..<n {
                        var magnitude = abs(b[j])
                        for i in 0..<k { magnitude += abs(x[r * k + i] * w[j * k + i]) }
                        let error = abs(actual[r * n + j] - expected[r * n + j])
                        if !(error <= 1e-5 * magnitude) {
                            return XCTFail("\(rows)×\(k)×\(n) gelu \(gelu) [\(r), \(j)]: packed \(actual[r * n + j]), OpenBLAS \(expected[r * n + j]), Σ|x||w| + |b| \(magnitude)")
                        }
                    }
                }
            }
        }
    }

    /// oneDNN splits a product into tiles of the output over its threads, never the sums: the teacher
    /// gives the same bits on any thread count (a cache resumed with other --threads continues it exactly).
    func testTheSameBitsOnAnyThreadCount() throws {
        var rng = SeededRandom(seed: 14)
        var precisions: [Precision] = [.fp32]
        if Precision.bf16.unsupportedReason == nil { precisions.append(.bf16) }
        for precision in precisions {
            for (rows, k, n) in [(2048, 384, 1536), (4096, 1536, 384), (61, 384, 1152)] {
                let x = rng.floats(rows * k), w = rng.floats(n * k), b = rng.floats(n)
                let layer = PackedLinear(weight: w, outFeatures: n, inFeatures: k, precision: precision)
                var results: [[Float]] = []
                for threads in [1, 2, 3] {
                    Threads.configure(threads)
                    var out = [Float](repeating: .nan, count: rows * n)
                    layer.forward(&out, x, b, rows: rows, gelu: true)
                    results.append(out)
                }
                XCTAssertEqual(results[0], results[1], "\(precision) \(rows)×\(k)×\(n): 1 thread against 2")
                XCTAssertEqual(results[0], results[2], "\(precision) \(rows)×\(k)×\(n): 1 thread against 3")
            }
        }
    }

    func testMatchesTheFP32LinearLayerWithinBF16Rounding() throws {
        if let reason = Precision.bf16.unsupportedReason { throw XCTSkip(reason) }
        var rng = SeededRandom(seed: 11)
        for (rows, k, n) in [(1, 32, 96), (7, 64, 37), (200, 384, 1536), (33, 1536, 384)] {
            let x = rng.floats(rows * k), w = rng.floats(n * k), b = rng.floats(n)
            var expected = [Float](repeating: 0, count: rows * n), actual = [Float](repeating: .nan, count: rows * n)
            linearForward(&expected, x, w, b, rows: rows, inFeatures: k, outFeatures: n)
            let layer = PackedLinear(weight: w, outFeatures: n, inFeatures: k, precision: .bf16)
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
        PackedLinear(weight: w, outFeatures: n, inFeatures: k, precision: .bf16).forward(&actual, x, b, rows: rows, gelu: true)
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
        let first = PackedLinear(weight: w, outFeatures: n, inFeatures: k, precision: .bf16), second = PackedLinear(weight: w2, outFeatures: m, inFeatures: n, precision: .bf16)
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

import XCTest
@testable import Kernels

/// OpenBLAS's kernel choice is replaced only when it fell back to kernels older than AVX2 on a CPU
/// that has AVX2 and FMA; its own choice stands everywhere else.
final class BLASCoreTests: XCTestCase {
    let avx2: Set<String> = ["sse4_2", "avx", "avx2", "fma"]
    var avx512: Set<String> { avx2.union(["avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512_bf16"]) }

    func testAnUnrecognisedCPUGetsTheWidestKernelsItCanRun() {
        // An Emerald Rapids Xeon (model 207) under Debian's OpenBLAS 0.3.21: "Prescott".
        XCTAssertEqual(BLASCore.replacement(detected: "Prescott", flags: avx512), "SkylakeX")
        XCTAssertEqual(BLASCore.replacement(detected: "Nehalem", flags: avx2), "Haswell")
        XCTAssertEqual(BLASCore.replacement(detected: "Sandybridge", flags: avx2), "Haswell")
    }

    func testARecognisedCPUKeepsOpenBLASsChoice() {
        for core in ["Haswell", "SkylakeX", "Cooperlake", "Zen", "SapphireRapids"] {
            XCTAssertNil(BLASCore.replacement(detected: core, flags: avx512), core)
        }
    }

    func testACPUWithoutAVX2KeepsOpenBLASsChoice() {
        XCTAssertNil(BLASCore.replacement(detected: "Prescott", flags: ["sse4_2", "avx"]))
        XCTAssertNil(BLASCore.replacement(detected: "Prescott", flags: ["avx2"]))
    }

    /// This process's own OpenBLAS names a kernel set (tests run without the CLI's restart, so it is
    /// OpenBLAS's own guess or `OPENBLAS_CORETYPE`).
    func testTheCurrentCoreHasAName() {
        XCTAssertFalse(BLASCore.current.isEmpty)
    }
}

import CBLAS
import Foundation

/// Which of OpenBLAS's kernel sets this process runs, and a better one when OpenBLAS guessed wrong.
///
/// Debian's OpenBLAS (0.3.21) picks its kernels by CPU model number. A CPU newer than the library
/// (an Emerald Rapids Xeon, model 207, seen on this project's machines) is not in its tables and
/// falls back to "Prescott", SSE3 kernels from 2004: sgemm ran at 36 GFLOP/s there against 151 with
/// the SkylakeX kernels the same CPU can run. OpenBLAS reads `OPENBLAS_CORETYPE` once, when it is
/// loaded, so the CLI sets it before starting itself again (see `DistilleryCommand.main`).
public enum BLASCore {
    /// The kernel set OpenBLAS chose in this process (`openblas_get_corename`).
    public static var current: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// OpenBLAS's kernel sets older than AVX2: on a CPU with AVX2 and FMA, choosing one of these
    /// means OpenBLAS did not recognise the CPU.
    static let preAVX2 = ["prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai", "coppermine",
                          "northwood", "banias", "opteron", "barcelona", "bobcat", "bulldozer", "piledriver",
                          "steamroller", "excavator", "sandybridge", "unknown"]

    /// The kernel set to ask OpenBLAS for instead of `detected`, or nil when its own choice stands:
    /// SkylakeX on a CPU with AVX-512 (F, BW, DQ, VL), Haswell on one with AVX2 and FMA, and only
    /// when OpenBLAS fell back to a set older than AVX2. `flags` are /proc/cpuinfo's.
    public static func replacement(detected: String, flags: Set<String>) -> String? {
        guard preAVX2.contains(detected.lowercased()), flags.isSuperset(of: ["avx2", "fma"]) else { return nil }
        return flags.isSuperset(of: ["avx512f", "avx512bw", "avx512dq", "avx512vl"]) ? "SkylakeX" : "Haswell"
    }
}

import CDNNL
import Foundation

/// The arithmetic of the matrix products: fp32, or bf16 inputs with fp32 accumulation and output
/// on AVX-512 BF16 (oneDNN's matmul primitive). Everything else — LayerNorm, softmax, GELU,
/// residuals, losses — stays fp32 either way.
public enum Precision: String, Codable, CaseIterable, Sendable {
    case fp32, bf16

    /// Why this CPU cannot run `self` (nil when it can): bf16 needs AVX-512 BF16, which oneDNN
    /// reports as its effective ISA. `DISTILLERY_FAULT_NO_BF16=1` pretends it is missing (tests).
    public var unsupportedReason: String? {
        guard self == .bf16 else { return nil }
        let isa = dnnl_get_effective_cpu_isa().rawValue, bf16 = dnnl_cpu_isa_avx512_core_bf16.rawValue
        if ProcessInfo.processInfo.environment["DISTILLERY_FAULT_NO_BF16"] == "1" || isa & bf16 != bf16 {
            return "--precision bf16 needs a CPU with AVX-512 BF16 (avx512_bf16 in /proc/cpuinfo), which this one lacks; use --precision fp32"
        }
        return nil
    }
}

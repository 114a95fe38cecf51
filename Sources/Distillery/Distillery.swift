import ArgumentParser
import Foundation
import Kernels
import TeacherCache

@main
struct DistilleryCommand: ParsableCommand {
    static let version = DistilleryVersion.current
    static let configuration = CommandConfiguration(
        commandName: "distillery",
        abstract: "Distil BERT-family models through an offline teacher cache.",
        discussion: """
        Stage one runs the teacher once and caches what students learn from; stage two trains \
        many students from that cache without the teacher. See README.md for a walk-through.
        """,
        version: version,
        subcommands: [CacheCommand.self, TrainCommand.self, FinetuneCommand.self, TedFiltersCommand.self, PlanCommand.self, RunCommand.self, InspectCommand.self, VerifyCommand.self, TokenizeCommand.self, ForwardCommand.self, BenchCommand.self]
    )

    static func main() {
        let cpuinfo = CPUFeatures.cpuinfo
        CPUFeatures.check(cpuinfo)
        startAgainWithLibrarySettings(cpuFlags: CPUFeatures.flags(cpuinfo: cpuinfo))
        main(nil)
    }

    /// Two libraries read settings from the environment once, when the process loads them, so
    /// the process starts itself again with them set, unless the environment already names them
    /// (if starting again fails it goes on as it is):
    /// - OMP_WAIT_POLICY=passive: by default OpenMP's workers (oneDNN's bf16 products) spin after
    ///   each product, taking the cores from our own kernels in between (the bf16 teacher measured
    ///   12.6k tokens/s spinning, 16.8k passive);
    /// - OPENBLAS_CORETYPE, only where OpenBLAS did not recognise the CPU and fell back to kernels
    ///   older than AVX2 (`BLASCore`; 4× slower sgemm).
    private static func startAgainWithLibrarySettings(cpuFlags: Set<String>?) {
        var changed = false
        if getenv("OMP_WAIT_POLICY") == nil {
            setenv("OMP_WAIT_POLICY", "passive", 1)
            changed = true
        }
        if getenv("OPENBLAS_CORETYPE") == nil, let flags = cpuFlags,
           let core = BLASCore.replacement(detected: BLASCore.current, flags: flags) {
            setenv("OPENBLAS_CORETYPE", core, 1)
            changed = true
        }
        if changed { execv("/proc/self/exe", CommandLine.unsafeArgv) }
    }
}

/// Options shared by every command that loads a model.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "A Hugging Face BERT folder: config.json, model.safetensors, vocab.txt (tokenizer_config.json optional).")
    var model: String
}

extension Precision: ExpressibleByArgument {}

/// `--precision` of the commands that run a model forward (teacher inference).
struct PrecisionOptions: ParsableArguments {
    @Option(help: "Matrix products: fp32, or bf16 inputs with fp32 accumulation (needs AVX-512 BF16).") var precision: Precision = .fp32

    func validate() throws {
        if let reason = precision.unsupportedReason { throw ValidationError(reason) }
    }
}

struct ThreadOptions: ParsableArguments {
    @Option(name: .long, help: "Threads for BLAS and the kernels (default: all cores).")
    var threads: Int?

    func apply() { Threads.configure(threads ?? Threads.available) }

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }
}

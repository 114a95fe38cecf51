import ArgumentParser
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
}

/// Options shared by every command that loads a model.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "A Hugging Face BERT folder: config.json, model.safetensors, vocab.txt (tokenizer_config.json optional).")
    var model: String
}

struct ThreadOptions: ParsableArguments {
    @Option(name: .long, help: "Threads for BLAS and the kernels (default: all cores).")
    var threads: Int?

    func apply() { Threads.configure(threads ?? Threads.available) }

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }
}

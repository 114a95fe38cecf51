import ArgumentParser
import Bert
import Datasets
import Distillation
import Foundation
import Kernels
import Logging
import TeacherCache

/// `distillery cache`: stage one (`cache build`, the default, so `distillery cache --teacher …`
/// runs it) and joining shard files (`cache merge`), each with its own options.
struct CacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "Run the teacher once over a dataset and store what students learn from (compressed HDF5).",
        discussion: "`distillery cache [build] --teacher … --data … --out …` caches; `distillery cache merge SHARD… --out OUT` joins shards.",
        subcommands: [CacheBuildCommand.self, CacheMergeCommand.self],
        defaultSubcommand: CacheBuildCommand.self
    )
}

/// `distillery cache [build]`: stage one.
struct CacheBuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Run the teacher once over a dataset and store what students learn from (compressed HDF5); the default of `distillery cache`.",
        discussion: """
        Layers: hidden states 0 (embeddings output) … L; attention and relations (Q/K/V) 1 … L. \
        Lists are comma-separated numbers, or `all`, or `last`. The file is written as OUT.partial \
        and renamed when complete; an interrupted run continues with --resume. Look at the result \
        with `distillery inspect OUT` and check it with `distillery verify OUT`. \
        Past one machine: `--shard I/N` (I from 1 to N) caches the I-th contiguous slice of the \
        examples; `distillery cache merge SHARD… --out OUT` joins the shard files into one cache \
        of HDF5 virtual datasets, equal value for value to a single run.
        """
    )

    @Option(help: "Teacher: a Hugging Face BERT folder (config.json, model.safetensors, vocab.txt).")
    var teacher: String
    @Option(name: .customLong("data"), help: "Dataset file (JSON Lines, TSV or CSV); repeat for several files.")
    var data: [String]
    @Option(help: "Output cache file (.h5).")
    var out: String

    @OptionGroup var fields: DataFieldOptions

    @Option(help: "A YAML cache spec (the pipelines' `cache:` block, snake_case keys); the flags below override it.")
    var spec: String?
    // The settings of the spec: help and default from `CacheSpec.settings` (the keys are named
    // there, with the flag each has).
    @Option(help: cache("max_length")) var maxLength: Int?
    @Option(help: cache("batch_size")) var batchSize: Int?
    @Option(help: cache("hidden_layers", usage: "e.g. 0,3,6, all or last")) var hidden: LayerList?
    @Option(help: cache("attention_layers", usage: "e.g. 6, all or last")) var attention: LayerList?
    @Option(help: cache("relation_layers", usage: "e.g. 6, all or last")) var relations: LayerList?
    @Option(parsing: .upToNextOption, help: cache("logits"))
    var logits: [CacheSpec.LogitsForm] = []
    @Option(help: cache("top_k")) var topK: Int?
    @Option(help: cache("sampled_draws")) var sampledDraws: Int?
    @Option(help: cache("sampled_temperature")) var sampledTemperature: Float?
    @Option(help: cache("seed")) var seed: UInt64?
    @Option(help: cache("mask_views")) var maskViews: Int?
    @Option(help: cache("masking.probability")) var maskProbability: Float?
    @Option(help: cache("codecs.hidden")) var hiddenCodec: TensorCodec?
    @Option(help: cache("codecs.attention")) var attentionCodec: TensorCodec?
    @Option(help: cache("codecs.relations")) var relationsCodec: TensorCodec?
    @Option(help: cache("codecs.logits")) var logitsCodec: TensorCodec?
    @Option(help: cache("compression")) var compression: CacheSpec.CacheCompression?
    @Option(help: cache("compression_level")) var level: Int?
    @Option(help: cache("chunk_bytes")) var chunkBytes: Int?
    @Option(help: cache("commit_every")) var commitEvery: Int?
    @Option(help: cache("precision")) var precision: Precision?
    @Flag(help: "Continue an interrupted run from OUT.partial.") var resume = false
    @Flag(help: "Replace OUT if it exists.") var overwrite = false
    @Option(help: "Cache only shard I of N (I from 1 to N, e.g. 2/4): a contiguous slice of the examples, in data order after skipped rows. Join the shards with `distillery cache merge`.")
    var shard: String?
    @OptionGroup var threads: ThreadOptions

    func validate() throws {
        if resume && overwrite { throw ValidationError("--resume and --overwrite exclude each other") }
        _ = try shardSelection()
    }

    private func shardSelection() throws -> ShardSelection? {
        guard let shard else { return nil }
        do { return try ShardSelection(parsing: shard) } catch CacheError.invalidSpec(let why) { throw ValidationError(why) }
    }

    func run() throws {
        threads.apply()
        let logger = Logger(label: "distillery.cache")
        let spec = try resolvedSpec(teacher: teacher)
        var request = CacheRequest(teacher: URL(fileURLWithPath: teacher), data: data.map { URL(fileURLWithPath: $0) },
                                   readOptions: fields.readOptions, spec: spec, output: URL(fileURLWithPath: out))
        request.resume = resume
        request.overwrite = overwrite
        request.shard = try shardSelection()
        let bar = ProgressReporter(label: "cache")
        let summary = try CacheBuilder.build(request, logger: logger) { p in
            bar.update(done: p.sequencesDone, total: p.sequencesTotal, rate: p.tokensPerSecond, unit: "tokens/s")
        }
        bar.finish()
        print(String(format: "wrote %@: %d sequences, %d tokens in %.1f s (teacher forward %.1f s, %.2f× of the wall time)%@",
                     summary.output.path, summary.sequences, summary.tokens, summary.wallSeconds, summary.teacherSeconds,
                     summary.wallSeconds / max(summary.teacherSeconds, 1e-9),
                     summary.rowsSkipped > 0 ? ", \(summary.rowsSkipped) bad rows skipped" : ""))
    }

    /// The YAML spec (or the defaults) with every given flag applied on top.
    private func resolvedSpec(teacher: String) throws -> CacheSpec {
        var s = try spec.map { try CacheSpec.load(yaml: URL(fileURLWithPath: $0)) } ?? CacheSpec()
        let layers = try teacherDepth(teacher)
        func set<T>(_ value: T?, _ keyPath: WritableKeyPath<CacheSpec, T>) { if let value { s[keyPath: keyPath] = value } }
        set(maxLength, \.maxLength); set(batchSize, \.batchSize)
        set(hidden?.resolve(last: layers, first: 0), \.hiddenLayers)
        set(attention?.resolve(last: layers, first: 1), \.attentionLayers)
        set(relations?.resolve(last: layers, first: 1), \.relationLayers)
        if !logits.isEmpty { s.logits = logits }
        set(topK, \.topK); set(sampledDraws, \.sampledDraws); set(sampledTemperature, \.sampledTemperature)
        if let seed { s.seed = seed; s.masking.seed = seed }
        set(maskViews, \.maskViews); set(maskProbability, \.masking.probability)
        set(hiddenCodec, \.codecs.hidden); set(attentionCodec, \.codecs.attention)
        set(relationsCodec, \.codecs.relations); set(logitsCodec, \.codecs.logits)
        set(compression, \.compression); set(level, \.compressionLevel); set(chunkBytes, \.chunkBytes); set(commitEvery, \.commitEvery)
        set(precision, \.precision)
        return s
    }

}

/// The help of a cache setting's flag, from `CacheSpec.settings` (default included; the enum
/// flags' values are listed by ArgumentParser).
private func cache(_ path: String, usage: String? = nil) -> ArgumentHelp {
    ArgumentHelp(CacheSpec.settings.help(path, usage: usage, listingChoices: false))
}

/// A teacher's depth, from its config.json read as every other command reads it (layer lists
/// such as `all` and `last` resolve against it).
func teacherDepth(_ teacher: String) throws -> Int {
    do { return try BertConfig.load(from: URL(fileURLWithPath: teacher).appendingPathComponent("config.json")).numHiddenLayers } catch {
        throw ValidationError("\(error)")
    }
}

/// `distillery cache merge`: one cache over the shard files of a `--shard I/N` run.
struct CacheMergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the shard files of `distillery cache --shard I/N` into one cache (HDF5 virtual datasets, no data copied).",
        discussion: """
        Usage: distillery cache merge SHARD... --out OUT [--overwrite]. \
        The shards must come from one run: same teacher, vocabulary, data, spec and schema \
        version, complete, every sequence in exactly one shard. The merged file names the \
        shards relative to its own folder: keep them together (the folder may move). Readers, \
        `distillery inspect` and `distillery verify` take the merged file like any cache; \
        verify reports missing shard files.
        """
    )

    @Argument(help: "Shard files (any order).") var shards: [String]
    @Option(help: "The merged cache file (.h5).") var out: String
    @Flag(help: "Replace OUT if it exists.") var overwrite = false

    func run() throws {
        let summary = try CacheMerger.merge(shards.map { URL(fileURLWithPath: $0) }, into: URL(fileURLWithPath: out), overwrite: overwrite)
        print("merged \(summary.shards.count) shards into \(summary.output.path): \(summary.sequences) sequences, \(summary.tokens) tokens, \(summary.virtualDatasets) virtual datasets")
        for s in summary.shards { print("  \(s.index)/\(s.count) \(s.file): sequences \(s.firstSequence)..<\(s.endSequence)") }
    }
}

/// Where the text, pair, label and id of each example are in the data files.
struct DataFieldOptions: ParsableArguments {
    @Option(help: "Data format: jsonl, tsv or csv (default: from the file extension).") var format: DatasetFormat?
    @Option(help: "Field holding the text.") var textField = "text"
    @Option(help: "Field holding the second text of a pair.") var pairField: String?
    @Option(help: "Field holding the label (class name or number).") var labelField: String?
    @Option(help: "Field holding an example id (default: line number).") var idField: String?
    @Flag(help: "Skip malformed rows (counted and reported) instead of stopping at the first.") var skipBadRows = false

    var readOptions: DatasetReadOptions {
        var options = DatasetReadOptions()
        options.format = format
        options.fields = DatasetFields(text: textField, textPair: pairField, label: labelField, id: idField)
        options.skipBadRows = skipBadRows
        return options
    }
}

extension DatasetFormat: ExpressibleByArgument {}
extension TensorCodec: ExpressibleByArgument {}
extension CacheSpec.LogitsForm: ExpressibleByArgument {}
extension CacheSpec.CacheCompression: ExpressibleByArgument {}

/// A list of layers on the command line: "0,3,6", "all" or "last".
struct LayerList: ExpressibleByArgument {
    enum Form { case all, last, numbers([Int]) }
    let form: Form

    init?(argument: String) {
        switch argument {
        case "all": form = .all
        case "last": form = .last
        default:
            guard let numbers = layerNumbers(argument) else { return nil }
            form = .numbers(numbers)
        }
    }

    func resolve(last: Int, first: Int) -> [Int] {
        switch form {
        case .all: return Array(first...last)
        case .last: return [last]
        case .numbers(let list): return list
        }
    }
}

import BoundedYAML
import Foundation
import Kernels
import HDF5
import Settings
import Yams

/// What stage one stores: the same block is used by `distillery cache` flags and pipeline YAML.
/// Layer numbers: hidden states 0 = embeddings output, 1…L = layer outputs; attention and
/// relations (Q/K/V) 1…L = the layer whose self-attention they come from. The properties hold the
/// defaults; `settings` declares each key once (YAML/JSON, the flag's help, the check on its own).
public struct CacheSpec: Codable, Equatable, Sendable, HasSettings {
    /// Tokens per sequence, [CLS]/[SEP] included; longer examples are truncated (longest-first for pairs).
    public var maxLength = 128
    /// Sequences per teacher forward pass.
    public var batchSize = 32
    public var hiddenLayers: [Int] = []
    /// Attention probabilities (per head, n × n per sequence).
    public var attentionLayers: [Int] = []
    /// Q, K and V projections, from which MiniLMv2 relations for any number of relation heads are computed.
    public var relationLayers: [Int] = []
    /// Which forms of the teacher's output distribution to keep.
    public var logits: [LogitsForm] = []
    /// k of the top-k form.
    public var topK = 20
    /// N of the sampled form (Random-Sampling KD), and the temperature τ of the softmax it draws from.
    public var sampledDraws = 50
    public var sampledTemperature: Float = 1
    /// Seed of the sampled form and of masked-LM masking.
    public var seed: UInt64 = 0
    /// Masked-LM teachers only: BERT masking applied once here, and K differently masked views per sequence.
    public var masking = MaskingOptions()
    public var maskViews = 1
    public var codecs = ComponentCodecs()
    public var compression = CacheCompression.zstd
    public var compressionLevel = 1
    /// Uncompressed bytes per chunk (rows are grouped into chunks of about this size).
    public var chunkBytes = 1 << 20
    /// Sequences between commits: an interrupted run resumes from the last one.
    public var commitEvery = 2048
    /// The teacher's matrix products: nil or fp32, or bf16 inputs with fp32 accumulation (AVX-512 BF16).
    public var precision: Precision?

    public init() {}

    /// The YAML block of pipelines and the JSON in cache files use these snake_case keys, in this
    /// order; any key may be left out and takes its default. Checks that need the teacher or other
    /// keys are `validate`'s.
    public static let settings = SettingsTable<CacheSpec>(defaults: CacheSpec(), invalid: CacheError.invalidSpec, [
        Setting("max_length", \.maxLength, help: "Tokens per sequence, [CLS]/[SEP] included",
                check: { $0 >= 3 ? nil : "max length must be at least 3, not \($0)" }),
        Setting("batch_size", \.batchSize, help: "Sequences per teacher forward pass",
                check: { $0 >= 1 ? nil : "batch size must be at least 1, not \($0)" }),
        Setting("hidden_layers", \.hiddenLayers, flag: "hidden", help: "Hidden-state layers to store (0 = embeddings output)"),
        Setting("attention_layers", \.attentionLayers, flag: "attention", help: "Layers whose attention probabilities to store (1-based)"),
        Setting("relation_layers", \.relationLayers, flag: "relations", help: "Layers whose Q/K/V projections to store for MiniLMv2 relations (1-based)"),
        Setting("logits", \.logits, help: "Output distribution forms to store"),
        Setting("top_k", \.topK, help: "k of the top-k logits"),
        Setting("sampled_draws", \.sampledDraws, help: "Draws per row for sampled logits, Random-Sampling KD"),
        Setting("sampled_temperature", \.sampledTemperature, help: "Softmax temperature the samples are drawn at"),
        Setting("seed", \.seed, help: "Seed for sampling and masked-LM masking"),
        .block("masking", \.masking, help: "Masked-LM teachers: BERT masking"),
        Setting("mask_views", \.maskViews, help: "Masked-LM teachers: differently masked copies of each sequence",
                check: { $0 >= 1 ? nil : "mask views must be at least 1, not \($0)" }),
        .block("codecs", \.codecs, help: "How each component is stored"),
        Setting("compression", \.compression,
                help: "Compressor; zstd needs the HDF5 plugin outside Distillery, gzip is read by any HDF5 reader"),
        Setting("compression_level", \.compressionLevel, flag: "level", help: "Compression level, zstd 1–22, gzip 0–9"),
        Setting("chunk_bytes", \.chunkBytes, help: "Uncompressed bytes per chunk", shown: "1 MiB",
                check: { $0 >= 4096 ? nil : "chunk bytes must be at least 4096, not \($0)" }),
        Setting("commit_every", \.commitEvery, help: "Sequences between commits, the points --resume restarts from",
                check: { $0 >= 1 ? nil : "commit interval must be at least 1 sequence" }),
        Setting("precision", optional: \.precision, choices: Precision.allCases.map(\.rawValue),
                help: "The teacher's matrix products: fp32, or bf16 inputs with fp32 accumulation (needs AVX-512 BF16)", shown: "fp32"),
    ])

    public init(from decoder: Decoder) throws { self = try Self.settings.decode(from: decoder) }
    public func encode(to encoder: Encoder) throws { try Self.settings.encode(self, to: encoder) }

    /// A spec from YAML, the block pipelines use (snake_case keys, all optional), either at the top
    /// level of the file or under a `cache:` key.
    public static func load(yaml url: URL) throws -> CacheSpec {
        try decodeSpecBlock(CacheSpec.self, yaml: url, key: "cache", unreadable: CacheError.io, invalid: CacheError.invalidSpec)
    }

    public enum LogitsForm: String, Codable, CaseIterable, Sendable {
        case full, topk, sampled
    }

    public enum CacheCompression: String, Codable, CaseIterable, Sendable {
        case zstd, gzip, none
    }

    public struct ComponentCodecs: Codable, Equatable, Sendable, HasSettings {
        public var hidden = TensorCodec.fp16
        public var attention = TensorCodec.fp16
        public var relations = TensorCodec.fp16
        public var logits = TensorCodec.fp32
        public init() {}

        /// Keys it does not know are passed over, as they always were.
        public static let settings = SettingsTable<ComponentCodecs>(defaults: ComponentCodecs(), invalid: CacheError.invalidSpec, refusesUnknownKeys: false, [
            Setting("hidden", \.hidden, flag: "hidden-codec", help: "Codec of hidden states"),
            Setting("attention", \.attention, flag: "attention-codec", help: "Codec of attention probabilities"),
            Setting("relations", \.relations, flag: "relations-codec", help: "Codec of Q/K/V projections"),
            Setting("logits", \.logits, flag: "logits-codec", help: "Codec of logits, full and top-k log-probabilities"),
        ])

        public init(from decoder: Decoder) throws { self = try Self.settings.decode(from: decoder) }
        public func encode(to encoder: Encoder) throws { try Self.settings.encode(self, to: encoder) }
    }

    /// Checks the spec against itself and the teacher; errors say which field and why. Each key's
    /// own check is the table's; here the rules that need the teacher or several keys.
    public func validate(layers: Int, hasClassifier: Bool, hasMaskedLM: Bool, logitWidth: Int) throws {
        func fail(_ why: String) -> CacheError { .invalidSpec(why) }
        try Self.settings.check(self)
        for l in hiddenLayers where !(0...layers).contains(l) {
            throw fail("hidden layer \(l) is outside 0…\(layers) (0 = embeddings output)")
        }
        for (name, list) in [("attention", attentionLayers), ("relation", relationLayers)] {
            for l in list where !(1...layers).contains(l) { throw fail("\(name) layer \(l) is outside 1…\(layers)") }
        }
        for (name, list) in [("hidden", hiddenLayers), ("attention", attentionLayers), ("relation", relationLayers), ("logits", logits.map(\.rawValue))] as [(String, [AnyHashable])] where Set(list).count != list.count {
            throw fail("\(name) layers list repeats an entry")
        }
        if !logits.isEmpty && !hasClassifier && !hasMaskedLM {
            throw fail("the teacher has neither a classification nor a masked-LM head, so it has no logits to cache; drop --logits or use a BertForSequenceClassification / BertForMaskedLM teacher")
        }
        if logits.contains(.topk) && !(1...logitWidth).contains(topK) {
            throw fail("top-k needs 1 ≤ k ≤ \(logitWidth) (the teacher's output width), not \(topK)")
        }
        if logits.contains(.sampled) {
            if !(1...65_535).contains(sampledDraws) { throw fail("sampled draws must be in 1…65535, not \(sampledDraws)") }
            if !(sampledTemperature > 0) { throw fail("sampling temperature must be positive, not \(sampledTemperature)") }
        }
        if maskViews > 1 && !(hasMaskedLM && !hasClassifier) { throw fail("mask views apply to masked-LM teachers only") }
        if !(0 < masking.probability && masking.probability <= 1) { throw fail("masking probability must be in (0, 1]") }
        if let problem = masking.problem { throw fail(problem) }
        switch compression {
        case .zstd where !(1...22).contains(compressionLevel): throw fail("zstd level must be in 1…22, not \(compressionLevel)")
        case .gzip where !(0...9).contains(compressionLevel): throw fail("gzip level must be in 0…9, not \(compressionLevel)")
        default: break
        }
    }

    /// Nothing of the teacher's is stored: the cache holds the tokenized inputs and their labels
    /// only (what fine-tuning trains on), and stage one skips the teacher's forward pass.
    public var isInputsOnly: Bool {
        hiddenLayers.isEmpty && attentionLayers.isEmpty && relationLayers.isEmpty && logits.isEmpty
    }

    /// An inputs-only cache is worth writing only when the data is labelled.
    func checkSomethingToCache(labelled: Bool) throws {
        if isInputsOnly && !labelled {
            throw CacheError.invalidSpec("nothing to cache: choose hidden, attention or relation layers, or logits (a cache of the inputs alone needs labelled data: --label-field NAME)")
        }
    }

    /// HDF5 filter options for a component whose rows are `rowBytes` wide.
    func datasetOptions(rowBytes: Int) -> H5DatasetOptions {
        let rows = max(1, chunkBytes / max(1, rowBytes))
        switch compression {
        case .zstd: return H5DatasetOptions(chunkRows: rows, compression: .zstd(level: compressionLevel), shuffle: true, checksum: true)
        case .gzip: return H5DatasetOptions(chunkRows: rows, compression: .gzip(level: compressionLevel), shuffle: true, checksum: true)
        case .none: return H5DatasetOptions(chunkRows: rows, compression: .none, shuffle: false, checksum: true)
        }
    }
}

/// A spec from a YAML file: the block under `key:` (how pipeline files hold it) or, without that
/// key, the whole file. Problems come back as one line naming the file and the key path, made
/// into the caller's error by `unreadable` (the file cannot be read) or `invalid`.
public func decodeSpecBlock<T: Decodable>(_ type: T.Type, yaml url: URL, key: String,
                                          unreadable: (String) -> Error, invalid: (String) -> Error) throws -> T {
    let node = try loadSpecNode(yaml: url, key: key, unreadable: unreadable, invalid: invalid)
    return try decodeSpecNode(T.self, node: node, origin: url.path, invalid: invalid)
}

/// The YAML node of a spec file (within BoundedYAML's limits): the block under `key` when the
/// file has one, else the whole file.
public func loadSpecNode(yaml url: URL, key: String?, unreadable: (String) -> Error, invalid: (String) -> Error) throws -> Yams.Node {
    let text: String
    do { text = try BoundedYAML.read(url) } catch let error as BoundedYAML.Failure { throw invalid("\(error)") } catch {
        throw unreadable("cannot read \(url.path): \(error.localizedDescription)")
    }
    let node: Yams.Node?
    do { node = try BoundedYAML.compose(text, origin: url.path) } catch { throw invalid("\(error)") }
    guard let node else { return Yams.Node.mapping([:]) }
    guard let key, let mapping = node.mapping, let block = mapping[key] else { return node }
    // Beside its block, a spec file holds only other blocks: a stray key (a setting indented
    // wrongly, a typo) would otherwise be ignored silently.
    if let stray = mapping.keys.first(where: { !specFileSections.contains($0.string ?? "") }) {
        let name = stray.string ?? "\(stray)"
        throw invalid("\(url.path): top-level key '\(name.prefix(80))' is not a section of a spec file (\(specFileSections.joined(separator: ", ")))\(name == key ? "" : "; if it is a setting, indent it under `\(key):`")")
    }
    return block
}

/// The top-level blocks a spec file may hold (one file can serve `cache --spec` and `train --spec`).
public let specFileSections = ["cache", "train", "students"]

/// Decodes a spec from a YAML node; errors name `origin` and the path of the field at fault.
public func decodeSpecNode<T: Decodable>(_ type: T.Type, node: Yams.Node, origin: String, invalid: (String) -> Error) throws -> T {
    do {
        return try YAMLDecoder().decode(T.self, from: Yams.serialize(node: node))
    } catch let DecodingError.dataCorrupted(context) where context.underlyingError != nil {
        throw invalid("\(origin): \(context.underlyingError!)")
    } catch let DecodingError.typeMismatch(_, context), let DecodingError.dataCorrupted(context) {
        throw invalid("\(origin): \(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)")
    } catch {
        throw invalid("\(origin): \(error)")
    }
}

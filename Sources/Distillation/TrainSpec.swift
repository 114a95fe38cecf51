import Bert
import Foundation
import Kernels
import Settings
import TeacherCache
import Training

/// Every distillation objective stage two knows, by the name used in specs and on the command line.
/// Definitions: docs/objectives.md (from ../shared/design/OBJECTIVES.md).
public enum ObjectiveKind: String, Codable, CaseIterable, Sendable, Comparable {
    /// Cross-entropy on gold labels (classification), or on the original tokens at masked positions (masked LM).
    case ce
    /// MSE between student and teacher outputs of a regression head (the gold scores on an inputs-only cache).
    case mse
    /// Vanilla KD on the cached full logits.
    case kd
    /// KD from the top-k cache (renormalised or ghost-token tail).
    case kdTopk = "kd_topk"
    /// Random-sampling KD from the sampled cache.
    case kdSampled = "kd_sampled"
    /// TinyBERT hidden-state MSE (learned projection when widths differ).
    case hiddenMSE = "hidden_mse"
    /// DistilBERT cosine between hidden states.
    case hiddenCosine = "hidden_cosine"
    /// MiniLM attention-distribution KL.
    case attentionKL = "attention_kl"
    /// TinyBERT pre-softmax attention-score MSE (teacher scores from the cached Q and K).
    case attentionScores = "attention_scores"
    /// MiniLM v1 value relation.
    case valueRelation = "value_relation"
    /// MiniLM v2 Q-Q, K-K, V-V self-attention relations.
    case relations
    /// TED: MSE between the student's filtered hidden states and the frozen teacher filters' (`ted_filters`).
    case ted
    /// MSE between the student's pooled last hidden state (learned projection when widths differ) and
    /// the teacher's (Reimers & Gurevych 2020): sequence-level, so a student with another tokenizer can use it.
    case pooledMSE = "pooled_mse"

    public static func < (a: ObjectiveKind, b: ObjectiveKind) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    var usesLogits: Bool { [.ce, .mse, .kd, .kdTopk, .kdSampled].contains(self) }
    /// Compares the student and teacher token by token (needs the teacher's tokenizer).
    var isTokenLevel: Bool { ![.ce, .mse, .kd, .kdTopk, .kdSampled, .pooledMSE].contains(self) }
    var usesHiddenMapping: Bool { self == .hiddenMSE || self == .hiddenCosine }
    var usesAttentionMapping: Bool { [.attentionKL, .attentionScores, .valueRelation].contains(self) }
}

/// How stage two trains one student: the YAML block `train:` of pipelines, or a file of its own.
/// Keys are snake_case; every key may be left out and takes its default. The properties hold the
/// defaults; `settings` declares each key once (YAML/JSON, the flag's help, the check on its own).
public struct TrainSpec: Codable, Equatable, Sendable, HasSettings {
    public var student = StudentSpec()
    /// Objective → weight; the total loss is Σ weight · loss.
    public var objectives: [ObjectiveKind: Float] = [.kd: 1]
    public var temperature: Float = 2
    /// Multiply logit KD by τ² (Hinton); TinyBERT leaves it out.
    public var scaleByTemperatureSquared = true
    public var topkTail = TopKTail.ghost
    /// Relation heads A_r of MiniLM v2 (must divide both widths).
    public var relationHeads = 12
    public var hiddenMapping = LayerMapping.uniform
    public var attentionMapping = LayerMapping.last
    public var relationMapping = LayerMapping.last
    /// TED: the teacher filters written by `distillery ted-filters`, and which student layer each filters.
    public var tedFilters: String?
    public var tedMapping = LayerMapping.uniform
    public var epochs = 3
    /// Stop after this many updates (0 = run all epochs).
    public var maxSteps = 0
    public var batchSize = 32
    public var learningRate: Float = 1e-4
    /// Fraction of all updates spent warming up linearly from 0.
    public var warmupRatio: Float = 0.1
    public var schedule = LearningRateSchedule.Decay.linear
    public var weightDecay: Float = 0.01
    /// Global gradient-norm clipping (0 = off).
    public var clipNorm: Float = 1
    /// Seed of initialisation and dropout.
    public var seed: UInt64 = 0
    /// Seed of the batch order. Students with the same data seed and batch size share one pass
    /// over the cache (each batch read and decoded once for all of them).
    public var dataSeed: UInt64 = 0
    /// Save a resumable checkpoint every this many updates (0 = only when interrupted).
    public var checkpointEvery = 200
    /// Evaluate on the dev cache every this many updates (0 = at the end of each epoch).
    public var evalEvery = 0
    /// Write a metrics line every this many updates.
    public var logEvery = 10
    /// pooled_mse: how a sequence's last hidden states become one vector (nil: mean).
    public var pooling: Pooling?
    /// The student's matrix products, forward and backward: nil or fp32, or bf16 inputs with fp32
    /// accumulation (AVX-512 BF16); master weights, gradients and AdamW stay fp32.
    public var precision: Precision?

    public enum TopKTail: String, Codable, CaseIterable, Sendable { case renormalized, ghost }

    public init() {}

    /// Every key, in the order it is written (the order is part of the encoded spec, which a run's
    /// hash covers: append new keys, do not reorder).
    public static let settings = SettingsTable<TrainSpec>(defaults: TrainSpec(), invalid: DistillationError.invalidSpec, [
        .block("student", \.student, help: "The student's shape and where its weights start"),
        Setting("objectives", \.objectives, coded: [String: Float].self, read: TrainSpec.objectives,
                write: { Dictionary(uniqueKeysWithValues: $0.map { ($0.key.rawValue, $0.value) }) }, flag: "objective",
                help: "Objective weights (the loss is Σ weight · loss)",
                check: { $0.isEmpty ? "no objective has a positive weight" : nil }),
        Setting("temperature", \.temperature, help: "Softmax temperature of logit KD",
                check: { $0 > 0 ? nil : "temperature must be positive, not \($0)" }),
        Setting("scale_by_temperature_squared", \.scaleByTemperatureSquared, flag: "temperature-scaling", help: "Scale logit KD by τ²"),
        Setting("topk_tail", \.topkTail, help: "Top-k KD tail"),
        Setting("relation_heads", \.relationHeads, help: "MiniLM v2 relation heads",
                check: { $0 >= 1 ? nil : "relation heads must be at least 1" }),
        Setting("hidden_mapping", \.hiddenMapping, help: "Hidden-state mapping: uniform, last or pairs"),
        Setting("attention_mapping", \.attentionMapping, help: "Attention mapping: uniform, last or pairs"),
        Setting("relation_mapping", \.relationMapping, help: "Relation mapping: last or pairs"),
        Setting("epochs", \.epochs, help: "Epochs"),
        Setting("ted_filters", optional: \.tedFilters, help: "TED teacher filters written by `distillery ted-filters` (for the ted objective)"),
        Setting("ted_mapping", \.tedMapping, help: "TED mapping, student layer to filtered teacher layer: uniform, last or pairs"),
        Setting("max_steps", \.maxSteps, help: "Stop after this many updates, 0 = run all epochs"),
        Setting("batch_size", \.batchSize, help: "Sequences per update",
                check: { $0 >= 1 ? nil : "batch size must be at least 1" }),
        Setting("learning_rate", \.learningRate, help: "Peak learning rate",
                check: { $0 > 0 ? nil : "learning rate must be positive" }),
        Setting("warmup_ratio", \.warmupRatio, help: "Warm-up fraction of all updates",
                check: { (0..<1).contains($0) ? nil : "warmup ratio must be in [0, 1)" }),
        Setting("schedule", \.schedule, help: "Decay after warm-up"),
        Setting("weight_decay", \.weightDecay, help: "AdamW decoupled weight decay",
                check: { $0 >= 0 ? nil : "weight decay and clip norm must be ≥ 0" }),
        Setting("clip_norm", \.clipNorm, help: "Global gradient-norm clip, 0 = off",
                check: { $0 >= 0 ? nil : "weight decay and clip norm must be ≥ 0" }),
        Setting("seed", \.seed, help: "Seed of initialisation, shuffling and dropout"),
        Setting("data_seed", \.dataSeed, help: "Seed of the batch order; students sharing it and the batch size share one pass over the cache"),
        Setting("checkpoint_every", \.checkpointEvery, help: "Write a resumable checkpoint every N updates, 0 = only when interrupted",
                check: { $0 >= 0 ? nil : "checkpoint_every must be ≥ 0" }),
        Setting("eval_every", \.evalEvery, help: "Evaluate every N updates, 0 = at the end of each epoch",
                check: { $0 >= 0 ? nil : "log_every must be ≥ 1 and eval_every ≥ 0" }),
        Setting("log_every", \.logEvery, help: "Metrics line every N updates",
                check: { $0 >= 1 ? nil : "log_every must be ≥ 1 and eval_every ≥ 0" }),
        Setting("pooling", optional: \.pooling, choices: Pooling.allCases.map(\.rawValue),
                help: "pooled_mse: the first token's hidden state or the mean over real tokens", shown: "mean"),
        Setting("precision", optional: \.precision, choices: Precision.allCases.map(\.rawValue),
                help: "The student's matrix products: fp32, or bf16 inputs with fp32 accumulation (needs AVX-512 BF16)", shown: "fp32"),
    ])

    public init(from decoder: Decoder) throws { self = try Self.settings.decode(from: decoder) }
    public func encode(to encoder: Encoder) throws { try Self.settings.encode(self, to: encoder) }

    /// "kd=0.5,ce=0.5" or a YAML mapping, checked against the known names.
    public static func objectives(_ named: [String: Float]) throws -> [ObjectiveKind: Float] {
        var result: [ObjectiveKind: Float] = [:]
        for (name, weight) in named {
            guard let kind = ObjectiveKind(rawValue: name) else {
                throw DistillationError.invalidSpec("unknown objective '\(name)' (known: \(ObjectiveKind.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            guard weight.isFinite, weight >= 0 else { throw DistillationError.invalidSpec("objective \(name) has weight \(weight); weights must be finite and ≥ 0") }
            if weight > 0 { result[kind] = weight }
        }
        return result
    }

    /// A spec from YAML: a file holding the block itself or a `train:` key.
    public static func load(yaml url: URL) throws -> TrainSpec {
        try decodeSpecBlock(TrainSpec.self, yaml: url, key: "train", unreadable: DistillationError.io, invalid: DistillationError.invalidSpec)
    }

    /// Checks the settings on their own (the cache and teacher are checked by `TrainingPlan`):
    /// each key's own check in the table, then the rules between keys, then the student.
    public func validate() throws {
        try Self.settings.check(self)
        if epochs < 1 && maxSteps < 1 { throw DistillationError.invalidSpec("set epochs ≥ 1 or max_steps ≥ 1") }
        if objectives[.ted] != nil && tedFilters == nil {
            throw DistillationError.invalidSpec("the ted objective needs ted_filters (--ted-filters), the file `distillery ted-filters` writes")
        }
        try student.validate()
    }
}

/// The student's shape and where its weights start.
public struct StudentSpec: Codable, Equatable, Sendable, HasSettings {
    public var layers = 3
    /// Width, heads and FFN size; nil takes the teacher's.
    public var hiddenSize: Int?
    public var heads: Int?
    public var intermediateSize: Int?
    /// `random`, or copy embeddings plus teacher layers: `lower`, `upper`, `uniform`, or a list like `1,3,5`.
    public var initialization = Initialization.teacher(.lower)
    public var dropout: Float = 0.1
    /// The student's model family (`model_type`: bert, roberta, xlm-roberta, distilbert); nil takes
    /// the teacher's. The student shares the teacher's tokenizer, so only the network changes
    /// (a DistilBERT student of a BERT teacher, as DistilBERT itself was made).
    public var family: String?
    /// A folder with the student's own tokenizer (tokenizer.json, vocab.json + merges.txt, a
    /// SentencePiece model or vocab.txt); nil shares the teacher's. A student with another
    /// tokenizer encodes each cached example's text itself and learns only sequence-level targets.
    public var tokenizer: String?

    public enum Initialization: Equatable, Sendable, Codable, CustomStringConvertible {
        case random
        case teacher(TeacherLayers)

        public enum TeacherLayers: Equatable, Sendable {
            case lower, upper, uniform
            case list([Int])
        }

        public init(parsing text: String) throws {
            switch text.trimmingCharacters(in: .whitespaces) {
            case "random": self = .random
            case "lower": self = .teacher(.lower)
            case "upper": self = .teacher(.upper)
            case "uniform": self = .teacher(.uniform)
            case let list:
                guard let layers = layerNumbers(list) else {
                    throw DistillationError.invalidSpec("student initialisation '\(text)': expected random, lower, upper, uniform or teacher layers like 1,3,5")
                }
                self = .teacher(.list(layers))
            }
        }

        public var description: String {
            switch self {
            case .random: return "random"
            case .teacher(.lower): return "lower"
            case .teacher(.upper): return "upper"
            case .teacher(.uniform): return "uniform"
            case .teacher(.list(let l)): return l.map(String.init).joined(separator: ",")
            }
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let list = try? c.decode([Int].self) { self = .teacher(.list(list)); return }
            try self.init(parsing: try c.decode(String.self))
        }
        public func encode(to encoder: Encoder) throws { var c = encoder.singleValueContainer(); try c.encode(description) }
    }

    public init() {}

    public static let settings = SettingsTable<StudentSpec>(defaults: StudentSpec(), invalid: DistillationError.invalidSpec, [
        Setting("layers", \.layers, help: "Student layers", check: { $0 >= 1 ? nil : "the student needs at least one layer" }),
        Setting("hidden_size", optional: \.hiddenSize, help: "Student hidden size (default: the teacher's)",
                check: { $0 >= 1 ? nil : "student hidden_size must be positive" }),
        Setting("heads", optional: \.heads, help: "Student attention heads (default: the teacher's)",
                check: { $0 >= 1 ? nil : "student heads must be positive" }),
        Setting("intermediate_size", optional: \.intermediateSize, help: "Student FFN size (default: the teacher's)",
                check: { $0 >= 1 ? nil : "student intermediate_size must be positive" }),
        Setting("init", \.initialization, flag: "initialization",
                help: "Initialisation: random, or teacher layers lower, upper, uniform, or a list like 1,3,5"),
        Setting("dropout", \.dropout, help: "Dropout of the student", check: { (0..<1).contains($0) ? nil : "dropout must be in [0, 1)" }),
        Setting("family", optional: \.family, choices: ModelFamily.all.flatMap(\.modelTypes), help: "Student model family (default: the teacher's)",
                check: { name in ModelFamily.all.contains { $0.modelTypes.contains(name) } ? nil
                    : "student family '\(name)' is not supported; supported: \(ModelFamily.all.flatMap(\.modelTypes).joined(separator: ", "))" }),
        Setting("tokenizer", optional: \.tokenizer, flag: "student-tokenizer",
                help: "A folder with the student's own tokenizer; such a student learns sequence-level targets only (default: the teacher's)"),
    ])

    public init(from decoder: Decoder) throws { self = try Self.settings.decode(from: decoder) }
    public func encode(to encoder: Encoder) throws { try Self.settings.encode(self, to: encoder) }

    func validate() throws { try Self.settings.check(self) }
}

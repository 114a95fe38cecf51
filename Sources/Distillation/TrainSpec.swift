import Foundation
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

    public static func < (a: ObjectiveKind, b: ObjectiveKind) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    var usesLogits: Bool { [.ce, .mse, .kd, .kdTopk, .kdSampled].contains(self) }
    var usesHiddenMapping: Bool { self == .hiddenMSE || self == .hiddenCosine }
    var usesAttentionMapping: Bool { [.attentionKL, .attentionScores, .valueRelation].contains(self) }
}

/// How stage two trains one student: the YAML block `train:` of pipelines, or a file of its own.
/// Keys are snake_case; every key may be left out and takes its default.
public struct TrainSpec: Codable, Equatable, Sendable {
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

    public enum TopKTail: String, Codable, CaseIterable, Sendable { case renormalized, ghost }

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case student, objectives, temperature, scaleByTemperatureSquared = "scale_by_temperature_squared"
        case topkTail = "topk_tail", relationHeads = "relation_heads", hiddenMapping = "hidden_mapping"
        case attentionMapping = "attention_mapping", relationMapping = "relation_mapping", epochs
        case tedFilters = "ted_filters", tedMapping = "ted_mapping"
        case maxSteps = "max_steps", batchSize = "batch_size", learningRate = "learning_rate"
        case warmupRatio = "warmup_ratio", schedule, weightDecay = "weight_decay", clipNorm = "clip_norm"
        case seed, dataSeed = "data_seed", checkpointEvery = "checkpoint_every", evalEvery = "eval_every", logEvery = "log_every"
    }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = TrainSpec()
        student = try c.decodeIfPresent(StudentSpec.self, forKey: .student) ?? d.student
        if let named = try c.decodeIfPresent([String: Float].self, forKey: .objectives) {
            objectives = try Self.objectives(named)
        }
        temperature = try c.decodeIfPresent(Float.self, forKey: .temperature) ?? d.temperature
        scaleByTemperatureSquared = try c.decodeIfPresent(Bool.self, forKey: .scaleByTemperatureSquared) ?? d.scaleByTemperatureSquared
        topkTail = try c.decodeIfPresent(TopKTail.self, forKey: .topkTail) ?? d.topkTail
        relationHeads = try c.decodeIfPresent(Int.self, forKey: .relationHeads) ?? d.relationHeads
        hiddenMapping = try c.decodeIfPresent(LayerMapping.self, forKey: .hiddenMapping) ?? d.hiddenMapping
        attentionMapping = try c.decodeIfPresent(LayerMapping.self, forKey: .attentionMapping) ?? d.attentionMapping
        relationMapping = try c.decodeIfPresent(LayerMapping.self, forKey: .relationMapping) ?? d.relationMapping
        tedFilters = try c.decodeIfPresent(String.self, forKey: .tedFilters)
        tedMapping = try c.decodeIfPresent(LayerMapping.self, forKey: .tedMapping) ?? d.tedMapping
        epochs = try c.decodeIfPresent(Int.self, forKey: .epochs) ?? d.epochs
        maxSteps = try c.decodeIfPresent(Int.self, forKey: .maxSteps) ?? d.maxSteps
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize
        learningRate = try c.decodeIfPresent(Float.self, forKey: .learningRate) ?? d.learningRate
        warmupRatio = try c.decodeIfPresent(Float.self, forKey: .warmupRatio) ?? d.warmupRatio
        schedule = try c.decodeIfPresent(LearningRateSchedule.Decay.self, forKey: .schedule) ?? d.schedule
        weightDecay = try c.decodeIfPresent(Float.self, forKey: .weightDecay) ?? d.weightDecay
        clipNorm = try c.decodeIfPresent(Float.self, forKey: .clipNorm) ?? d.clipNorm
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
        dataSeed = try c.decodeIfPresent(UInt64.self, forKey: .dataSeed) ?? d.dataSeed
        checkpointEvery = try c.decodeIfPresent(Int.self, forKey: .checkpointEvery) ?? d.checkpointEvery
        evalEvery = try c.decodeIfPresent(Int.self, forKey: .evalEvery) ?? d.evalEvery
        logEvery = try c.decodeIfPresent(Int.self, forKey: .logEvery) ?? d.logEvery
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(student, forKey: .student)
        try c.encode(Dictionary(uniqueKeysWithValues: objectives.map { ($0.key.rawValue, $0.value) }), forKey: .objectives)
        try c.encode(temperature, forKey: .temperature)
        try c.encode(scaleByTemperatureSquared, forKey: .scaleByTemperatureSquared)
        try c.encode(topkTail, forKey: .topkTail); try c.encode(relationHeads, forKey: .relationHeads)
        try c.encode(hiddenMapping, forKey: .hiddenMapping); try c.encode(attentionMapping, forKey: .attentionMapping)
        try c.encode(relationMapping, forKey: .relationMapping); try c.encode(epochs, forKey: .epochs)
        try c.encodeIfPresent(tedFilters, forKey: .tedFilters); try c.encode(tedMapping, forKey: .tedMapping)
        try c.encode(maxSteps, forKey: .maxSteps); try c.encode(batchSize, forKey: .batchSize)
        try c.encode(learningRate, forKey: .learningRate); try c.encode(warmupRatio, forKey: .warmupRatio)
        try c.encode(schedule, forKey: .schedule); try c.encode(weightDecay, forKey: .weightDecay)
        try c.encode(clipNorm, forKey: .clipNorm); try c.encode(seed, forKey: .seed)
        try c.encode(dataSeed, forKey: .dataSeed); try c.encode(checkpointEvery, forKey: .checkpointEvery)
        try c.encode(evalEvery, forKey: .evalEvery); try c.encode(logEvery, forKey: .logEvery)
    }

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

    /// Checks the settings on their own (the cache and teacher are checked by `TrainingPlan`).
    public func validate() throws {
        func fail(_ why: String) -> DistillationError { .invalidSpec(why) }
        if objectives.isEmpty { throw fail("no objective has a positive weight") }
        if !(temperature > 0) { throw fail("temperature must be positive, not \(temperature)") }
        if relationHeads < 1 { throw fail("relation heads must be at least 1") }
        if epochs < 1 && maxSteps < 1 { throw fail("set epochs ≥ 1 or max_steps ≥ 1") }
        if batchSize < 1 { throw fail("batch size must be at least 1") }
        if !(learningRate > 0) { throw fail("learning rate must be positive") }
        if !(0..<1).contains(warmupRatio) { throw fail("warmup ratio must be in [0, 1)") }
        if weightDecay < 0 || clipNorm < 0 { throw fail("weight decay and clip norm must be ≥ 0") }
        if logEvery < 1 || evalEvery < 0 { throw fail("log_every must be ≥ 1 and eval_every ≥ 0") }
        if checkpointEvery < 0 { throw fail("checkpoint_every must be ≥ 0") }
        if objectives[.ted] != nil && tedFilters == nil { throw fail("the ted objective needs ted_filters (--ted-filters), the file `distillery ted-filters` writes") }
        try student.validate()
    }
}

/// The student's shape and where its weights start.
public struct StudentSpec: Codable, Equatable, Sendable {
    public var layers = 3
    /// Width, heads and FFN size; nil takes the teacher's.
    public var hiddenSize: Int?
    public var heads: Int?
    public var intermediateSize: Int?
    /// `random`, or copy embeddings plus teacher layers: `lower`, `upper`, `uniform`, or a list like `1,3,5`.
    public var initialization = Initialization.teacher(.lower)
    public var dropout: Float = 0.1

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

    enum CodingKeys: String, CodingKey, CaseIterable {
        case layers, hiddenSize = "hidden_size", heads, intermediateSize = "intermediate_size", initialization = "init", dropout
    }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = StudentSpec()
        layers = try c.decodeIfPresent(Int.self, forKey: .layers) ?? d.layers
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize)
        heads = try c.decodeIfPresent(Int.self, forKey: .heads)
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize)
        initialization = try c.decodeIfPresent(Initialization.self, forKey: .initialization) ?? d.initialization
        dropout = try c.decodeIfPresent(Float.self, forKey: .dropout) ?? d.dropout
    }

    func validate() throws {
        if layers < 1 { throw DistillationError.invalidSpec("the student needs at least one layer") }
        if !(0..<1).contains(dropout) { throw DistillationError.invalidSpec("dropout must be in [0, 1)") }
        for (name, value) in [("hidden_size", hiddenSize), ("heads", heads), ("intermediate_size", intermediateSize)] {
            if let value, value < 1 { throw DistillationError.invalidSpec("student \(name) must be positive") }
        }
    }
}

/// Refuses keys a Codable type does not know (a typo would otherwise silently take the default).
func rejectUnknownKeys<Keys: CodingKey & CaseIterable>(_ decoder: Decoder, _ keys: Keys.Type) throws {
    if let unknown = try unknownKey(in: decoder, known: keys) { throw DistillationError.invalidSpec(unknown) }
}

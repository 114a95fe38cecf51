import Bert
import Foundation
import TeacherCache
import Tokenization

/// A training spec resolved against a cache and a student: which teacher tensor each objective
/// reads, which projections exist, what the reader must decode. Built before the first step, so
/// a cache that lacks something fails at once with the `distillery cache` flags that would add it.
public struct TrainingPlan: Sendable {
    public struct HiddenPair: Sendable, Equatable {
        public var student: Int, teacher: Int
        /// A learned (teacher width × student width) projection when the widths differ (TinyBERT).
        public var projected: Bool
    }

    public let spec: TrainSpec
    public let student: BertConfig
    public let heads: BertHeads
    public let teacher: CacheProvenance.Teacher
    public let objectives: [(kind: ObjectiveKind, weight: Float)]
    public let hiddenPairs: [HiddenPair]
    public let attentionPairs: [LayerMapping.Pair]
    public let relationPairs: [LayerMapping.Pair]
    /// TED: student layer ↔ filtered teacher layer, and the stage-one teacher filters (nil without `ted`).
    public let tedPairs: [LayerMapping.Pair]
    public let tedFilters: TedFilterFile?
    /// pooled_mse: the student's last layer ↔ the teacher's last layer, each pooled (`spec.pooling`).
    public let pooledPair: HiddenPair?
    /// The student's own tokenizer (it encodes each cached example's text itself); nil when it
    /// shares the teacher's.
    public let studentTokenizer: (any Tokenizer)?
    public let isMaskedLM: Bool
    /// Classification (labels > 1) or regression (1 output) head width; 0 when the student has none.
    public let classifierLabels: Int
    /// What the reader decodes for the objectives (the dev evaluator may add the teacher's last hidden state).
    public internal(set) var selection: CacheSelection
    /// The temperature the sampled cache drew at (Random-Sampling KD uses the same τ on the student).
    public let sampledTemperature: Float
    /// mse regresses on the gold scores instead of the teacher's outputs: an inputs-only cache
    /// (fine-tuning a one-output head) holds no teacher outputs to match.
    public let mseOnGoldScores: Bool

    public init(spec: TrainSpec, student config: BertConfig, cache: CacheReader, tokenizer: (any Tokenizer)? = nil) throws {
        if tokenizer != nil && cache.provenance.exampleText == nil {
            throw DistillationError.incompatible("\(cache.url.path) stores no example texts (written before Distillery stored them), which a student with its own tokenizer encodes; rebuild the cache with `distillery cache`")
        }
        try self.init(spec: spec, student: config, teacher: cache.provenance.teacher, cacheSpec: cache.spec,
                      isMaskedLM: cache.isMaskedLM, labelNames: cache.labelNames, tokenizer: tokenizer)
    }

    /// The same from what a cache records (its teacher, its spec, its head and label names).
    public init(spec: TrainSpec, student config: BertConfig, teacher: CacheProvenance.Teacher, cacheSpec: CacheSpec,
                isMaskedLM: Bool, labelNames: [String]?, tokenizer: (any Tokenizer)? = nil) throws {
        try spec.validate()
        self.spec = spec
        studentTokenizer = tokenizer
        self.teacher = teacher
        self.isMaskedLM = isMaskedLM
        sampledTemperature = cacheSpec.sampledTemperature
        objectives = spec.objectives.sorted { $0.key < $1.key }.map { (kind: $0.key, weight: $0.value) }
        let kinds = Set(spec.objectives.keys)
        mseOnGoldScores = kinds.contains(.mse) && cacheSpec.isInputsOnly

        if let tokenizer {
            // Another tokenizer: only what the cache holds per sequence can be learned.
            let tokenLevel = kinds.filter(\.isTokenLevel).map(\.rawValue).sorted()
            guard tokenLevel.isEmpty else {
                throw DistillationError.invalidSpec("\(tokenLevel.joined(separator: ", ")) compare the student and teacher token by token, but this student has its own tokenizer (\(spec.student.tokenizer ?? "")), so its tokens are not the teacher's; use ce, mse, kd, kd_topk, kd_sampled or pooled_mse")
            }
            guard !isMaskedLM else {
                throw DistillationError.invalidSpec("a masked-LM cache's targets belong to the teacher's tokens, so a student with its own tokenizer cannot learn from it")
            }
            guard config.vocabSize == tokenizer.vocabularySize else {
                throw DistillationError.incompatible("the student's vocabulary (\(config.vocabSize)) differs from its tokenizer's (\(tokenizer.vocabularySize))")
            }
        } else if config.vocabSize != teacher.vocabularySize {
            throw DistillationError.incompatible("the student's vocabulary (\(config.vocabSize)) differs from the teacher's (\(teacher.vocabularySize)); a student shares the teacher's tokenizer unless it names its own (student.tokenizer)")
        }
        // Heads: what the cache can teach decides what the student grows.
        let wantsLogits = kinds.contains { $0.usesLogits }
        if isMaskedLM {
            classifierLabels = 0
            heads = BertHeads(pooler: true, classifierLabels: 0, maskedLM: wantsLogits)
        } else if teacher.head == "classifier" {
            classifierLabels = teacher.classifierLabels
            heads = BertHeads(pooler: true, classifierLabels: classifierLabels)
        } else if let names = labelNames {
            classifierLabels = names.count
            heads = BertHeads(pooler: true, classifierLabels: classifierLabels)
        } else {
            classifierLabels = 0
            heads = BertHeads(pooler: true)
        }
        student = config

        func missing(_ what: String, flag: String) -> DistillationError {
            .missingTargets("\(what); rebuild the cache with `distillery cache … \(flag)`")
        }
        // Logit objectives.
        if wantsLogits && !isMaskedLM && classifierLabels == 0 {
            throw DistillationError.missingTargets("\(kinds.filter(\.usesLogits).map(\.rawValue).sorted().joined(separator: ", ")) need a classification teacher or labelled data; this cache has neither (teacher head: \(teacher.head))")
        }
        if kinds.contains(.ce) && !isMaskedLM && labelNames == nil && !(classifierLabels == 1) {
            throw missing("ce needs gold labels, and the cache has none", flag: "--label-field NAME")
        }
        if kinds.contains(.mse) && classifierLabels != 1 {
            throw DistillationError.invalidSpec("mse is for regression heads (one output); this student has \(classifierLabels) outputs — use kd or ce")
        }
        if classifierLabels == 1, let kind = kinds.filter({ [.ce, .kd, .kdTopk, .kdSampled].contains($0) }).min() {
            throw DistillationError.invalidSpec("\(kind.rawValue) needs classes; a one-output (regression) head trains with mse")
        }
        for (kind, form) in [(ObjectiveKind.kd, CacheSpec.LogitsForm.full), (.kdTopk, .topk), (.kdSampled, .sampled), (.mse, .full)]
        where kinds.contains(kind) && !(kind == .mse && mseOnGoldScores) && !cacheSpec.logits.contains(form) {
            throw missing("\(kind.rawValue) needs the teacher's \(form.rawValue) logits (cached: \(cacheSpec.logits.isEmpty ? "none" : cacheSpec.logits.map(\.rawValue).joined(separator: ", ")))",
                          flag: "--logits " + (cacheSpec.logits + [form]).map(\.rawValue).joined(separator: " "))
        }

        // Hidden states.
        let studentLayers = config.numHiddenLayers, teacherLayers = teacher.layers
        if kinds.contains(where: \.usesHiddenMapping) {
            let pairs = try spec.hiddenMapping.resolve(studentLayers: studentLayers, teacherLayers: teacherLayers, includesEmbeddings: true, what: "hidden")
            let absent = pairs.map(\.teacher).filter { !cacheSpec.hiddenLayers.contains($0) }
            if !absent.isEmpty {
                throw missing("the hidden-state objectives map to teacher layers \(Self.list(pairs.map(\.teacher))) but the cache holds hidden states \(Self.list(cacheSpec.hiddenLayers))",
                              flag: "--hidden \(Self.list(Array(Set(cacheSpec.hiddenLayers + pairs.map(\.teacher))).sorted()))")
            }
            hiddenPairs = pairs.map { HiddenPair(student: $0.student, teacher: $0.teacher, projected: config.hiddenSize != teacher.hiddenSize) }
        } else {
            hiddenPairs = []
        }
        // Attention: probabilities for attention_kl, Q/K/V for scores and value relations.
        if kinds.contains(where: \.usesAttentionMapping) {
            attentionPairs = try spec.attentionMapping.resolve(studentLayers: studentLayers, teacherLayers: teacherLayers, includesEmbeddings: false, what: "attention")
            guard config.numAttentionHeads == teacher.heads else {
                throw DistillationError.incompatible("\(kinds.filter(\.usesAttentionMapping).map(\.rawValue).sorted().joined(separator: ", ")) compare head by head, so the student needs the teacher's \(teacher.heads) heads (it has \(config.numAttentionHeads)); MiniLM v2 relations work with any head count")
            }
            let teacherSide = attentionPairs.map(\.teacher)
            if kinds.contains(.attentionKL), teacherSide.contains(where: { !cacheSpec.attentionLayers.contains($0) }) {
                throw missing("attention_kl maps to teacher layers \(Self.list(teacherSide)) but the cache holds attention \(Self.list(cacheSpec.attentionLayers))",
                              flag: "--attention \(Self.list(Array(Set(cacheSpec.attentionLayers + teacherSide)).sorted()))")
            }
            if kinds.contains(.attentionScores) || kinds.contains(.valueRelation), teacherSide.contains(where: { !cacheSpec.relationLayers.contains($0) }) {
                throw missing("attention_scores and value_relation use the teacher's Q/K/V of layers \(Self.list(teacherSide)) but the cache holds relations \(Self.list(cacheSpec.relationLayers))",
                              flag: "--relations \(Self.list(Array(Set(cacheSpec.relationLayers + teacherSide)).sorted()))")
            }
        } else {
            attentionPairs = []
        }
        if kinds.contains(.relations) {
            relationPairs = try spec.relationMapping.resolve(studentLayers: studentLayers, teacherLayers: teacherLayers, includesEmbeddings: false, what: "relation")
            let teacherSide = relationPairs.map(\.teacher)
            if teacherSide.contains(where: { !cacheSpec.relationLayers.contains($0) }) {
                throw missing("relations map to teacher layers \(Self.list(teacherSide)) but the cache holds Q/K/V of layers \(Self.list(cacheSpec.relationLayers))",
                              flag: "--relations \(Self.list(Array(Set(cacheSpec.relationLayers + teacherSide)).sorted()))")
            }
            guard config.hiddenSize % spec.relationHeads == 0, teacher.hiddenSize % spec.relationHeads == 0 else {
                throw DistillationError.invalidSpec("relation_heads \(spec.relationHeads) must divide the student's width \(config.hiddenSize) and the teacher's \(teacher.hiddenSize)")
            }
        } else {
            relationPairs = []
        }
        // TED: the teacher filters of stage one, and the teacher hidden states they filter.
        if kinds.contains(.ted), let path = spec.tedFilters {
            let file = try TedFilterFile.load(URL(fileURLWithPath: path))
            guard file.inputWidth == teacher.hiddenSize, file.teacherSHA256.isEmpty || file.teacherSHA256 == teacher.weightsSHA256 else {
                throw DistillationError.incompatible("the TED filters \(path) were trained on another teacher's hidden states (width \(file.inputWidth), weights \(file.teacherSHA256.prefix(12))…) than this cache's (width \(teacher.hiddenSize), weights \(teacher.weightsSHA256.prefix(12))…)")
            }
            let pairs = try spec.tedMapping.resolve(studentLayers: studentLayers, teacherLayers: teacherLayers, includesEmbeddings: false, what: "ted")
            let teacherSide = pairs.map(\.teacher)
            let unfiltered = teacherSide.filter { !file.layers.contains($0) }
            if !unfiltered.isEmpty {
                throw DistillationError.invalidSpec("ted_mapping \(spec.tedMapping) pairs the student with teacher layers \(Self.list(teacherSide)), but \(path) holds teacher filters for layers \(Self.list(file.layers)) only (none for \(Self.list(unfiltered))); give ted_mapping pairs onto filtered layers (student:teacher, e.g. \(studentLayers):\(file.layers.last!)) or train filters for them with `distillery ted-filters --layers \(Self.list(Array(Set(file.layers + unfiltered)).sorted()))`")
            }
            if teacherSide.contains(where: { !cacheSpec.hiddenLayers.contains($0) }) {
                throw missing("the ted objective filters teacher layers \(Self.list(teacherSide)) but the cache holds hidden states \(Self.list(cacheSpec.hiddenLayers))",
                              flag: "--hidden \(Self.list(Array(Set(cacheSpec.hiddenLayers + teacherSide)).sorted()))")
            }
            tedPairs = pairs
            tedFilters = file
        } else {
            tedPairs = []
            tedFilters = nil
        }
        // pooled_mse: the last layers, the teacher's from the cache.
        if kinds.contains(.pooledMSE) {
            guard cacheSpec.hiddenLayers.contains(teacherLayers) else {
                throw missing("pooled_mse pools the teacher's last hidden state (layer \(teacherLayers)) but the cache holds hidden states \(Self.list(cacheSpec.hiddenLayers))",
                              flag: "--hidden \(Self.list(Array(Set(cacheSpec.hiddenLayers + [teacherLayers])).sorted()))")
            }
            pooledPair = HiddenPair(student: studentLayers, teacher: teacherLayers, projected: config.hiddenSize != teacher.hiddenSize)
        } else {
            pooledPair = nil
        }
        var logitForms: [CacheSpec.LogitsForm] = []
        if kinds.contains(.kd) || (kinds.contains(.mse) && !mseOnGoldScores) { logitForms.append(.full) }
        if kinds.contains(.kdTopk) { logitForms.append(.topk) }
        if kinds.contains(.kdSampled) { logitForms.append(.sampled) }
        let relationLayers = Set(relationPairs.map(\.teacher) + (kinds.contains(.attentionScores) || kinds.contains(.valueRelation) ? attentionPairs.map(\.teacher) : []))
        selection = CacheSelection(hiddenLayers: Array(Set(hiddenPairs.map(\.teacher) + tedPairs.map(\.teacher) + (pooledPair.map { [$0.teacher] } ?? []))).sorted(),
                                   attentionLayers: kinds.contains(.attentionKL) ? Array(Set(attentionPairs.map(\.teacher))).sorted() : [],
                                   relationLayers: relationLayers.sorted(), logits: logitForms, texts: tokenizer != nil)
    }

    static func list(_ layers: [Int]) -> String { layers.isEmpty ? "none" : layers.map(String.init).joined(separator: ",") }
}

import Bert
import Foundation
import Tokenization
import Training

/// Builds the student: its architecture from the spec and the teacher's geometry, its heads
/// from what the cache teaches, and its first weights (random, or copied from teacher layers
/// as in Wang et al. 2023, "How to distill your BERT").
public enum StudentFactory {
    /// The student's config: the teacher's, with the spec's depth, any width it overrides, and its
    /// family. A family that counts positions after the padding id (RoBERTa) gets that many more
    /// position rows than a teacher counting from 0, so both cover the same sequence lengths.
    /// A student with its own `tokenizer` takes that tokenizer's vocabulary and padding id.
    public static func config(for spec: StudentSpec, teacher: BertConfig, tokenizer: (any Tokenizer)? = nil) throws -> BertConfig {
        var config = teacher
        if let tokenizer {
            config.vocabSize = tokenizer.vocabularySize
            config.padTokenId = Int(tokenizer.padId)
        }
        if let name = spec.family { config.family = try ModelFamily.named(name) }
        if spec.family != nil || tokenizer != nil {
            config.maxPositionEmbeddings = teacher.maxSequenceLength + positionOffset(config)
            if config.family.tokenTypes && !teacher.family.tokenTypes { config.typeVocabSize = 2 }
        }
        config.numHiddenLayers = spec.layers
        config.hiddenSize = spec.hiddenSize ?? teacher.hiddenSize
        config.numAttentionHeads = spec.heads ?? (spec.hiddenSize == nil ? teacher.numAttentionHeads : max(1, config.hiddenSize / 64))
        config.intermediateSize = spec.intermediateSize ?? (spec.hiddenSize == nil ? teacher.intermediateSize : 4 * config.hiddenSize)
        config.hiddenDropoutProb = spec.dropout
        config.attentionProbsDropoutProb = spec.dropout
        config.labels = nil  // the student's classes come from the cache, not the teacher's head
        guard config.hiddenSize % config.numAttentionHeads == 0 else {
            throw DistillationError.invalidSpec("student hidden size \(config.hiddenSize) is not a multiple of its \(config.numAttentionHeads) heads")
        }
        return config
    }

    /// The position-embedding row of a sequence's first token: 0, or pad_token_id + 1 for RoBERTa.
    static func positionOffset(_ config: BertConfig) -> Int {
        config.maxPositionEmbeddings - config.maxSequenceLength
    }

    /// The student's own tokenizer (`student.tokenizer`), nil when it shares the teacher's.
    public static func tokenizer(for spec: StudentSpec) throws -> (any Tokenizer)? {
        guard let path = spec.tokenizer else { return nil }
        do { return try loadTokenizer(modelDirectory: URL(fileURLWithPath: path)) } catch {
            throw DistillationError.io("the student's tokenizer (student.tokenizer \(path)): \(error)")
        }
    }

    /// Teacher layers (1-based) a student of `studentLayers` copies.
    public static func teacherLayers(_ choice: StudentSpec.Initialization.TeacherLayers, studentLayers: Int, teacherLayers: Int) throws -> [Int] {
        guard studentLayers <= teacherLayers else {
            throw DistillationError.invalidSpec("a \(studentLayers)-layer student cannot copy layers from a \(teacherLayers)-layer teacher; use init: random")
        }
        let layers: [Int]
        switch choice {
        case .lower: layers = Array(1...studentLayers)
        case .upper: layers = Array((teacherLayers - studentLayers + 1)...teacherLayers)
        case .uniform:
            // Every k-th layer ending at the last one (DistilBERT-like spacing), e.g. 2,4,6 of 6.
            layers = (1...studentLayers).map { Int((Double($0) * Double(teacherLayers) / Double(studentLayers)).rounded(.down)) }
        case .list(let list):
            guard list.count == studentLayers else {
                throw DistillationError.invalidSpec("initialisation lists \(list.count) teacher layers for a \(studentLayers)-layer student")
            }
            for l in list where !(1...teacherLayers).contains(l) {
                throw DistillationError.invalidSpec("initialisation layer \(l) is outside the teacher's 1…\(teacherLayers)")
            }
            layers = list
        }
        return layers
    }

    /// Fills `student` with its initial weights. Teacher copying needs equal widths (hidden,
    /// heads and FFN) and copies the embeddings, their LayerNorm, the chosen layers, and the
    /// pooler and heads where both models have them; everything else starts random.
    public static func initialize(_ student: BertParameters, spec: StudentSpec, teacherDirectory: URL?, seed: UInt64) throws -> [Int] {
        initializeRandomly(student, seed: seed)
        guard case .teacher(let choice) = spec.initialization else { return [] }
        guard let teacherDirectory else { throw DistillationError.invalidSpec("initialising from teacher layers needs the teacher folder (--teacher)") }
        let teacher: BertModel
        do { teacher = try BertModel.load(directory: teacherDirectory) } catch {
            throw DistillationError.io("cannot load the teacher for initialisation from \(teacherDirectory.path): \(error)")
        }
        let s = student.layout.config, t = teacher.config
        guard s.hiddenSize == t.hiddenSize, s.numAttentionHeads == t.numAttentionHeads, s.intermediateSize == t.intermediateSize else {
            throw DistillationError.incompatible("copying teacher layers needs equal widths: student hidden \(s.hiddenSize)/heads \(s.numAttentionHeads)/FFN \(s.intermediateSize), teacher \(t.hiddenSize)/\(t.numAttentionHeads)/\(t.intermediateSize); use init: random or the teacher's widths")
        }
        let layers = try teacherLayers(choice, studentLayers: s.numHiddenLayers, teacherLayers: t.numHiddenLayers)
        let from = teacher.layout, to = student.layout
        func copy(_ src: ParameterTensor?, _ dst: ParameterTensor?) {
            guard let src, let dst, src.shape == dst.shape else { return }
            student[dst].update(from: teacher.parameters[src], count: dst.count)
        }
        copy(from.wordEmbeddings, to.wordEmbeddings)
        // Position t of the student gets the teacher's position t, wherever each family starts counting.
        let (fromRow, toRow) = (positionOffset(t), positionOffset(s))
        let rows = min(t.maxPositionEmbeddings - fromRow, s.maxPositionEmbeddings - toRow)
        (student[to.positionEmbeddings] + toRow * s.hiddenSize)
            .update(from: teacher.parameters[from.positionEmbeddings] + fromRow * t.hiddenSize, count: rows * s.hiddenSize)
        copy(from.tokenTypeEmbeddings, to.tokenTypeEmbeddings)
        copy(from.embeddingNormWeight, to.embeddingNormWeight)
        copy(from.embeddingNormBias, to.embeddingNormBias)
        for (studentIndex, teacherLayer) in layers.enumerated() {
            let a = from.layers[teacherLayer - 1], b = to.layers[studentIndex]
            for (src, dst) in zip(a.tensors, b.tensors) { copy(src, dst) }
        }
        // The dense layer before the classifier only where it has the same activation (BERT's tanh
        // pooler is not DistilBERT's ReLU pre_classifier).
        if t.family.poolerActivation == s.family.poolerActivation {
            copy(from.poolerWeight, to.poolerWeight); copy(from.poolerBias, to.poolerBias)
            copy(from.classifierWeight, to.classifierWeight); copy(from.classifierBias, to.classifierBias)
        }
        copy(from.mlmTransformWeight, to.mlmTransformWeight); copy(from.mlmTransformBias, to.mlmTransformBias)
        copy(from.mlmNormWeight, to.mlmNormWeight); copy(from.mlmNormBias, to.mlmNormBias)
        copy(from.mlmBias, to.mlmBias)
        return layers
    }
}

extension StudentFactory {
    /// `base` with other heads (e.g. a new classifier for fine-tuning or benchmarking): every
    /// tensor `base` has with the same name and shape is copied, the others (new heads, or a head
    /// of another width) start from BERT's random initialisation.
    public static func model(_ base: BertModel, withHeads heads: BertHeads, labels: [String]? = nil, seed: UInt64) -> BertModel {
        var config = base.config
        config.labels = labels
        let parameters = BertParameters(layout: BertLayout(config: config, heads: heads))
        initializeRandomly(parameters, seed: seed)
        for tensor in parameters.layout.tensors {
            if let source = base.layout.tensor(named: tensor.name), source.shape == tensor.shape { parameters[tensor].update(from: base.parameters[source], count: tensor.count) }
        }
        return BertModel(config: config, parameters: parameters)
    }
}

extension BertLayout.Layer {
    /// The layer's tensors in a fixed order (for copying layer to layer).
    var tensors: [ParameterTensor] {
        [qkvWeight, qkvBias, attentionOutWeight, attentionOutBias, attentionNormWeight, attentionNormBias,
         intermediateWeight, intermediateBias, outputWeight, outputBias, outputNormWeight, outputNormBias]
    }
}

import Foundation

/// The architecture of a BERT encoder, read from a Hugging Face `config.json`.
public struct BertConfig: Codable, Equatable, Sendable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var intermediateSize: Int
    public var maxPositionEmbeddings: Int
    public var typeVocabSize: Int
    public var layerNormEps: Float
    public var hiddenAct: String
    public var hiddenDropoutProb: Float
    public var attentionProbsDropoutProb: Float
    public var initializerRange: Float
    public var padTokenId: Int
    /// Class names of a sequence-classification head, index order (from `id2label`).
    public var labels: [String]?
    /// The family `model_type` names (`ModelFamily`; refused when unknown).
    public var family: ModelFamily = .bert

    public init(vocabSize: Int, hiddenSize: Int, numHiddenLayers: Int, numAttentionHeads: Int,
                intermediateSize: Int, maxPositionEmbeddings: Int = 512, typeVocabSize: Int = 2,
                layerNormEps: Float = 1e-12, hiddenAct: String = "gelu", hiddenDropoutProb: Float = 0.1,
                attentionProbsDropoutProb: Float = 0.1, initializerRange: Float = 0.02, padTokenId: Int = 0,
                labels: [String]? = nil) {
        self.vocabSize = vocabSize; self.hiddenSize = hiddenSize; self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads; self.intermediateSize = intermediateSize
        self.maxPositionEmbeddings = maxPositionEmbeddings; self.typeVocabSize = typeVocabSize
        self.layerNormEps = layerNormEps; self.hiddenAct = hiddenAct; self.hiddenDropoutProb = hiddenDropoutProb
        self.attentionProbsDropoutProb = attentionProbsDropoutProb; self.initializerRange = initializerRange
        self.padTokenId = padTokenId; self.labels = labels
    }

    public var headSize: Int { hiddenSize / numAttentionHeads }

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", intermediateSize = "intermediate_size"
        case maxPositionEmbeddings = "max_position_embeddings", typeVocabSize = "type_vocab_size"
        case layerNormEps = "layer_norm_eps", hiddenAct = "hidden_act", hiddenDropoutProb = "hidden_dropout_prob"
        case attentionProbsDropoutProb = "attention_probs_dropout_prob", initializerRange = "initializer_range"
        case padTokenId = "pad_token_id", id2label, positionEmbeddingType = "position_embedding_type", modelType = "model_type"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        // The family first: another family's keys would give misleading errors below.
        family = try ModelFamily.named(try c.decodeIfPresent(String.self, forKey: .modelType))
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        numHiddenLayers = try c.decode(Int.self, forKey: .numHiddenLayers)
        numAttentionHeads = try c.decode(Int.self, forKey: .numAttentionHeads)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? 512
        typeVocabSize = try c.decodeIfPresent(Int.self, forKey: .typeVocabSize) ?? 2
        layerNormEps = try c.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? 1e-12
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? "gelu"
        hiddenDropoutProb = try c.decodeIfPresent(Float.self, forKey: .hiddenDropoutProb) ?? 0.1
        attentionProbsDropoutProb = try c.decodeIfPresent(Float.self, forKey: .attentionProbsDropoutProb) ?? 0.1
        initializerRange = try c.decodeIfPresent(Float.self, forKey: .initializerRange) ?? 0.02
        padTokenId = try c.decodeIfPresent(Int.self, forKey: .padTokenId) ?? 0
        if let map = try c.decodeIfPresent([String: String].self, forKey: .id2label) {
            labels = try map.keys.compactMap(Int.init).sorted().map { i in
                guard let name = map[String(i)] else { throw BertError.invalidConfig("id2label has no entry \(i)") }
                return name
            }
            if labels?.count != map.count { throw BertError.invalidConfig("id2label keys must be integers 0..<n") }
        }
        if let kind = try c.decodeIfPresent(String.self, forKey: .positionEmbeddingType), kind != "absolute" {
            throw BertError.invalidConfig("position_embedding_type '\(kind)' is not supported (only 'absolute')")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(vocabSize, forKey: .vocabSize); try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(numHiddenLayers, forKey: .numHiddenLayers); try c.encode(numAttentionHeads, forKey: .numAttentionHeads)
        try c.encode(intermediateSize, forKey: .intermediateSize); try c.encode(maxPositionEmbeddings, forKey: .maxPositionEmbeddings)
        try c.encode(typeVocabSize, forKey: .typeVocabSize); try c.encode(layerNormEps, forKey: .layerNormEps)
        try c.encode(hiddenAct, forKey: .hiddenAct); try c.encode(hiddenDropoutProb, forKey: .hiddenDropoutProb)
        try c.encode(attentionProbsDropoutProb, forKey: .attentionProbsDropoutProb)
        try c.encode(initializerRange, forKey: .initializerRange); try c.encode(padTokenId, forKey: .padTokenId)
        try c.encode("absolute", forKey: .positionEmbeddingType)
        try c.encode(family.name, forKey: .modelType)
        if let labels {
            try c.encode(Dictionary(uniqueKeysWithValues: labels.enumerated().map { (String($0.offset), $0.element) }), forKey: .id2label)
        }
    }

    /// Checks the numbers make a valid encoder; `file` names where they came from.
    public func validate(file: String) throws {
        func fail(_ why: String) -> BertError { .invalidConfig("\(file): \(why)") }
        for (name, value) in [("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("num_hidden_layers", numHiddenLayers),
                              ("num_attention_heads", numAttentionHeads), ("intermediate_size", intermediateSize),
                              ("max_position_embeddings", maxPositionEmbeddings), ("type_vocab_size", typeVocabSize)] where value <= 0 {
            throw fail("\(name) must be positive, found \(value)")
        }
        // Far above any BERT-family model (XLM-R's vocabulary is 250,002), low enough that no
        // size computed from them overflows or asks for an absurd allocation.
        for (name, value, limit) in [("vocab_size", vocabSize, 4_000_000), ("hidden_size", hiddenSize, 16_384),
                                     ("num_hidden_layers", numHiddenLayers, 256), ("num_attention_heads", numAttentionHeads, 256),
                                     ("intermediate_size", intermediateSize, 65_536), ("max_position_embeddings", maxPositionEmbeddings, 131_072),
                                     ("type_vocab_size", typeVocabSize, 1_024)] where value > limit {
            throw fail("\(name) \(value) is over \(limit), more than any model this reads")
        }
        if hiddenSize % numAttentionHeads != 0 {
            throw fail("hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(numAttentionHeads)")
        }
        if hiddenAct != "gelu" { throw fail("hidden_act '\(hiddenAct)' is not supported (only exact 'gelu')") }
        if !(layerNormEps > 0) { throw fail("layer_norm_eps must be positive") }
    }

    public static func load(from url: URL) throws -> BertConfig {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw BertError.missingFile(url.path)
        }
        let config: BertConfig
        do { config = try JSONDecoder().decode(BertConfig.self, from: data) } catch BertError.invalidConfig(let why) {
            throw BertError.invalidConfig("\(url.path): \(why)")
        } catch let error as BertError {
            throw BertError.invalidConfig("\(url.path): \(error)")
        } catch {
            throw BertError.invalidConfig("\(url.path): \(describeDecodingError(error))")
        }
        try config.validate(file: url.path)
        return config
    }
}

func describeDecodingError(_ error: Error) -> String {
    switch error {
    case DecodingError.keyNotFound(let key, _): return "missing key '\(key.stringValue)'"
    case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
        return "wrong type at '\(context.codingPath.map(\.stringValue).joined(separator: "."))': \(context.debugDescription)"
    case DecodingError.dataCorrupted(let context): return "not valid JSON: \(context.debugDescription)"
    default: return "\(error)"
    }
}

public enum BertError: Error, CustomStringConvertible, Equatable {
    case missingFile(String)
    case invalidConfig(String)
    case weights(String)
    case input(String)
    /// A NaN or infinity in the activations of a real token: broken weights or input.
    case nonFinite(batchRow: Int, position: Int, detail: String)

    public var description: String {
        switch self {
        case .missingFile(let path): return "missing file: \(path)"
        case .invalidConfig(let why): return "invalid model config: \(why)"
        case .weights(let why): return "invalid weights: \(why)"
        case .input(let why): return "invalid input: \(why)"
        case .nonFinite(let row, let position, let detail): return "\(detail) at batch row \(row), position \(position)"
        }
    }
}

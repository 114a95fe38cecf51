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
    /// The longest input the position embeddings cover (RoBERTa: 2 fewer than max_position_embeddings).
    public var maxSequenceLength: Int { family.maxSequenceLength(self) }
    /// `maxSequenceLength` for messages: "max_position_embeddings 512", or for RoBERTa "the 512
    /// positions max_position_embeddings 514 leaves after pad_token_id 1".
    public var positionsDescription: String {
        maxSequenceLength == maxPositionEmbeddings ? "max_position_embeddings \(maxPositionEmbeddings)"
            : "the \(maxSequenceLength) positions max_position_embeddings \(maxPositionEmbeddings) leaves after pad_token_id \(padTokenId)"
    }

    /// A `config.json` key; which key holds which number depends on the family (`ConfigKeys`).
    struct Key: CodingKey {
        let stringValue: String
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        // The family first: its keys name the numbers below, and another family's keys would give misleading errors.
        family = try ModelFamily.named(try c.decodeIfPresent(String.self, forKey: Key("model_type")))
        let keys = family.configKeys
        func value<T: Decodable>(_ key: String, _ fallback: T? = nil) throws -> T {
            if let fallback { return try c.decodeIfPresent(T.self, forKey: Key(key)) ?? fallback }
            return try c.decode(T.self, forKey: Key(key))
        }
        vocabSize = try value("vocab_size")
        hiddenSize = try value(keys.hiddenSize)
        numHiddenLayers = try value(keys.numHiddenLayers)
        numAttentionHeads = try value(keys.numAttentionHeads)
        intermediateSize = try value(keys.intermediateSize)
        maxPositionEmbeddings = try value("max_position_embeddings", 512)
        typeVocabSize = try keys.typeVocabSize.map { try value($0, 2) } ?? 0
        layerNormEps = try keys.layerNormEps.map { try value($0, Float(1e-12)) } ?? keys.fixedLayerNormEps
        hiddenAct = try value(keys.hiddenAct, "gelu")
        hiddenDropoutProb = try value(keys.hiddenDropoutProb, Float(0.1))
        attentionProbsDropoutProb = try value(keys.attentionProbsDropoutProb, Float(0.1))
        initializerRange = try value("initializer_range", Float(0.02))
        padTokenId = try value("pad_token_id", 0)
        if let map = try c.decodeIfPresent([String: String].self, forKey: Key("id2label")) {
            labels = try map.keys.compactMap(Int.init).sorted().map { i in
                guard let name = map[String(i)] else { throw BertError.invalidConfig("id2label has no entry \(i)") }
                return name
            }
            if labels?.count != map.count { throw BertError.invalidConfig("id2label keys must be integers 0..<n") }
        }
        if let kind = try c.decodeIfPresent(String.self, forKey: Key("position_embedding_type")), kind != "absolute" {
            throw BertError.invalidConfig("position_embedding_type '\(kind)' is not supported (only 'absolute')")
        }
        for (key, wanted) in keys.required.sorted(by: { $0.key < $1.key }) {
            guard case .bool(let expected) = wanted, let found = try c.decodeIfPresent(Bool.self, forKey: Key(key)) else { continue }
            if found != expected { throw BertError.invalidConfig("\(key): \(found) is not supported (\(family.name) models here need \(expected))") }
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        let keys = family.configKeys
        try c.encode(vocabSize, forKey: Key("vocab_size")); try c.encode(hiddenSize, forKey: Key(keys.hiddenSize))
        try c.encode(numHiddenLayers, forKey: Key(keys.numHiddenLayers)); try c.encode(numAttentionHeads, forKey: Key(keys.numAttentionHeads))
        try c.encode(intermediateSize, forKey: Key(keys.intermediateSize)); try c.encode(maxPositionEmbeddings, forKey: Key("max_position_embeddings"))
        if let key = keys.typeVocabSize { try c.encode(typeVocabSize, forKey: Key(key)) }
        if let key = keys.layerNormEps { try c.encode(layerNormEps, forKey: Key(key)) }
        try c.encode(hiddenAct, forKey: Key(keys.hiddenAct)); try c.encode(hiddenDropoutProb, forKey: Key(keys.hiddenDropoutProb))
        try c.encode(attentionProbsDropoutProb, forKey: Key(keys.attentionProbsDropoutProb))
        try c.encode(initializerRange, forKey: Key("initializer_range")); try c.encode(padTokenId, forKey: Key("pad_token_id"))
        if keys.typeVocabSize != nil { try c.encode("absolute", forKey: Key("position_embedding_type")) }
        try c.encode(family.name, forKey: Key("model_type"))
        for (key, value) in keys.exportExtras.sorted(by: { $0.key < $1.key }) { try c.encode(value, forKey: Key(key)) }
        if let labels {
            try c.encode(Dictionary(uniqueKeysWithValues: labels.enumerated().map { (String($0.offset), $0.element) }), forKey: Key("id2label"))
        }
    }

    /// Checks the numbers make a valid encoder; `file` names where they came from.
    public func validate(file: String) throws {
        func fail(_ why: String) -> BertError { .invalidConfig("\(file): \(why)") }
        let keys = family.configKeys
        var counts = [("vocab_size", vocabSize), (keys.hiddenSize, hiddenSize), (keys.numHiddenLayers, numHiddenLayers),
                      (keys.numAttentionHeads, numAttentionHeads), (keys.intermediateSize, intermediateSize),
                      ("max_position_embeddings", maxPositionEmbeddings)]
        if let key = keys.typeVocabSize { counts.append((key, typeVocabSize)) }
        for (name, value) in counts where value <= 0 {
            throw fail("\(name) must be positive, found \(value)")
        }
        // Far above any BERT-family model (XLM-R's vocabulary is 250,002), low enough that no
        // size computed from them overflows or asks for an absurd allocation.
        for (name, value, limit) in [("vocab_size", vocabSize, 4_000_000), (keys.hiddenSize, hiddenSize, 16_384),
                                     (keys.numHiddenLayers, numHiddenLayers, 256), (keys.numAttentionHeads, numAttentionHeads, 256),
                                     (keys.intermediateSize, intermediateSize, 65_536), ("max_position_embeddings", maxPositionEmbeddings, 131_072),
                                     ("type_vocab_size", typeVocabSize, 1_024)] where value > limit {
            throw fail("\(name) \(value) is over \(limit), more than any model this reads")
        }
        if hiddenSize % numAttentionHeads != 0 {
            throw fail("\(keys.hiddenSize) \(hiddenSize) is not a multiple of \(keys.numAttentionHeads) \(numAttentionHeads)")
        }
        if hiddenAct != "gelu" { throw fail("\(keys.hiddenAct) '\(hiddenAct)' is not supported (only exact 'gelu')") }
        if padTokenId < 0 || padTokenId >= vocabSize { throw fail("pad_token_id \(padTokenId) is outside the vocabulary of \(vocabSize)") }
        if maxSequenceLength < 1 {
            throw fail("max_position_embeddings \(maxPositionEmbeddings) leaves no position after pad_token_id \(padTokenId) (RoBERTa counts positions from pad_token_id + 1)")
        }
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

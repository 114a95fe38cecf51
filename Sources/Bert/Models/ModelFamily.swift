/// A model family: everything that differs between BERT-like encoders, as data that the one
/// forward pass (`BertEncoderPass`), the parameter layout, the checkpoint loader and the exporter
/// read. The registry maps `config.json`'s `model_type` to the family; each family is one file in
/// this folder (docs/adding-a-model.md). Any other `model_type` is refused by name, with the
/// supported list.
///
/// Internally every family uses BERT's parameter names (`encoder.layer.0.attention.self.query…`);
/// `names` translates them to the family's checkpoint names, in one table per family.
public struct ModelFamily: Sendable, Equatable {
    public struct Architectures: Sendable, Equatable {
        public let encoder, classifier, maskedLM: String
    }

    /// How position ids are made from the input ids.
    public enum PositionIds: Sendable, Equatable {
        /// 0, 1, …, T−1 in every row (BERT, DistilBERT).
        case fromZero
        /// RoBERTa's `create_position_ids_from_input_ids`: padding tokens get `pad_token_id`, real
        /// tokens `pad_token_id + 1 +` the count of real tokens before them in the row.
        case afterPadding
    }

    /// The activation of the dense layer between the encoder and the classifier.
    public enum PoolerActivation: String, Sendable, Equatable { case tanh, relu }

    /// Checkpoint names of the family, as the translation of BERT's internal names.
    public struct Names: Sendable, Equatable {
        /// Prefix of the encoder's weights in task checkpoints (`bert.` in BertForSequenceClassification).
        public let encoderPrefix: String
        /// What replaces `encoder.layer.` (DistilBERT: `transformer.layer.`).
        public let layers: String
        /// Per-layer tensors: BERT's name after `encoder.layer.<l>.` → the family's (weight/bias added).
        public let layerParts: [String: String]
        /// Everything else: BERT's name without `.weight`/`.bias` → the family's, when it differs.
        public let renamed: [String: String]
        /// BERT's `pooler.dense` when a classifier sits on it (RoBERTa: `classifier.dense`).
        public let classifierPooler: String
        /// Keys a checkpoint may carry that the layout does not need (buffers, tied decoders).
        public let harmlessExtras: Set<String>
        /// Prefixes of keys that may be present and are ignored (BERT's next-sentence head).
        public let harmlessPrefixes: [String]
    }

    /// The name used in messages and exported as `model_type`.
    public let name: String
    /// `model_type` values that mean this family.
    public let modelTypes: [String]
    public let architectures: Architectures
    public let positionIds: PositionIds
    /// Whether the embeddings add a token-type (segment) embedding; without, token type ids are ignored.
    public let tokenTypes: Bool
    public let poolerActivation: PoolerActivation
    /// Whether the base model (`architectures.encoder`) has a pooler (DistilBertModel has none).
    public let encoderHasPooler: Bool
    public let names: Names
    /// How `config.json` names the architecture's numbers.
    public let configKeys: ConfigKeys

    /// The prefix of the encoder's weights in task checkpoints.
    public var checkpointPrefix: String { names.encoderPrefix }

    /// Every family this build reads.
    public static let all: [ModelFamily] = [.bert, .roberta, .xlmRoberta, .distilBert]

    /// The family `config.json` names (nil `model_type`: an old BERT config, which had none).
    public static func named(_ modelType: String?) throws -> ModelFamily {
        guard let modelType else { return .bert }
        guard let family = all.first(where: { $0.modelTypes.contains(modelType) }) else {
            throw BertError.invalidConfig("model_type '\(modelType.prefix(64))' is not supported; supported: \(all.flatMap(\.modelTypes).joined(separator: ", "))")
        }
        return family
    }

    /// The longest sequence whose position ids stay inside `max_position_embeddings`.
    public func maxSequenceLength(_ config: BertConfig) -> Int {
        switch positionIds {
        case .fromZero: return config.maxPositionEmbeddings
        case .afterPadding: return config.maxPositionEmbeddings - config.padTokenId - 1
        }
    }

    /// Position ids (B·T) of a padded batch of `ids` (B·T).
    public func fillPositionIds(_ out: UnsafeMutablePointer<Int32>, ids: UnsafePointer<Int32>, batch: Int, seq: Int, padTokenId: Int) {
        switch positionIds {
        case .fromZero:
            for b in 0..<batch { for t in 0..<seq { out[b * seq + t] = Int32(t) } }
        case .afterPadding:
            let pad = Int32(padTokenId)
            for b in 0..<batch {
                var count: Int32 = 0
                for t in 0..<seq {
                    let row = b * seq + t
                    if ids[row] != pad { count += 1; out[row] = pad + count } else { out[row] = pad }
                }
            }
        }
    }
}

/// The `config.json` keys of a family's numbers (DistilBERT's `dim`, `n_layers`, … against BERT's
/// `hidden_size`, `num_hidden_layers`, …). A nil key: the family has no such setting and the
/// fixed value applies.
public struct ConfigKeys: Sendable, Equatable {
    public var hiddenSize = "hidden_size", numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
    public var intermediateSize = "intermediate_size", hiddenAct = "hidden_act"
    public var hiddenDropoutProb = "hidden_dropout_prob", attentionProbsDropoutProb = "attention_probs_dropout_prob"
    public var typeVocabSize: String? = "type_vocab_size"
    public var layerNormEps: String? = "layer_norm_eps"
    /// LayerNorm epsilon of a family that does not store it (DistilBERT: 1e-12).
    public var fixedLayerNormEps: Float = 1e-12
    /// Keys written as they are into an exported config.json (DistilBERT's `sinusoidal_pos_embds: false`).
    public var exportExtras: [String: ExtraValue] = [:]
    /// Keys whose value must be the given one (DistilBERT's `sinusoidal_pos_embds` must be false).
    public var required: [String: ExtraValue] = [:]

    public enum ExtraValue: Sendable, Equatable, Encodable {
        case bool(Bool), number(Double), string(String)
        public func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .bool(let b): try c.encode(b)
            case .number(let n): try c.encode(n)
            case .string(let s): try c.encode(s)
            }
        }
    }

    public init() {}
}

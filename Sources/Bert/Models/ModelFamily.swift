/// A model family: what `config.json`'s `model_type` names, the prefix its task checkpoints put
/// before the encoder's weights, and the Hugging Face architecture name of each head. The registry
/// maps `model_type` to the family; each family is one file in this folder (docs/adding-a-model.md).
/// Any other `model_type` is refused by name, with the supported list.
public struct ModelFamily: Sendable, Equatable {
    public struct Architectures: Sendable, Equatable {
        public let encoder, classifier, maskedLM: String
    }

    /// The name used in messages and exported as `model_type`.
    public let name: String
    /// `model_type` values that mean this family.
    public let modelTypes: [String]
    /// Prefix of the encoder's weights in task checkpoints (`bert.` in BertForSequenceClassification).
    public let checkpointPrefix: String
    public let architectures: Architectures

    /// Every family this build reads.
    public static let all: [ModelFamily] = [.bert]

    /// The family `config.json` names (nil `model_type`: an old BERT config, which had none).
    public static func named(_ modelType: String?) throws -> ModelFamily {
        guard let modelType else { return .bert }
        guard let family = all.first(where: { $0.modelTypes.contains(modelType) }) else {
            throw BertError.invalidConfig("model_type '\(modelType.prefix(64))' is not supported; supported: \(all.flatMap(\.modelTypes).joined(separator: ", "))")
        }
        return family
    }
}

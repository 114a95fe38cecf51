extension ModelFamily {
    /// RoBERTa (Liu et al., 2019) as transformers' RobertaModel, RobertaForSequenceClassification
    /// and RobertaForMaskedLM save it: BERT's encoder with position ids counted after the padding
    /// id (`pad_token_id + 1 +` real tokens so far), one token type, a classification head
    /// dense → tanh → out_proj on `<s>` (no pooler in the task model), and `lm_head` (dense → GELU
    /// → LayerNorm → decoder tied to the word embeddings, with its bias).
    public static let roberta = ModelFamily(
        name: "roberta", modelTypes: ["roberta"],
        architectures: .init(encoder: "RobertaModel", classifier: "RobertaForSequenceClassification", maskedLM: "RobertaForMaskedLM"),
        positionIds: .afterPadding, tokenTypes: true, poolerActivation: .tanh, encoderHasPooler: true,
        names: robertaNames(prefix: "roberta."), configKeys: ConfigKeys())

    /// XLM-RoBERTa (Conneau et al., 2020): RoBERTa's network with a SentencePiece vocabulary.
    public static let xlmRoberta = ModelFamily(
        name: "xlm-roberta", modelTypes: ["xlm-roberta"],
        architectures: .init(encoder: "XLMRobertaModel", classifier: "XLMRobertaForSequenceClassification", maskedLM: "XLMRobertaForMaskedLM"),
        positionIds: .afterPadding, tokenTypes: true, poolerActivation: .tanh, encoderHasPooler: true,
        names: robertaNames(prefix: "roberta."), configKeys: ConfigKeys())

    private static func robertaNames(prefix: String) -> Names {
        .init(encoderPrefix: prefix, layers: "encoder.layer.", layerParts: [:],
              renamed: ["classifier": "classifier.out_proj", "cls.predictions.transform.dense": "lm_head.dense",
                        "cls.predictions.transform.LayerNorm": "lm_head.layer_norm", "cls.predictions": "lm_head"],
              classifierPooler: "classifier.dense",
              harmlessExtras: ["embeddings.position_ids", "embeddings.token_type_ids", "lm_head.decoder.weight", "lm_head.decoder.bias"],
              harmlessPrefixes: [])
    }
}

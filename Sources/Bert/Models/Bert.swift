extension ModelFamily {
    /// BERT (Devlin et al., 2019) as transformers' BertModel, BertForSequenceClassification and
    /// BertForMaskedLM save it: absolute position ids from 0, `type_vocab_size` token types,
    /// pooler (dense → tanh on [CLS]) → classifier, MLM head (dense → GELU → LayerNorm → decoder
    /// tied to the word embeddings, with its bias). The internal names are BERT's own.
    public static let bert = ModelFamily(
        name: "bert", modelTypes: ["bert"],
        architectures: .init(encoder: "BertModel", classifier: "BertForSequenceClassification", maskedLM: "BertForMaskedLM"),
        positionIds: .fromZero, tokenTypes: true, poolerActivation: .tanh, encoderHasPooler: true,
        names: .init(encoderPrefix: "bert.", layers: "encoder.layer.", layerParts: [:], renamed: [:],
                     classifierPooler: "pooler.dense",
                     harmlessExtras: ["embeddings.position_ids", "cls.predictions.decoder.weight", "cls.predictions.decoder.bias"],
                     harmlessPrefixes: ["cls.seq_relationship."]),
        configKeys: ConfigKeys())
}

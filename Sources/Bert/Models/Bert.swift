extension ModelFamily {
    /// BERT (Devlin et al., 2019) as transformers' BertModel, BertForSequenceClassification and
    /// BertForMaskedLM save it: absolute position ids from 0, `type_vocab_size` token types,
    /// pooler (dense → tanh on [CLS]) → classifier, MLM head (dense → GELU → LayerNorm → decoder
    /// tied to the word embeddings, with its bias). Weight names: `CheckpointNames`.
    public static let bert = ModelFamily(
        name: "bert", modelTypes: ["bert"], checkpointPrefix: "bert.",
        architectures: .init(encoder: "BertModel", classifier: "BertForSequenceClassification", maskedLM: "BertForMaskedLM"))
}

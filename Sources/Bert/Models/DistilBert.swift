extension ModelFamily {
    /// DistilBERT (Sanh et al., 2019) as transformers' DistilBertModel, DistilBertForSequenceClassification
    /// and DistilBertForMaskedLM save it: BERT's post-LayerNorm layers under other names, learned
    /// absolute positions (`sinusoidal_pos_embds: true` is refused), no token types, no pooler in
    /// the base model; the classifier is pre_classifier → ReLU → classifier on the first token; the
    /// MLM head vocab_transform → GELU → vocab_layer_norm → vocab_projector (tied, with its bias).
    public static let distilBert = ModelFamily(
        name: "distilbert", modelTypes: ["distilbert"],
        architectures: .init(encoder: "DistilBertModel", classifier: "DistilBertForSequenceClassification", maskedLM: "DistilBertForMaskedLM"),
        positionIds: .fromZero, tokenTypes: false, poolerActivation: .relu, encoderHasPooler: false,
        names: .init(encoderPrefix: "distilbert.", layers: "transformer.layer.",
                     layerParts: ["attention.self.query": "attention.q_lin", "attention.self.key": "attention.k_lin",
                                  "attention.self.value": "attention.v_lin", "attention.output.dense": "attention.out_lin",
                                  "attention.output.LayerNorm": "sa_layer_norm", "intermediate.dense": "ffn.lin1",
                                  "output.dense": "ffn.lin2", "output.LayerNorm": "output_layer_norm"],
                     renamed: ["cls.predictions.transform.dense": "vocab_transform",
                               "cls.predictions.transform.LayerNorm": "vocab_layer_norm", "cls.predictions": "vocab_projector"],
                     classifierPooler: "pre_classifier",
                     harmlessExtras: ["embeddings.position_ids", "vocab_projector.weight"], harmlessPrefixes: []),
        configKeys: {
            var keys = ConfigKeys()
            keys.hiddenSize = "dim"; keys.numHiddenLayers = "n_layers"; keys.numAttentionHeads = "n_heads"
            keys.intermediateSize = "hidden_dim"; keys.hiddenAct = "activation"
            keys.hiddenDropoutProb = "dropout"; keys.attentionProbsDropoutProb = "attention_dropout"
            keys.typeVocabSize = nil; keys.layerNormEps = nil; keys.fixedLayerNormEps = 1e-12
            keys.exportExtras = ["sinusoidal_pos_embds": .bool(false),
                                 "seq_classif_dropout": .number(0.2), "qa_dropout": .number(0.1)]
            keys.required = ["sinusoidal_pos_embds": .bool(false)]
            return keys
        }())
}

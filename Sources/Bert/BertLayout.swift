import Kernels

/// One named tensor inside a parameter buffer.
public struct ParameterTensor: Equatable, Sendable {
    public let name: String
    public let offset: Int
    public let shape: [Int]
    public var count: Int { shape.reduce(1, *) }
}

/// Which optional parts sit on top of the encoder.
public struct BertHeads: Equatable, Sendable {
    public var pooler: Bool
    /// Number of classes of a sequence-classification head (needs the pooler); 0 when absent.
    public var classifierLabels: Int
    /// A masked-LM head whose decoder is tied to the word embeddings.
    public var maskedLM: Bool

    public init(pooler: Bool = true, classifierLabels: Int = 0, maskedLM: Bool = false) {
        self.pooler = pooler; self.classifierLabels = classifierLabels; self.maskedLM = maskedLM
    }
}

/// Every parameter of a BERT-family model (named as BERT names them; `CheckpointNames` translates) laid out in one contiguous buffer (llm.c style), so that
/// gradients and optimiser moments can share the layout and the optimiser step is one flat loop.
/// Query, key and value projections are fused into one (3C, C) matrix for a single GEMM.
public struct BertLayout: Equatable, Sendable {
    public struct Layer: Equatable, Sendable {
        public let qkvWeight, qkvBias: ParameterTensor            // (3C, C), (3C): rows [q; k; v]
        public let attentionOutWeight, attentionOutBias: ParameterTensor  // (C, C), (C)
        public let attentionNormWeight, attentionNormBias: ParameterTensor
        public let intermediateWeight, intermediateBias: ParameterTensor  // (I, C), (I)
        public let outputWeight, outputBias: ParameterTensor      // (C, I), (C)
        public let outputNormWeight, outputNormBias: ParameterTensor
    }

    public let config: BertConfig
    public let heads: BertHeads
    public let wordEmbeddings, positionEmbeddings: ParameterTensor
    /// Absent in families without token types (DistilBERT).
    public let tokenTypeEmbeddings: ParameterTensor?
    public let embeddingNormWeight, embeddingNormBias: ParameterTensor
    public let layers: [Layer]
    public let poolerWeight, poolerBias: ParameterTensor?          // (C, C), (C)
    public let classifierWeight, classifierBias: ParameterTensor?  // (labels, C), (labels)
    public let mlmTransformWeight, mlmTransformBias: ParameterTensor?  // (C, C), (C)
    public let mlmNormWeight, mlmNormBias: ParameterTensor?
    public let mlmBias: ParameterTensor?                           // (V); decoder weight = word embeddings
    /// All tensors in buffer order.
    public let tensors: [ParameterTensor]
    public let count: Int

    public init(config: BertConfig, heads: BertHeads) {
        precondition(heads.classifierLabels == 0 || heads.pooler, "a classification head needs the pooler")
        var all: [ParameterTensor] = []
        var offset = 0
        func add(_ name: String, _ shape: [Int]) -> ParameterTensor {
            let t = ParameterTensor(name: name, offset: offset, shape: shape)
            offset += t.count
            all.append(t)
            return t
        }
        let c = config.hiddenSize, i = config.intermediateSize
        self.config = config
        self.heads = heads
        wordEmbeddings = add("embeddings.word_embeddings.weight", [config.vocabSize, c])
        positionEmbeddings = add("embeddings.position_embeddings.weight", [config.maxPositionEmbeddings, c])
        tokenTypeEmbeddings = config.family.tokenTypes ? add("embeddings.token_type_embeddings.weight", [config.typeVocabSize, c]) : nil
        embeddingNormWeight = add("embeddings.LayerNorm.weight", [c])
        embeddingNormBias = add("embeddings.LayerNorm.bias", [c])
        layers = (0..<config.numHiddenLayers).map { l in
            let p = "encoder.layer.\(l)."
            return Layer(
                qkvWeight: add(p + "attention.self.qkv.weight", [3 * c, c]),
                qkvBias: add(p + "attention.self.qkv.bias", [3 * c]),
                attentionOutWeight: add(p + "attention.output.dense.weight", [c, c]),
                attentionOutBias: add(p + "attention.output.dense.bias", [c]),
                attentionNormWeight: add(p + "attention.output.LayerNorm.weight", [c]),
                attentionNormBias: add(p + "attention.output.LayerNorm.bias", [c]),
                intermediateWeight: add(p + "intermediate.dense.weight", [i, c]),
                intermediateBias: add(p + "intermediate.dense.bias", [i]),
                outputWeight: add(p + "output.dense.weight", [c, i]),
                outputBias: add(p + "output.dense.bias", [c]),
                outputNormWeight: add(p + "output.LayerNorm.weight", [c]),
                outputNormBias: add(p + "output.LayerNorm.bias", [c]))
        }
        poolerWeight = heads.pooler ? add("pooler.dense.weight", [c, c]) : nil
        poolerBias = heads.pooler ? add("pooler.dense.bias", [c]) : nil
        let labels = heads.classifierLabels
        classifierWeight = labels > 0 ? add("classifier.weight", [labels, c]) : nil
        classifierBias = labels > 0 ? add("classifier.bias", [labels]) : nil
        mlmTransformWeight = heads.maskedLM ? add("cls.predictions.transform.dense.weight", [c, c]) : nil
        mlmTransformBias = heads.maskedLM ? add("cls.predictions.transform.dense.bias", [c]) : nil
        mlmNormWeight = heads.maskedLM ? add("cls.predictions.transform.LayerNorm.weight", [c]) : nil
        mlmNormBias = heads.maskedLM ? add("cls.predictions.transform.LayerNorm.bias", [c]) : nil
        mlmBias = heads.maskedLM ? add("cls.predictions.bias", [config.vocabSize]) : nil
        tensors = all
        count = offset
    }

    public func tensor(named name: String) -> ParameterTensor? { tensors.first { $0.name == name } }
}

/// A parameter buffer viewed through a layout. Gradients and optimiser moments use the same type.
public final class BertParameters: @unchecked Sendable {
    public let layout: BertLayout
    public let storage: FloatBuffer

    public init(layout: BertLayout) {
        self.layout = layout
        storage = FloatBuffer(count: layout.count)
    }

    @inline(__always)
    public subscript(_ tensor: ParameterTensor) -> UnsafeMutablePointer<Float> { storage.pointer + tensor.offset }
}

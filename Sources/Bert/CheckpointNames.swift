/// The one table between Distillery's parameter layout and Hugging Face checkpoint names.
///
/// Names are given after the loader's renaming step: the `bert.` prefix of task models is
/// removed and old `LayerNorm.gamma/beta` become `weight/bias`. The fused QKV tensor is
/// three Hugging Face tensors stacked along rows.
enum CheckpointNames {
    struct Part: Equatable {
        let checkpointName: String
        /// First element of this part inside the layout tensor (row-major).
        let elementOffset: Int
        let shape: [Int]
    }

    static func parts(of tensor: ParameterTensor, layout: BertLayout) -> [Part] {
        let name = tensor.name
        guard name.hasSuffix(".attention.self.qkv.weight") || name.hasSuffix(".attention.self.qkv.bias") else {
            return [Part(checkpointName: name, elementOffset: 0, shape: tensor.shape)]
        }
        let c = layout.config.hiddenSize
        let isWeight = name.hasSuffix(".weight")
        let prefix = name.replacingOccurrences(of: isWeight ? "qkv.weight" : "qkv.bias", with: "")
        let suffix = isWeight ? ".weight" : ".bias"
        let block = isWeight ? c * c : c
        return ["query", "key", "value"].enumerated().map { index, part in
            Part(checkpointName: prefix + part + suffix, elementOffset: index * block, shape: isWeight ? [c, c] : [c])
        }
    }

    /// Keys a checkpoint may carry that the layout does not need: position ids buffers, the tied
    /// MLM decoder (a copy of the word embeddings), and BERT pre-training's next-sentence head.
    static func isHarmlessExtra(_ name: String) -> Bool {
        name == "embeddings.position_ids"
            || name == "cls.predictions.decoder.weight" || name == "cls.predictions.decoder.bias"
            || name.hasPrefix("cls.seq_relationship.")
    }

    /// Renames a checkpoint key once, before any lookup.
    static func canonical(_ key: String) -> String {
        let prefix = ModelFamily.bert.checkpointPrefix
        var name = key.hasPrefix(prefix) ? String(key.dropFirst(prefix.count)) : key
        if name.hasSuffix("LayerNorm.gamma") { name = String(name.dropLast(5)) + "weight" }
        if name.hasSuffix("LayerNorm.beta") { name = String(name.dropLast(4)) + "bias" }
        return name
    }

    /// The name a Hugging Face `BertFor…` model saves a canonical tensor under.
    static func exportName(_ name: String, heads: BertHeads) -> String {
        let isHead = name.hasPrefix("classifier.") || name.hasPrefix("cls.")
        let taskModel = heads.classifierLabels > 0 || heads.maskedLM
        return taskModel && !isHead ? "bert." + name : name
    }
}

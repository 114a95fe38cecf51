/// The one table between Distillery's parameter layout and Hugging Face checkpoint names.
///
/// The layout names every tensor as BERT does; the family's `ModelFamily.Names` translate them.
/// Checkpoint keys are compared after the loader's renaming step: the family's encoder prefix
/// (`bert.`, `roberta.`, `distilbert.`) of task models is removed and old `LayerNorm.gamma/beta`
/// become `weight/bias`. The fused QKV tensor is three Hugging Face tensors stacked along rows.
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
            return [Part(checkpointName: checkpointName(name, family: layout.config.family, heads: layout.heads), elementOffset: 0, shape: tensor.shape)]
        }
        let c = layout.config.hiddenSize
        let isWeight = name.hasSuffix(".weight")
        let prefix = name.replacingOccurrences(of: isWeight ? "qkv.weight" : "qkv.bias", with: "")
        let suffix = isWeight ? ".weight" : ".bias"
        let block = isWeight ? c * c : c
        return ["query", "key", "value"].enumerated().map { index, part in
            Part(checkpointName: checkpointName(prefix + part + suffix, family: layout.config.family, heads: layout.heads), elementOffset: index * block, shape: isWeight ? [c, c] : [c])
        }
    }

    /// The family's name (without its encoder prefix) of a BERT-named tensor.
    static func checkpointName(_ bertName: String, family: ModelFamily, heads: BertHeads) -> String {
        let names = family.names
        let (stem, kind) = split(bertName)
        if stem.hasPrefix("encoder.layer.") {
            // encoder.layer.<l>.<part>
            let rest = stem.dropFirst("encoder.layer.".count)
            guard let dot = rest.firstIndex(of: ".") else { return bertName }
            let part = String(rest[rest.index(after: dot)...])
            return names.layers + rest[..<dot] + "." + (names.layerParts[part] ?? part) + kind
        }
        if stem == "pooler.dense" && heads.classifierLabels > 0 { return names.classifierPooler + kind }
        return (names.renamed[stem] ?? stem) + kind
    }

    /// Whether a tensor sits under the family's encoder prefix in a task checkpoint: everything
    /// except the heads (BERT's pooler is part of its encoder; RoBERTa's and DistilBERT's dense
    /// before the classifier is part of the head).
    static func isEncoderTensor(_ bertName: String, layout: BertLayout) -> Bool {
        if bertName.hasPrefix("classifier.") || bertName.hasPrefix("cls.") { return false }
        if bertName.hasPrefix("pooler.") && layout.heads.classifierLabels > 0 { return layout.config.family.names.classifierPooler == "pooler.dense" }
        return true
    }

    /// Keys a checkpoint may carry that the layout does not need: buffers, the tied MLM decoder
    /// (a copy of the word embeddings), BERT pre-training's next-sentence head.
    static func isHarmlessExtra(_ name: String, family: ModelFamily) -> Bool {
        family.names.harmlessExtras.contains(name) || family.names.harmlessPrefixes.contains { name.hasPrefix($0) }
    }

    /// Renames a checkpoint key once, before any lookup.
    static func canonical(_ key: String, family: ModelFamily) -> String {
        let prefix = family.checkpointPrefix
        var name = key.hasPrefix(prefix) ? String(key.dropFirst(prefix.count)) : key
        if name.hasSuffix("LayerNorm.gamma") { name = String(name.dropLast(5)) + "weight" }
        if name.hasSuffix("LayerNorm.beta") { name = String(name.dropLast(4)) + "bias" }
        return name
    }

    /// The name a Hugging Face task model of the family saves a tensor under (`bertName` as the layout names it).
    static func exportName(_ checkpointName: String, bertName: String, layout: BertLayout) -> String {
        let heads = layout.heads
        let taskModel = heads.classifierLabels > 0 || heads.maskedLM
        return taskModel && isEncoderTensor(bertName, layout: layout) ? layout.config.family.checkpointPrefix + checkpointName : checkpointName
    }

    /// "a.b.weight" → ("a.b", ".weight"); names without a weight/bias suffix stay whole.
    private static func split(_ name: String) -> (stem: String, kind: String) {
        for kind in [".weight", ".bias"] where name.hasSuffix(kind) { return (String(name.dropLast(kind.count)), kind) }
        return (name, "")
    }
}

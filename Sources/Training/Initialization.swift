import Bert
import Kernels

/// BERT's initialisation (Devlin et al. 2019, as Hugging Face's `BertPreTrainedModel._init_weights`):
/// every matrix and embedding table ~ N(0, initializer_range²) with the padding token's word-embedding
/// row zeroed (`padding_idx`), LayerNorm weights 1, every bias 0 (the MLM output bias included).
/// Tensor k of the layout draws from SeededGenerator(seed: seed, stream: k): the same seed gives the
/// same weights, and one tensor's values do not depend on the sizes of the others.
public func initializeRandomly(_ parameters: BertParameters, seed: UInt64) {
    let layout = parameters.layout, config = layout.config
    var layerNormWeights = [layout.embeddingNormWeight] + layout.layers.flatMap { [$0.attentionNormWeight, $0.outputNormWeight] }
    if let weight = layout.mlmNormWeight { layerNormWeights.append(weight) }
    for (k, tensor) in layout.tensors.enumerated() {
        let values = parameters[tensor]
        if tensor.shape.count == 2 {
            var generator = SeededGenerator(seed: seed, stream: UInt64(k))
            for i in 0..<tensor.count { values[i] = generator.nextNormal() * config.initializerRange }
        } else {
            values.update(repeating: layerNormWeights.contains(tensor) ? 1 : 0, count: tensor.count)
        }
    }
    if (0..<config.vocabSize).contains(config.padTokenId) {
        (parameters[layout.wordEmbeddings] + config.padTokenId * config.hiddenSize).update(repeating: 0, count: config.hiddenSize)
    }
}

extension BertParameters {
    /// Sets every value to 0 (gradients before accumulation).
    public func zero() { storage.zero() }
}

import Bert
import Foundation
import Kernels
import TestSupport
import XCTest
@testable import Training

/// The whole model's gradients against central differences of the Double reference (ReferenceBert.swift).
///
/// Model: a small BERT with every head (pooler, 3-way classifier, tied MLM head), initialised with
/// `initializeRandomly` at initializer_range 0.2 (peaky attention, GELU away from linear) and every
/// LayerNorm weight and bias perturbed so that their gradients are not special. Batch of 2 × 6 with
/// the second row padded after 4 tokens.
///
/// Loss: L = Σ R ⊙ activation over several seeds at once (hidden state 1, attention probabilities
/// of layer 2, projections of layer 1, pooled output, classifier logits, MLM logits at 4 rows), R
/// uniform in [-1, 1], seeds covering padded positions too (the reference is the truth either way).
///
/// Tolerances. Differences are taken in Double with h = 1e-5 (truncation and rounding ~1e-9, see
/// BackwardTests), so they are the exact gradient of the reference. The engine runs in Float: its
/// gradients carry relative rounding of a few 1e-6 through two layers of GEMMs and LayerNorms, and
/// fastExp/fastErf differ from exp/erf by < 4e-7. We allow |analytic − numeric| ≤ 2e-5 × max(1, the
/// largest |gradient| of that tensor); measured worst cases are ~1e-6 of that scale (printed per
/// tensor). A missing term or a wrong index gives errors of the gradient's own size.
final class GradientCheckTests: XCTestCase {
    func testGradientsMatchFiniteDifferencesOfTheDoubleReference() {
        checkGradients(dropout: 0, training: false)
    }

    /// Dropout on every site with a fixed seed; the reference applies the masks the forward drew.
    func testGradientsWithDropoutMatchFiniteDifferences() {
        checkGradients(dropout: 0.2, training: true)
    }

    /// RoBERTa's position ids (after the padding id) through the embedding backward.
    func testRobertaGradientsMatchFiniteDifferences() {
        checkGradients(dropout: 0, training: false, family: .roberta)
    }

    /// DistilBERT: no token-type table, ReLU before the classifier.
    func testDistilBertGradientsMatchFiniteDifferences() {
        checkGradients(dropout: 0.2, training: true, family: .distilBert)
    }

    private func checkGradients(dropout: Float, training: Bool, family: ModelFamily = .bert) {
        let model = TestModel(family: family)
        let graph = BertTrainingGraph(layout: model.layout, maxBatch: 3, maxSeq: 8, dropout: dropout)
        graph.forward(model.parameters, model.input, mlmRows: model.mlmRows, training: training, seed: 99)
        let masks = training ? graph.referenceMasks() : nil
        if training { XCTAssertTrue(graph.dropoutApplied) }
        var rng = SeededRandom(seed: 5)
        let seeds = LossSeeds(model: model, rng: &rng)
        seeds.add(to: graph)
        let gradients = BertParameters(layout: model.layout)
        gradients.storage.pointer.update(repeating: 0.5, count: gradients.storage.count)  // backward must add
        graph.backward(model.parameters, gradients)

        let weights = model.parameters.storage.toArray().map(Double.init)
        // The reference's forward agrees with the engine's (a check of the reference itself).
        let reference = referenceForward(model.layout, weights, model.input, mlmRows: model.mlmRows, masks: masks)
        XCTAssertEqual(seeds.loss(reference), seeds.loss(graph), accuracy: 1e-4 * max(1, abs(seeds.loss(reference))))

        var w = weights
        func numeric(_ index: Int) -> Double {
            let h = 1e-5, saved = w[index]
            w[index] = saved + h
            let plus = seeds.loss(referenceForward(model.layout, w, model.input, mlmRows: model.mlmRows, masks: masks))
            w[index] = saved - h
            let minus = seeds.loss(referenceForward(model.layout, w, model.input, mlmRows: model.mlmRows, masks: masks))
            w[index] = saved
            return (plus - minus) / (2 * h)
        }
        var rows: [String] = []
        for tensor in model.layout.tensors {
            let indices = model.sampleIndices(tensor, rng: &rng)
            let analytic = indices.map { Double(gradients.storage[tensor.offset + $0]) - 0.5 }
            let expected = indices.map { numeric(tensor.offset + $0) }
            let scale = max(1, expected.map(abs).max()!)
            let worst = zip(analytic, expected).map { abs($0 - $1) }.max()!
            rows.append("\(tensor.name): max error \(worst) (scale \(scale))")
            XCTAssertLessThanOrEqual(worst, 2e-5 * scale,
                                     "\(tensor.name): analytic \(analytic) vs numeric \(expected)")
        }
        print(rows.joined(separator: "\n"))
    }
}

/// The test model: every head, random weights, a padded batch.
struct TestModel {
    let layout: BertLayout
    let parameters: BertParameters
    let input: BertInput
    let mlmRows = [1, 4, 7, 9]  // flat rows; 7 and 9 are real tokens of the padded row

    init(seed: UInt64 = 3, family: ModelFamily = .bert) {
        var config = BertConfig(vocabSize: 40, hiddenSize: 16, numHiddenLayers: 2, numAttentionHeads: 4, intermediateSize: 20,
                                maxPositionEmbeddings: 12, typeVocabSize: 2, layerNormEps: 1e-12, initializerRange: 0.2)
        config.family = family
        layout = BertLayout(config: config, heads: BertHeads(pooler: true, classifierLabels: 3, maskedLM: true))
        parameters = BertParameters(layout: layout)
        initializeRandomly(parameters, seed: seed)
        var rng = SeededRandom(seed: seed)
        // Every LayerNorm weight around 1 and every 1-D tensor (biases) away from 0.
        for tensor in layout.tensors where tensor.shape.count == 1 {
            let noise = rng.floats(tensor.count, scale: 0.2)
            for i in 0..<tensor.count { parameters[tensor][i] += noise[i] }
        }
        input = BertInput(batch: 2, seq: 6,
                          inputIds: [2, 17, 5, 17, 31, 3, 2, 8, 39, 3, 0, 0],
                          tokenTypeIds: [0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0],
                          attentionMask: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0])
    }

    /// A few elements of every tensor: for the embedding tables, rows the batch uses (and one it does
    /// not, whose gradient must be 0); elsewhere random positions.
    func sampleIndices(_ tensor: ParameterTensor, rng: inout SeededRandom) -> [Int] {
        let c = layout.config.hiddenSize
        func column() -> Int { Int(rng.next() % UInt64(c)) }
        switch tensor {
        case layout.wordEmbeddings:
            return [17, 2, 39, 0, 25].map { $0 * c + column() }   // 17 repeated, 0 = padding, 25 unused
        case layout.positionEmbeddings:
            return [0, 3, 5, 9].map { $0 * c + column() }          // 9 ≥ seq: unused
        case layout.tokenTypeEmbeddings:
            return [0, 1, 1].map { $0 * c + column() }
        default:
            return (0..<4).map { _ in Int(rng.next() % UInt64(tensor.count)) }
        }
    }
}

/// Random projections R of several activations; L = Σ R ⊙ activation.
struct LossSeeds {
    let hiddenLayer = 1, probsLayer = 2, projectionLayer = 1
    let hidden, probs, projections, pooled, logits, mlm: [Float]

    init(model: TestModel, rng: inout SeededRandom) {
        let config = model.layout.config, n = model.input.batch * model.input.seq, c = config.hiddenSize
        let b = model.input.batch, t = model.input.seq
        hidden = rng.floats(n * c)
        probs = rng.floats(b * config.numAttentionHeads * t * t)
        projections = rng.floats(n * 3 * c)
        pooled = rng.floats(b * c)
        logits = rng.floats(b * model.layout.heads.classifierLabels)
        mlm = rng.floats(model.mlmRows.count * config.vocabSize)
    }

    func add(to graph: BertTrainingGraph) {
        func add(_ r: [Float], _ seed: UnsafeMutablePointer<Float>) { for i in r.indices { seed[i] += r[i] } }
        add(hidden, graph.hiddenStateGradient(layer: hiddenLayer))
        add(probs, graph.attentionProbabilitiesGradient(layer: probsLayer))
        add(projections, graph.projectionsGradient(layer: projectionLayer))
        add(pooled, graph.pooledGradient)
        add(logits, graph.classifierLogitsGradient)
        add(mlm, graph.maskedLMLogitsGradient)
    }

    private func dot(_ r: [Float], _ x: [Double]) -> Double { zip(r, x).map { Double($0) * $1 }.reduce(0, +) }
    private func dot(_ r: [Float], _ x: UnsafeMutablePointer<Float>) -> Double { r.indices.map { Double(r[$0]) * Double(x[$0]) }.reduce(0, +) }

    func loss(_ a: ReferenceActivations) -> Double {
        dot(hidden, a.hidden[hiddenLayer]) + dot(probs, a.probs[probsLayer - 1]) + dot(projections, a.qkv[projectionLayer - 1])
            + dot(pooled, a.pooled) + dot(logits, a.logits) + dot(mlm, a.mlmLogits)
    }

    func loss(_ graph: BertTrainingGraph) -> Double {
        dot(hidden, graph.hiddenState(layer: hiddenLayer)) + dot(probs, graph.attentionProbabilities(layer: probsLayer))
            + dot(projections, graph.projections(layer: projectionLayer)) + dot(pooled, graph.pooled)
            + dot(logits, graph.classifierLogits) + dot(mlm, graph.maskedLMLogits)
    }
}

extension BertTrainingGraph {
    /// The dropout masks of the last training forward, densely packed for the reference.
    func referenceMasks() -> ReferenceDropoutMasks {
        let n = batch * seq, tt = batch * heads * seq * seq
        func read(_ p: UnsafeMutablePointer<Float>, _ count: Int) -> [Double] { (0..<count).map { Double(p[$0]) } }
        return ReferenceDropoutMasks(
            embedding: read(embeddingKeep.pointer, n * c),
            probs: attentionDropout.map { sites in
                // Drawn again as the backward draws them: head bh is stream bh of the layer's seed.
                let keep = FloatBuffer(count: tt)
                for bh in 0..<(batch * heads) { sites.mask(keep.pointer + bh * seq * seq, head: bh, count: seq * seq) }
                return read(keep.pointer, tt)
            },
            attention: (0..<layerCount).map { read(attentionKeep.pointer + $0 * tokens * c, n * c) },
            output: (0..<layerCount).map { read(outputKeep.pointer + $0 * tokens * c, n * c) },
            classifier: labels > 0 ? read(classifierKeep.pointer, batch * c) : [])
    }
}

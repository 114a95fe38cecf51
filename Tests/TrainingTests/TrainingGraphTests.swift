import Bert
import Foundation
import Kernels
import SafeTensors
import TestSupport
import XCTest
@testable import Training

/// The training graph's forward against the inference forward (and Hugging Face's numbers), dropout's
/// determinism, padding, the initialiser, and backward's accumulate-into contract.
final class TrainingGraphTests: XCTestCase {
    static let fixtures = packageRoot.appendingPathComponent("Tests/Fixtures/bert")

    // MARK: (a) forward parity

    /// Tolerance 1e-5 absolute as in BertTests: both passes run the same kernels in the same order, so
    /// they agree to the bit in practice; the fixture's Transformers values differ by GEMM summation
    /// order and erf/exp rounding (~1e-6 on O(1) activations).
    func testInferenceForwardMatchesBertForwardOnTinyClassifier() throws {
        try checkParity("cls")
    }

    func testInferenceForwardMatchesBertForwardOnTinyMaskedLM() throws {
        try checkParity("mlm")
    }

    private func checkParity(_ kind: String) throws {
        let model = try BertModel.load(directory: Self.fixtures.appendingPathComponent("tiny-\(kind)"))
        let expected = try SafeTensorsFile(url: Self.fixtures.appendingPathComponent("tiny-\(kind)-expected.safetensors"))
        let input = try fixtureInput(expected)  // rows 1 and 2 padded
        // Larger than the batch, so that layer strides differ from the used sizes.
        let graph = BertTrainingGraph(layout: model.layout, maxBatch: input.batch + 1, maxSeq: input.seq + 2, dropout: 0.1)
        let reference = BertForward(model: model, maxBatch: input.batch + 1, maxSeq: input.seq + 2, capture: .all)
        let n = input.batch * input.seq, c = model.config.hiddenSize, heads = model.config.numAttentionHeads
        for rows in [nil, [0, 5, 11, 12, 20, 29]] as [[Int]?] {
            graph.forward(model.parameters, input, mlmRows: rows, training: false, seed: 1)
            XCTAssertFalse(graph.dropoutApplied)
            try reference.run(input, mlmRows: rows)
            for l in 0...model.config.numHiddenLayers {
                assertEqual(graph.hiddenState(layer: l), n * c, Array(reference.hiddenState(layer: l)), "hidden \(l)")
                assertEqual(graph.hiddenState(layer: l), n * c, try expected.floats("hidden.\(l)"), "hidden \(l) vs Transformers")
            }
            for l in 1...model.config.numHiddenLayers {
                assertEqual(graph.attentionProbabilities(layer: l), input.batch * heads * input.seq * input.seq,
                            Array(reference.attentionProbabilities(layer: l)), "attention \(l)")
                assertEqual(graph.projections(layer: l), n * 3 * c, Array(reference.projections(layer: l)), "projections \(l)")
            }
            if model.heads.pooler {
                assertEqual(graph.pooled, input.batch * c, Array(reference.pooled), "pooled")
                assertEqual(graph.pooled, input.batch * c, try expected.floats("pooled"), "pooled vs Transformers")
            }
            if model.heads.classifierLabels > 0 {
                let count = input.batch * model.heads.classifierLabels
                assertEqual(graph.classifierLogits, count, Array(reference.classifierLogits), "logits")
                assertEqual(graph.classifierLogits, count, try expected.floats("logits"), "logits vs Transformers")
            }
            if model.heads.maskedLM {
                let v = model.config.vocabSize, chosen = rows ?? Array(0..<n)
                XCTAssertEqual(graph.mlmRows, chosen)
                assertEqual(graph.maskedLMLogits, chosen.count * v, Array(reference.maskedLMLogits), "MLM logits")
                let all = try expected.floats("logits")
                assertEqual(graph.maskedLMLogits, chosen.count * v, chosen.flatMap { all[($0 * v)..<(($0 + 1) * v)] },
                            "MLM logits vs Transformers")
            }
        }
    }

    // MARK: (c) dropout

    func testDropoutWithTheSameSeedRepeatsAndAnotherSeedDiffers() {
        let model = TestModel()
        let graph = BertTrainingGraph(layout: model.layout, maxBatch: 2, maxSeq: 6, dropout: 0.3)
        let first = run(graph, model, training: true, seed: 7)
        XCTAssertTrue(graph.dropoutApplied)
        let again = run(graph, model, training: true, seed: 7)
        XCTAssertEqual(first.outputs, again.outputs)
        XCTAssertEqual(first.gradients, again.gradients)
        let other = run(graph, model, training: true, seed: 8)
        XCTAssertNotEqual(first.outputs, other.outputs)
        // The probabilities stay undropped: every row still sums to 1.
        let p = graph.attentionProbabilities(layer: 1), t = model.input.seq
        for row in 0..<(model.input.batch * model.layout.config.numAttentionHeads * t) {
            XCTAssertEqual((0..<t).map { p[row * t + $0] }.reduce(0, +), 1, accuracy: 1e-5)
        }
        // Without training no mask is drawn: the same as a graph without dropout.
        let plain = BertTrainingGraph(layout: model.layout, maxBatch: 2, maxSeq: 6, dropout: 0)
        XCTAssertEqual(run(graph, model, training: false, seed: 7).outputs, run(plain, model, training: false, seed: 7).outputs)
    }

    func testDropoutZeroTrainingEqualsInference() {
        let model = TestModel()
        let graph = BertTrainingGraph(layout: model.layout, maxBatch: 2, maxSeq: 6, dropout: 0)
        let training = run(graph, model, training: true, seed: 7)
        XCTAssertFalse(graph.dropoutApplied)
        let inference = run(graph, model, training: false, seed: 8)
        XCTAssertEqual(training.outputs, inference.outputs)
        XCTAssertEqual(training.gradients, inference.gradients)
    }

    /// Runs forward and backward with fixed loss seeds; returns every output and the gradients.
    private func run(_ graph: BertTrainingGraph, _ model: TestModel, training: Bool, seed: UInt64) -> (outputs: [Float], gradients: [Float]) {
        graph.forward(model.parameters, model.input, mlmRows: model.mlmRows, training: training, seed: seed)
        var rng = SeededRandom(seed: 1)
        LossSeeds(model: model, rng: &rng).add(to: graph)
        let n = model.input.batch * model.input.seq, c = model.layout.config.hiddenSize
        var outputs: [Float] = []
        for l in 0...2 { outputs += Array(UnsafeBufferPointer(start: graph.hiddenState(layer: l), count: n * c)) }
        outputs += Array(UnsafeBufferPointer(start: graph.classifierLogits, count: model.input.batch * 3))
        outputs += Array(UnsafeBufferPointer(start: graph.maskedLMLogits, count: model.mlmRows.count * 40))
        let gradients = BertParameters(layout: model.layout)
        graph.backward(model.parameters, gradients)
        return (outputs, gradients.storage.toArray())
    }

    // MARK: (d) padding

    /// A padded row must train exactly as if it were alone and unpadded: with losses only on real
    /// tokens, the gradients of the batch [row 0 (6 tokens), row 1 (4 tokens + 2 padding)] equal the
    /// sum of the gradients of each row run alone at its own length, and real tokens' activations are
    /// the same. The padding ids are arbitrary (not the pad token) so that any leak would show; loss
    /// seeds on padded keys of the attention maps must have no effect either.
    /// Tolerance 1e-5 × max(1, largest |gradient|): only summation order differs (one GEMM over 10 rows
    /// against two over 6 and 4), ~1e-6 relative; a leak would be of order 1e-1.
    func testPaddedPositionsNeitherChangeNorReceiveGradients() {
        let model = TestModel()
        let ids: [[Int32]] = [[2, 17, 5, 17, 31, 3], [2, 8, 39, 3]], types: [[Int32]] = [[0, 0, 0, 1, 1, 1], [0, 0, 1, 1]]
        let mlm: [[Int]] = [[1, 4], [1, 3]]
        let c = model.layout.config.hiddenSize
        let graph = BertTrainingGraph(layout: model.layout, maxBatch: 2, maxSeq: 6, dropout: 0.1)

        // The padded batch.
        let padded = BertInput(batch: 2, seq: 6, inputIds: ids[0] + ids[1] + [13, 21], tokenTypeIds: types[0] + types[1] + [1, 0],
                               attentionMask: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0])
        graph.forward(model.parameters, padded, mlmRows: [1, 4, 7, 9], training: false, seed: 0)
        addPaddingSeeds(graph, originalRows: [0, 1], lengths: [6, 4], mlmRows: mlm)
        let batched = BertParameters(layout: model.layout)
        let paddedHidden = (0...2).map { Array(UnsafeBufferPointer(start: graph.hiddenState(layer: $0), count: 12 * c)) }
        graph.backward(model.parameters, batched)

        // Each row alone; backward adds, so both land in one buffer.
        let separate = BertParameters(layout: model.layout)
        for b in 0..<2 {
            let length = ids[b].count
            graph.forward(model.parameters, BertInput(batch: 1, seq: length, inputIds: ids[b], tokenTypeIds: types[b],
                                                      attentionMask: [Int32](repeating: 1, count: length)),
                          mlmRows: mlm[b], training: false, seed: 0)
            for l in 0...2 {
                let alone = Array(UnsafeBufferPointer(start: graph.hiddenState(layer: l), count: length * c))
                let inBatch = paddedHidden[l][(b * 6 * c)..<((b * 6 + length) * c)]
                XCTAssertLessThanOrEqual(zip(alone, inBatch).map { abs($0 - $1) }.max()!, 1e-5, "row \(b), hidden \(l)")
            }
            addPaddingSeeds(graph, originalRows: [b], lengths: [length], mlmRows: [mlm[b]])
            graph.backward(model.parameters, separate)
        }
        let expected = separate.storage.toArray().map(Double.init)
        let scale = max(1, expected.map(abs).max()!)
        assertClose(batched.storage.toArray(), expected, tolerance: 1e-5 * scale, "gradients")
    }

    /// Seeds on real tokens only, as a function of (original row, position), so the batch and the rows
    /// alone get the same values; attention-map seeds also on padded keys (which must not matter).
    private func addPaddingSeeds(_ graph: BertTrainingGraph, originalRows: [Int], lengths: [Int], mlmRows: [[Int]]) {
        let layout = graph.layout, c = layout.config.hiddenSize, heads = layout.config.numAttentionHeads
        let t = graph.seq, v = layout.config.vocabSize
        func r(_ kind: Int, _ row: Int, _ a: Int, _ i: Int) -> Float {
            var g = SeededRandom(seed: UInt64(((kind * 10 + row) * 1000 + a) * 1000 + i))
            return g.floats(1)[0]
        }
        for (b, row) in originalRows.enumerated() {
            for position in 0..<lengths[b] {
                let token = b * t + position
                for i in 0..<c {
                    graph.hiddenStateGradient(layer: 1)[token * c + i] += r(0, row, position, i)
                    graph.hiddenStateGradient(layer: 2)[token * c + i] += r(1, row, position, i)
                }
                for i in 0..<(3 * c) { graph.projectionsGradient(layer: 2)[token * 3 * c + i] += r(2, row, position, i) }
                for h in 0..<heads {
                    for key in 0..<t {
                        graph.attentionProbabilitiesGradient(layer: 1)[((b * heads + h) * t + position) * t + key]
                            += key < lengths[b] ? r(3, row, h * 100 + position, key) : 5
                    }
                }
            }
            for i in 0..<c { graph.pooledGradient[b * c + i] += r(4, row, 0, i) }
            for k in 0..<3 { graph.classifierLogitsGradient[b * 3 + k] += r(5, row, 0, k) }
        }
        var k = 0
        for (b, row) in originalRows.enumerated() {
            for position in mlmRows[b] {
                for i in 0..<v { graph.maskedLMLogitsGradient[k * v + i] += r(6, row, position, i) }
                k += 1
            }
        }
    }

    // MARK: bf16 matrix products

    /// `precision: .bf16` against fp32 through the whole graph, dropout and every head included: the
    /// same masks, every linear layer's products in bf16. One product is off by at most 2⁻⁸ ≈ 4e-3
    /// of Σ|a||b|; through two layers, the heads and back the errors compound, so we allow 3e-2 of
    /// each output's and each parameter tensor's largest magnitude (measured 4e-3 and 1.4e-2), where
    /// a wrong operand or a lost accumulation is off by its whole size. The bf16 graph repeats bit for bit.
    func testBF16ProductsFollowFP32WithinRoundingAndRepeat() throws {
        if let reason = Precision.bf16.unsupportedReason { throw XCTSkip(reason) }
        let model = TestModel()
        let exact = run(BertTrainingGraph(layout: model.layout, maxBatch: 2, maxSeq: 6, dropout: 0.1), model, training: true, seed: 3)
        let graph = BertTrainingGraph(layout: model.layout, maxBatch: 2, maxSeq: 6, dropout: 0.1, precision: .bf16)
        let rounded = run(graph, model, training: true, seed: 3), again = run(graph, model, training: true, seed: 3)
        XCTAssertTrue(rounded.outputs == again.outputs && rounded.gradients == again.gradients, "the bf16 graph repeats bit for bit")
        func worst(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Float {
            zip(a, b).map { abs($0 - $1) }.max()! / max(1e-12, b.map(abs).max()!)
        }
        let outputs = worst(rounded.outputs[...], exact.outputs[...])
        XCTAssertLessThanOrEqual(outputs, 3e-2, "outputs")
        var gradients: Float = 0
        for tensor in model.layout.tensors {
            let range = tensor.offset..<(tensor.offset + tensor.count)
            let error = worst(rounded.gradients[range], exact.gradients[range])
            XCTAssertLessThanOrEqual(error, 3e-2, tensor.name)
            gradients = max(gradients, error)
        }
        print("bf16 graph: outputs off by \(outputs), gradients by \(gradients) of their largest magnitude")
    }

    // MARK: backward contract and initialiser

    /// Backward adds into the gradients, forward zeroes the seeds, and no seed means no gradient.
    func testBackwardAddsAndForwardZeroesTheSeeds() {
        let model = TestModel()
        let graph = BertTrainingGraph(layout: model.layout, maxBatch: 2, maxSeq: 6, dropout: 0)
        let once = BertParameters(layout: model.layout), twice = BertParameters(layout: model.layout)
        for target in [once, twice, twice] {
            graph.forward(model.parameters, model.input, mlmRows: model.mlmRows, training: false, seed: 0)
            var rng = SeededRandom(seed: 1)
            LossSeeds(model: model, rng: &rng).add(to: graph)
            graph.backward(model.parameters, target)
        }
        let expected = once.storage.toArray().map { 2 * Double($0) }
        assertClose(twice.storage.toArray(), expected, tolerance: 1e-6 * max(1, expected.map(abs).max()!), "twice")

        graph.forward(model.parameters, model.input, mlmRows: model.mlmRows, training: false, seed: 0)
        let none = BertParameters(layout: model.layout)
        graph.backward(model.parameters, none)
        XCTAssertTrue(none.storage.toArray().allSatisfy { $0 == 0 }, "no seed, no gradient")
    }

    func testInitializerIsSeededAndFollowsBert() throws {
        let config = try BertConfig.load(from: Self.fixtures.appendingPathComponent("tiny-cls/config.json"))
        let layout = BertLayout(config: config, heads: BertHeads(pooler: true, classifierLabels: 3, maskedLM: true))
        let a = BertParameters(layout: layout), b = BertParameters(layout: layout), other = BertParameters(layout: layout)
        initializeRandomly(a, seed: 4); initializeRandomly(b, seed: 4); initializeRandomly(other, seed: 5)
        XCTAssertEqual(a.storage.toArray(), b.storage.toArray())
        XCTAssertNotEqual(a.storage.toArray(), other.storage.toArray())
        let layerNorms = [layout.embeddingNormWeight, layout.mlmNormWeight!] + layout.layers.flatMap { [$0.attentionNormWeight, $0.outputNormWeight] }
        for tensor in layout.tensors {
            let values = Array(UnsafeBufferPointer(start: a[tensor], count: tensor.count)).map(Double.init)
            if tensor.shape.count == 2 {
                // N(0, 0.02²): over ≥ 1,000 samples the mean is within 4σ/√n ≈ 0.003 and the std within 10%.
                let mean = values.reduce(0, +) / Double(values.count)
                let std = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)).squareRoot()
                XCTAssertEqual(mean, 0, accuracy: 0.003, tensor.name)
                XCTAssertEqual(std, 0.02, accuracy: 0.002, tensor.name)
            } else {
                XCTAssertEqual(Set(values), [layerNorms.contains(tensor) ? 1 : 0], tensor.name)
            }
        }
        let pad = Array(UnsafeBufferPointer(start: a[layout.wordEmbeddings] + config.padTokenId * config.hiddenSize, count: config.hiddenSize))
        XCTAssertEqual(Set(pad), [0], "padding_idx row")
    }

    // MARK: memory

    /// `attentionFloats` (what `StudentMemory` counts as growing with the square of the length) is
    /// every buffer of the graph that grows fourfold when the length doubles, with and without
    /// dropout; every other buffer at most doubles.
    func testAttentionFloatsAreTheBuffersThatGrowWithTheSquareOfTheLength() throws {
        let model = try BertModel.load(directory: Self.fixtures.appendingPathComponent("tiny-cls"))
        let heads = model.config.numAttentionHeads, layers = model.config.numHiddenLayers
        func buffers(_ seq: Int, _ dropout: Float) -> [(name: String, count: Int)] {
            let graph = BertTrainingGraph(layout: model.layout, maxBatch: 3, maxSeq: seq, dropout: dropout)
            return Mirror(reflecting: graph).children.compactMap { child in (child.value as? FloatBuffer).map { (child.label ?? "?", $0.count) } }
        }
        for dropout: Float in [0, 0.1] {
            let short = buffers(7, dropout), long = buffers(14, dropout)
            XCTAssertEqual(short.map(\.name), long.map(\.name))
            var squared = 0
            for (a, b) in zip(short, long) where a.count > 0 {
                XCTAssertTrue(b.count == 4 * a.count || b.count <= 2 * a.count, "\(a.name): \(a.count) → \(b.count) floats")
                if b.count == 4 * a.count { squared += b.count }
            }
            XCTAssertEqual(squared, BertTrainingGraph.attentionFloats(layers: layers, heads: heads, maxBatch: 3, maxSeq: 14),
                           "dropout \(dropout)")
        }
    }

    // MARK: helpers

    private func fixtureInput(_ file: SafeTensorsFile) throws -> BertInput {
        let shape = file.tensors["input_ids"]!.shape
        return BertInput(batch: shape[0], seq: shape[1], inputIds: try file.int64s("input_ids").map(Int32.init),
                         tokenTypeIds: try file.int64s("token_type_ids").map(Int32.init),
                         attentionMask: try file.int64s("attention_mask").map(Int32.init))
    }

    private func assertEqual(_ actual: UnsafeMutablePointer<Float>, _ count: Int, _ expected: [Float], _ what: String,
                             line: UInt = #line) {
        assertClose(Array(UnsafeBufferPointer(start: actual, count: count)), expected.map(Double.init), tolerance: 1e-5, what, line: line)
    }
}

/// Fails with the first mismatches and the largest error.
func assertClose(_ actual: [Float], _ expected: [Double], tolerance: Double, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "\(what): length", file: file, line: line)
    var worst = 0.0, bad: [String] = []
    for i in 0..<min(actual.count, expected.count) {
        let err = abs(Double(actual[i]) - expected[i])
        if !(err <= tolerance) && bad.count < 5 { bad.append("[\(i)] \(actual[i]) vs \(expected[i])") }
        if !(err <= worst) { worst = err.isNaN ? .infinity : err }
    }
    XCTAssertTrue(bad.isEmpty, "\(what): max error \(worst) > \(tolerance); first mismatches: \(bad.joined(separator: ", "))",
                  file: file, line: line)
}

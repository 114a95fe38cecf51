import Foundation
import XCTest
import Kernels
import SafeTensors
@testable import Bert

/// The Swift forward pass against PyTorch/transformers (fixtures from scripts/fixtures/bert_fixtures.py).
/// Tolerance 1e-5 absolute for the tiny models: Float32 on both sides, activations O(1), so the
/// only differences are summation order in GEMMs of ≤ 37 terms and erf/exp rounding (~1e-6).
final class ForwardParityTests: XCTestCase {
    func testTinyBaseModelMatchesTransformers() throws {
        try checkTiny("base", expectHeads: BertHeads(pooler: true, classifierLabels: 0, maskedLM: false))
    }

    func testTinySequenceClassifierMatchesTransformers() throws {
        let forward = try checkTiny("cls", expectHeads: BertHeads(pooler: true, classifierLabels: 3, maskedLM: false))
        XCTAssertEqual(forward.model.config.labels, ["LABEL_0", "LABEL_1", "LABEL_2"])
    }

    func testTinyMaskedLMMatchesTransformers() throws {
        try checkTiny("mlm", expectHeads: BertHeads(pooler: false, classifierLabels: 0, maskedLM: true))
    }

    /// Hugging Face all-MiniLM-L6-v2 on real sentences. Tolerance 1e-4: six layers of 384-wide
    /// GEMMs and LayerNorms with eps 1e-12 (no damping) in a different summation order.
    func testRealMiniLMMatchesTransformers() throws {
        let folder = try Fixtures.miniLM()
        let model = try BertModel.load(directory: folder)
        let expected = try SafeTensorsFile(url: Fixtures.bert.appendingPathComponent("minilm-expected.safetensors"))
        let forward = try run(model, on: expected)
        for layer in [0, 3, 6] {
            try assertMatches(forward.hiddenState(layer: layer), expected, "hidden.\(layer)", tolerance: 1e-4)
        }
        // Fixture names follow transformers' 0-based `outputs.attentions[i]`; Distillery numbers layers 1 … L.
        try assertMatches(forward.attentionProbabilities(layer: 1), expected, "attention.0", tolerance: 1e-5)
        try assertMatches(forward.attentionProbabilities(layer: 6), expected, "attention.5", tolerance: 1e-5)
        try assertMatches(forward.projection(.query, layer: 6), expected, "query.5", tolerance: 1e-4)
        try assertMatches(forward.projection(.value, layer: 6), expected, "value.5", tolerance: 1e-4)
        try assertMatches(forward.pooled, expected, "pooled", tolerance: 1e-4)
    }

    /// Padding may change only rounding: BLAS blocks a 3-row GEMM differently from a 30-row one,
    /// so sums are taken in another order (~1e-6 on O(1) activations); 1e-5 leaves room for that
    /// and would still catch a padded key leaking into attention (errors of order 1e-1).
    func testPaddingNeverChangesRealTokenOutputs() throws {
        let model = try BertModel.load(directory: Fixtures.bert.appendingPathComponent("tiny-base"))
        let expected = try SafeTensorsFile(url: Fixtures.bert.appendingPathComponent("tiny-base-expected.safetensors"))
        let padded = try run(model, on: expected)
        let batch = try input(from: expected)
        // Row 2 has 3 real tokens out of 10: run it alone, unpadded.
        let alone = BertForward(model: model, maxBatch: 1, maxSeq: 3, capture: .all)
        let row = 2 * batch.seq
        try alone.run(BertInput(batch: 1, seq: 3, inputIds: Array(batch.inputIds[row..<(row + 3)]),
                                tokenTypeIds: Array(batch.tokenTypeIds[row..<(row + 3)]), attentionMask: [1, 1, 1]))
        let c = model.config.hiddenSize
        for layer in 0...model.config.numHiddenLayers {
            let a = Array(alone.hiddenState(layer: layer)), p = padded.hiddenState(layer: layer)
            let inBatch = Array(p[(row * c)..<((row + 3) * c)])
            XCTAssertLessThanOrEqual(zip(a, inBatch).map { abs($0 - $1) }.max()!, 1e-5, "layer \(layer)")
        }
    }

    // MARK: other families (fixtures from scripts/fixtures/family_fixtures.py; same tolerance and reasons)

    /// RoBERTa: position ids after the padding id (the batch pads with id 1), one token type,
    /// classifier.dense → tanh → out_proj on <s>, lm_head.
    func testTinyRobertaMatchesTransformers() throws {
        try checkTiny("base", family: "roberta", expectHeads: BertHeads(pooler: true, classifierLabels: 0, maskedLM: false))
        try checkTiny("cls", family: "roberta", expectHeads: BertHeads(pooler: true, classifierLabels: 3, maskedLM: false))
        try checkTiny("mlm", family: "roberta", expectHeads: BertHeads(pooler: false, classifierLabels: 0, maskedLM: true))
    }

    func testTinyXLMRobertaMatchesTransformers() throws {
        for (kind, heads) in [("base", BertHeads(pooler: true)), ("cls", BertHeads(pooler: true, classifierLabels: 3)),
                              ("mlm", BertHeads(pooler: false, maskedLM: true))] {
            let forward = try checkTiny(kind, family: "xlm-roberta", expectHeads: heads)
            XCTAssertEqual(forward.model.config.family, .xlmRoberta)
        }
    }

    /// DistilBERT: its own weight and config names, no token types, no pooler in the base model,
    /// pre_classifier → ReLU → classifier, vocab_transform / vocab_layer_norm / vocab_projector.
    func testTinyDistilBertMatchesTransformers() throws {
        try checkTiny("base", family: "distilbert", expectHeads: BertHeads(pooler: false, classifierLabels: 0, maskedLM: false))
        try checkTiny("cls", family: "distilbert", expectHeads: BertHeads(pooler: true, classifierLabels: 3, maskedLM: false))
        try checkTiny("mlm", family: "distilbert", expectHeads: BertHeads(pooler: false, classifierLabels: 0, maskedLM: true))
    }

    // MARK: helpers

    /// `family` nil: the BERT fixtures (tiny-<kind>); else Tests/Fixtures/families/<family>-<kind>.
    @discardableResult
    private func checkTiny(_ kind: String, family: String? = nil, expectHeads: BertHeads) throws -> BertForward {
        let folder = family.map { Fixtures.families.appendingPathComponent("\($0)-\(kind)") } ?? Fixtures.bert.appendingPathComponent("tiny-\(kind)")
        let model = try BertModel.load(directory: folder)
        XCTAssertEqual(model.heads, expectHeads, folder.lastPathComponent)
        let expected = try SafeTensorsFile(url: folder.deletingLastPathComponent().appendingPathComponent(folder.lastPathComponent + "-expected.safetensors"))
        let forward = try run(model, on: expected)
        for layer in 0...model.config.numHiddenLayers {
            try assertMatches(forward.hiddenState(layer: layer), expected, "hidden.\(layer)", tolerance: 1e-5)
        }
        for layer in 1...model.config.numHiddenLayers {  // fixture names are transformers' 0-based indices
            try assertMatches(forward.attentionProbabilities(layer: layer), expected, "attention.\(layer - 1)", tolerance: 1e-5)
            for projection in BertForward.Projection.allCases {
                try assertMatches(forward.projection(projection, layer: layer), expected, "\(projection).\(layer - 1)", tolerance: 1e-5)
            }
        }
        if expectHeads.pooler && expected.tensors["pooled"] != nil { try assertMatches(forward.pooled, expected, "pooled", tolerance: 1e-5) }
        if expectHeads.classifierLabels > 0 { try assertMatches(forward.classifierLogits, expected, "logits", tolerance: 1e-5) }
        if expectHeads.maskedLM { try assertMatches(forward.maskedLMLogits, expected, "logits", tolerance: 1e-5) }
        return forward
    }

    private func input(from file: SafeTensorsFile) throws -> BertInput {
        let shape = file.tensors["input_ids"]!.shape
        let ids = try file.int64s("input_ids").map(Int32.init)
        return BertInput(batch: shape[0], seq: shape[1], inputIds: ids,
                         tokenTypeIds: try file.int64s("token_type_ids").map(Int32.init),
                         attentionMask: try file.int64s("attention_mask").map(Int32.init))
    }

    private func run(_ model: BertModel, on file: SafeTensorsFile) throws -> BertForward {
        let batch = try input(from: file)
        let forward = BertForward(model: model, maxBatch: batch.batch + 1, maxSeq: batch.seq + 2, capture: .all)
        try forward.run(batch)
        return forward
    }

    private func assertMatches<C: Collection>(_ actual: C, _ file: SafeTensorsFile, _ key: String, tolerance: Float,
                                              line: UInt = #line) throws where C.Element == Float {
        let expected = try file.floats(key)
        let actual = Array(actual)
        XCTAssertEqual(actual.count, expected.count, "\(key): element count", line: line)
        var worst: Float = 0, firstBad: Int?
        for i in 0..<min(actual.count, expected.count) {
            let err = abs(actual[i] - expected[i])
            if !(err <= tolerance), firstBad == nil { firstBad = i }
            worst = max(worst, err.isNaN ? .infinity : err)
        }
        XCTAssertNil(firstBad, "\(key): max error \(worst) > \(tolerance); first at [\(firstBad ?? -1)]: "
                     + (firstBad.map { "\(actual[$0]) vs \(expected[$0])" } ?? ""), line: line)
    }
}

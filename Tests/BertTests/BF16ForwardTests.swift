import Foundation
import Kernels
import SafeTensors
import XCTest
@testable import Bert

/// The teacher with bf16 matrix products (`Precision.bf16`) against fp32, on all-MiniLM-L6-v2 and
/// real sentences: what bf16 costs in accuracy, measured and bounded. bf16 keeps 8 bits of mantissa
/// (relative rounding 2⁻⁹ per operand), and six layers compound it; LayerNorm keeps activations O(1).
/// Bounds, from the measured figures printed below with room: hidden states max 0.15 and mean 0.01
/// absolute, attention probabilities max 0.05 and mean 1e-3. A wrong layout gives errors of O(1).
final class BF16ForwardTests: XCTestCase {
    func testBF16TeacherAgainstFP32() throws {
        if let reason = Precision.bf16.unsupportedReason { throw XCTSkip(reason) }
        let model = try BertModel.load(directory: try Fixtures.miniLM())
        let expected = try SafeTensorsFile(url: Fixtures.bert.appendingPathComponent("minilm-expected.safetensors"))
        let shape = expected.tensors["input_ids"]!.shape
        let input = BertInput(batch: shape[0], seq: shape[1], inputIds: try expected.int64s("input_ids").map(Int32.init),
                              tokenTypeIds: try expected.int64s("token_type_ids").map(Int32.init),
                              attentionMask: try expected.int64s("attention_mask").map(Int32.init))
        let fp32 = BertForward(model: model, maxBatch: input.batch, maxSeq: input.seq, capture: .all)
        let bf16 = BertForward(model: model, maxBatch: input.batch, maxSeq: input.seq, capture: .all, precision: .bf16)
        try fp32.run(input); try bf16.run(input)
        func errors<C: Collection>(_ a: C, _ b: C) -> (max: Float, mean: Float) where C.Element == Float {
            let d = zip(a, b).map { abs($0 - $1) }
            return (d.max()!, d.reduce(0, +) / Float(d.count))
        }
        for layer in [1, 3, 6] {
            let e = errors(bf16.hiddenState(layer: layer), fp32.hiddenState(layer: layer))
            print("bf16 teacher, hidden state \(layer): max error \(e.max), mean \(e.mean)")
            XCTAssertLessThan(e.max, 0.15, "hidden \(layer)"); XCTAssertLessThan(e.mean, 0.01, "hidden \(layer)")
            let a = errors(bf16.attentionProbabilities(layer: layer), fp32.attentionProbabilities(layer: layer))
            print("bf16 teacher, attention \(layer): max error \(a.max), mean \(a.mean)")
            XCTAssertLessThan(a.max, 0.05, "attention \(layer)"); XCTAssertLessThan(a.mean, 1e-3, "attention \(layer)")
        }
        XCTAssertEqual(errors(bf16.hiddenState(layer: 0), fp32.hiddenState(layer: 0)).max, 0, "the embeddings involve no matrix product")
    }
}

import Foundation
import XCTest
import SafeTensors
@testable import Bert

/// Strict loading: every expected key with its exact shape, nothing unexpected, errors that name
/// the file, the key and both shapes; and export under the standard Hugging Face names.
final class WeightLoadingTests: XCTestCase {
    let tinyCls = Fixtures.bert.appendingPathComponent("tiny-cls")

    /// Copies tiny-cls into a temporary folder with its weights rewritten by `edit`.
    private func folderWithEditedWeights(_ edit: (inout [String: (shape: [Int], values: [Float])]) -> Void) throws -> URL {
        let source = try SafeTensorsFile(url: tinyCls.appendingPathComponent("model.safetensors"))
        var tensors: [String: (shape: [Int], values: [Float])] = [:]
        for name in source.names { tensors[name] = (source.tensors[name]!.shape, try source.floats(name)) }
        edit(&tensors)
        let folder = try Fixtures.temporaryDirectory()
        try FileManager.default.copyItem(at: tinyCls.appendingPathComponent("config.json"), to: folder.appendingPathComponent("config.json"))
        var writer = SafeTensorsWriter()
        for (name, t) in tensors { try writer.add(name, shape: t.shape, floats: t.values) }
        try writer.write(to: folder.appendingPathComponent("model.safetensors"))
        return folder
    }

    private func assertLoadFails(_ folder: URL, mentioning parts: [String], line: UInt = #line) {
        XCTAssertThrowsError(try BertModel.load(directory: folder), line: line) { error in
            let message = "\(error)"
            for part in parts { XCTAssertTrue(message.contains(part), "'\(message)' should mention '\(part)'", line: line) }
        }
    }

    func testMissingTensorIsNamed() throws {
        let folder = try folderWithEditedWeights { $0["bert.encoder.layer.1.attention.self.key.bias"] = nil }
        assertLoadFails(folder, mentioning: ["missing tensor", "encoder.layer.1.attention.self.key.bias", "model.safetensors"])
    }

    func testWrongShapeNamesKeyAndBothShapes() throws {
        let folder = try folderWithEditedWeights { $0["bert.encoder.layer.0.intermediate.dense.weight"] = ([36, 32], [Float](repeating: 0, count: 36 * 32)) }
        assertLoadFails(folder, mentioning: ["intermediate.dense.weight", "36", "37"])
    }

    func testUnexpectedTensorIsRejected() throws {
        let folder = try folderWithEditedWeights { $0["bert.encoder.layer.0.surprise.weight"] = ([2], [1, 2]) }
        assertLoadFails(folder, mentioning: ["unexpected tensor", "bert.encoder.layer.0.surprise.weight"])
    }

    func testHarmlessExtrasAreAccepted() throws {
        let folder = try folderWithEditedWeights {
            $0["bert.embeddings.position_ids"] = ([1, 40], (0..<40).map(Float.init))
            $0["cls.seq_relationship.weight"] = ([2, 32], [Float](repeating: 0, count: 64))
        }
        XCTAssertNoThrow(try BertModel.load(directory: folder))
    }

    func testMissingFilesAndBadConfigAreNamed() throws {
        let empty = try Fixtures.temporaryDirectory()
        assertLoadFails(empty, mentioning: ["config.json"])
        try Data("{\"hidden_size\": 32}".utf8).write(to: empty.appendingPathComponent("config.json"))
        assertLoadFails(empty, mentioning: ["config.json", "vocab_size"])
        try FileManager.default.removeItem(at: empty.appendingPathComponent("config.json"))
        try FileManager.default.copyItem(at: tinyCls.appendingPathComponent("config.json"), to: empty.appendingPathComponent("config.json"))
        assertLoadFails(empty, mentioning: ["model.safetensors"])
    }

    /// Family-specific names appear in errors: DistilBERT's config keys and weight names, its
    /// refused sinusoidal positions, and a RoBERTa config whose positions leave no room after the padding id.
    func testFamilyConfigAndWeightErrorsUseTheFamilysNames() throws {
        let distil = Fixtures.families.appendingPathComponent("distilbert-cls")
        let folder = try Fixtures.temporaryDirectory()
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: distil.appendingPathComponent("config.json"))) as! [String: Any]
        func write(_ edit: ([String: Any]) -> [String: Any]) throws {
            try JSONSerialization.data(withJSONObject: edit(config)).write(to: folder.appendingPathComponent("config.json"))
        }
        try FileManager.default.copyItem(at: distil.appendingPathComponent("model.safetensors"), to: folder.appendingPathComponent("model.safetensors"))
        try write { $0.merging(["sinusoidal_pos_embds": true]) { $1 } }
        assertLoadFails(folder, mentioning: ["config.json", "sinusoidal_pos_embds", "distilbert"])
        try write { $0.filter { $0.key != "dim" } }
        assertLoadFails(folder, mentioning: ["config.json", "missing key 'dim'"])
        try write { $0.merging(["n_heads": 5]) { $1 } }
        assertLoadFails(folder, mentioning: ["dim 32 is not a multiple of n_heads 5"])
        try write { $0.merging(["n_layers": 3]) { $1 } }
        assertLoadFails(folder, mentioning: ["missing tensor 'transformer.layer.2.attention.q_lin.weight'"])
        try write { $0.merging(["model_type": "roberta", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
                                "intermediate_size": 37, "pad_token_id": 1, "max_position_embeddings": 2]) { $1 } }
        assertLoadFails(folder, mentioning: ["max_position_embeddings 2 leaves no position after pad_token_id 1"])
    }

    func testExportRoundTripsThroughStandardNames() throws {
        let model = try BertModel.load(directory: tinyCls)
        let folder = try Fixtures.temporaryDirectory()
        try FileManager.default.copyItem(at: tinyCls.appendingPathComponent("config.json"), to: folder.appendingPathComponent("config.json"))
        try model.saveWeights(to: folder.appendingPathComponent("model.safetensors"))
        let saved = try SafeTensorsFile(url: folder.appendingPathComponent("model.safetensors"))
        let original = try SafeTensorsFile(url: tinyCls.appendingPathComponent("model.safetensors"))
        XCTAssertEqual(Set(saved.names), Set(original.names))
        for name in original.names { XCTAssertEqual(try saved.floats(name), try original.floats(name), name) }
        let reloaded = try BertModel.load(directory: folder)
        XCTAssertEqual(reloaded.parameters.storage.toArray(), model.parameters.storage.toArray())
    }
}

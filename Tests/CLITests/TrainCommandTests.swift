import Foundation
import TestSupport
import XCTest

/// `distillery train` as a user runs it: a run folder on success, named errors otherwise.
final class TrainCommandTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws { folder = try CLI.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    private func cache(_ name: String, rows: Int, offset: Int, extra: [String] = []) throws -> URL {
        let data = try writeLabelledSentences(in: folder, rows: rows, name: "\(name).jsonl", offset: offset)
        let out = folder.appendingPathComponent("\(name).h5")
        let result = try CLI.run(["cache", "--teacher", CLI.fixtures.appendingPathComponent("tiny-cls").path, "--data", data.path,
                                  "--label-field", "label", "--id-field", "id", "--out", out.path, "--max-length", "24", "--threads", "1"] + extra)
        XCTAssertEqual(result.status, 0, result.stderr)
        return out
    }

    func testTrainWritesARunFolderAndAHuggingFaceStudent() throws {
        let train = try cache("train", rows: 32, offset: 0, extra: ["--hidden", "0,1,2", "--attention", "2", "--logits", "full"])
        let dev = try cache("dev", rows: 8, offset: 500, extra: ["--hidden", "0,1,2", "--attention", "2", "--logits", "full"])
        let spec = folder.appendingPathComponent("train.yaml")
        try """
        train:
          student: {layers: 1, init: [2], dropout: 0.1}
          objectives: {kd: 0.5, ce: 0.5, hidden_mse: 1, attention_kl: 1}
          hidden_mapping: "0:0,1:2"
          attention_mapping: last
          epochs: 2
          batch_size: 8
        """.write(to: spec, atomically: true, encoding: .utf8)
        let out = folder.appendingPathComponent("run")
        let result = try CLI.run(["train", "--spec", spec.path, "--cache", train.path, "--dev", dev.path,
                                  "--teacher", CLI.fixtures.appendingPathComponent("tiny-cls").path, "--out", out.path,
                                  "--learning-rate", "1e-3", "--threads", "1"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("trained 8 steps"), result.stdout)
        XCTAssertTrue(result.stdout.contains("accuracy"), result.stdout)
        XCTAssertTrue(result.stderr.contains("\"initialized_from_teacher_layers\""), "the resolved configuration is printed at start")
        for name in ["config.json", "metrics.jsonl", "eval.jsonl", "final/config.json", "final/model.safetensors", "final/vocab.txt", "best/config.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent(name).path), name)
        }
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("config.json"))) as! [String: Any]
        XCTAssertEqual((config["spec"] as? [String: Any])?["learning_rate"] as? Double, 1e-3, "flags override the YAML spec")
    }

    func testBadSettingsAndMissingTargetsAreNamed() throws {
        let train = try cache("train", rows: 8, offset: 0, extra: ["--hidden", "2"])
        let out = folder.appendingPathComponent("run").path
        let teacher = CLI.fixtures.appendingPathComponent("tiny-cls").path
        let unknown = try CLI.run(["train", "--cache", train.path, "--teacher", teacher, "--out", out, "--objective", "kd_magic=1"])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.stderr.contains("unknown objective 'kd_magic'"), unknown.stderr)
        let missing = try CLI.run(["train", "--cache", train.path, "--teacher", teacher, "--out", out, "--objective", "attention_kl=1", "--layers", "1"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("--attention 2"), missing.stderr)
        let noCache = try CLI.run(["train", "--cache", folder.appendingPathComponent("nope.h5").path, "--out", out])
        XCTAssertNotEqual(noCache.status, 0)
        XCTAssertTrue(noCache.stderr.contains("nope.h5"), noCache.stderr)
        var spec = folder.appendingPathComponent("bad.yaml")
        try "train:\n  epochs: 2\n  learning_rat: 0.1\n".write(to: spec, atomically: true, encoding: .utf8)
        let typo = try CLI.run(["train", "--cache", train.path, "--out", out, "--spec", spec.path])
        XCTAssertNotEqual(typo.status, 0)
        XCTAssertTrue(typo.stderr.contains("unknown key 'learning_rat'"), typo.stderr)
        spec = folder.appendingPathComponent("wide.yaml")
        try "student: {layers: 1, hidden_size: 16, heads: 2, init: lower}\nobjectives: {hidden_mse: 1}\nhidden_mapping: last\n".write(to: spec, atomically: true, encoding: .utf8)
        let wide = try CLI.run(["train", "--cache", train.path, "--teacher", teacher, "--out", out, "--spec", spec.path])
        XCTAssertNotEqual(wide.status, 0)
        XCTAssertTrue(wide.stderr.contains("equal widths"), wide.stderr)
    }
}

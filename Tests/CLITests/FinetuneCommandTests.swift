import Foundation
import TestSupport
import XCTest

/// `distillery finetune` as a user runs it, and its result used as `distillery cache --teacher`.
final class FinetuneCommandTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws { folder = try CLI.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func testFinetuneWritesATeacherThatCacheLoads() throws {
        let train = try writeLabelledSentences(in: folder, rows: 60, name: "train.jsonl")
        let dev = try writeLabelledSentences(in: folder, rows: 15, name: "dev.jsonl", offset: 1000)
        let out = folder.appendingPathComponent("run")
        let result = try CLI.run(["finetune", "--model", CLI.fixtures.appendingPathComponent("tiny-base").path, "--train", train.path,
                                  "--dev", dev.path, "--label-field", "label", "--id-field", "id", "--out", out.path,
                                  "--epochs", "2", "--learning-rate", "2e-3", "--batch-size", "16", "--threads", "1"])  // default --max-length 128 > the model's 40 positions
        XCTAssertEqual(result.status, 0, result.stderr)
        let best = out.appendingPathComponent("best").path
        XCTAssertTrue(result.stdout.contains("dev accuracy"), result.stdout)
        XCTAssertTrue(result.stdout.contains("distillery cache --teacher \(best)"), result.stdout)
        XCTAssertTrue(result.stdout.contains("in 8 steps"), result.stdout)
        for name in ["config.json", "metrics.jsonl", "eval.jsonl", "best/config.json", "best/model.safetensors", "best/vocab.txt",
                     "final/model.safetensors", "work/train.h5", "work/dev.h5"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent(name).path), name)
        }
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("best/config.json"))) as! [String: Any]
        XCTAssertEqual(config["architectures"] as? [String], ["BertForSequenceClassification"])
        XCTAssertEqual(config["id2label"] as? [String: String], ["0": "negative", "1": "neutral", "2": "positive"])

        // The inputs-only caches verify; the fine-tuned model is a classifier teacher.
        let verify = try CLI.run(["verify", out.appendingPathComponent("work/train.h5").path])
        XCTAssertEqual(verify.status, 0, verify.output)
        let cache = folder.appendingPathComponent("teacher.h5")
        let cached = try CLI.run(["cache", "--teacher", best, "--data", dev.path, "--label-field", "label", "--out", cache.path,
                                  "--logits", "full", "--max-length", "24", "--threads", "1"])
        XCTAssertEqual(cached.status, 0, cached.stderr)
        let inspect = try CLI.run(["inspect", cache.path])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        XCTAssertTrue(inspect.stdout.contains("head classifier (3 classes)"), inspect.stdout)
        XCTAssertTrue(inspect.stdout.contains("/logits/full"), inspect.stdout)
    }

    func testProblemsAreNamed() throws {
        let train = try writeLabelledSentences(in: folder, rows: 8, name: "train.jsonl")
        let out = folder.appendingPathComponent("run").path
        let base = CLI.fixtures.appendingPathComponent("tiny-base").path
        let noModel = try CLI.run(["finetune", "--model", folder.appendingPathComponent("nope").path, "--train", train.path,
                                   "--label-field", "label", "--out", out])
        XCTAssertNotEqual(noModel.status, 0)
        XCTAssertTrue(noModel.stderr.contains("no model folder at \(folder.appendingPathComponent("nope").path)"), noModel.stderr)
        let unlabelled = try CLI.run(["finetune", "--model", base, "--train", train.path, "--out", out])
        XCTAssertNotEqual(unlabelled.status, 0)
        XCTAssertTrue(unlabelled.stderr.contains("--label-field"), unlabelled.stderr)
        let missingData = try CLI.run(["finetune", "--model", base, "--train", folder.appendingPathComponent("none.jsonl").path,
                                       "--label-field", "label", "--out", out])
        XCTAssertNotEqual(missingData.status, 0)
        XCTAssertTrue(missingData.stderr.contains("none.jsonl"), missingData.stderr)
        // Nothing to cache and no labels: `distillery cache` still refuses, and says what would help.
        let nothing = try CLI.run(["cache", "--teacher", base, "--data", train.path, "--out", folder.appendingPathComponent("x.h5").path])
        XCTAssertNotEqual(nothing.status, 0)
        XCTAssertTrue(nothing.stderr.contains("nothing to cache"), nothing.stderr)
    }
}

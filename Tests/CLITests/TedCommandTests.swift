import Foundation
import SafeTensors
import TestSupport
import XCTest

/// `distillery ted-filters` then `distillery train --objective ted=…` as a user runs them.
final class TedCommandTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws { folder = try CLI.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    private func cache(_ name: String, rows: Int, offset: Int, hidden: String) throws -> URL {
        let data = try writeLabelledSentences(in: folder, rows: rows, name: "\(name).jsonl", offset: offset)
        let out = folder.appendingPathComponent("\(name).h5")
        let result = try CLI.run(["cache", "--teacher", CLI.fixtures.appendingPathComponent("tiny-cls").path, "--data", data.path,
                                  "--label-field", "label", "--id-field", "id", "--out", out.path, "--max-length", "24",
                                  "--hidden", hidden, "--logits", "full", "--threads", "1"])
        XCTAssertEqual(result.status, 0, result.stderr)
        return out
    }

    func testFiltersThenStudent() throws {
        let train = try cache("train", rows: 32, offset: 0, hidden: "0,1,2"), dev = try cache("dev", rows: 8, offset: 500, hidden: "1,2")
        let filters = folder.appendingPathComponent("filters.safetensors")
        let stageOne = try CLI.run(["ted-filters", "--cache", train.path, "--dev", dev.path, "--layers", "1,2", "--kind", "mlp", "--width", "16",
                                    "--epochs", "2", "--batch-size", "8", "--out", filters.path, "--threads", "1"])
        XCTAssertEqual(stageOne.status, 0, stageOne.stderr)
        XCTAssertTrue(stageOne.stdout.contains("trained 2 filters (mlp, width 16) on teacher layers 1,2 in 8 steps"), stageOne.stdout)
        XCTAssertTrue(stageOne.stdout.contains("layer 2 accuracy"), stageOne.stdout)
        XCTAssertTrue(stageOne.stderr.contains("\"kind\" : \"mlp\""), "the resolved configuration is printed at start")
        let file = try SafeTensorsFile(url: filters)
        XCTAssertEqual(file.tensors["ted.teacher_layer_1.filter.0.weight"]?.shape, [16, 32])
        XCTAssertEqual(file.metadata["ted.kind"], "mlp")
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("filters.json").path))

        let out = folder.appendingPathComponent("run")
        let stageTwo = try CLI.run(["train", "--cache", train.path, "--teacher", CLI.fixtures.appendingPathComponent("tiny-cls").path,
                                    "--out", out.path, "--layers", "1", "--objective", "ce=1", "--objective", "kd=0.5", "--objective", "ted=1",
                                    "--ted-filters", filters.path, "--max-steps", "4", "--batch-size", "8", "--threads", "1"])
        XCTAssertEqual(stageTwo.status, 0, stageTwo.stderr)
        XCTAssertTrue(stageTwo.stdout.contains("trained 4 steps"), stageTwo.stdout)
        XCTAssertTrue(try String(contentsOf: out.appendingPathComponent("metrics.jsonl"), encoding: .utf8).contains("\"ted\""))
    }

    func testMissingHiddenStatesAndFiltersAreNamed() throws {
        let train = try cache("train", rows: 8, offset: 0, hidden: "2")
        let filters = folder.appendingPathComponent("filters.safetensors")
        let missing = try CLI.run(["ted-filters", "--cache", train.path, "--layers", "1,2", "--out", filters.path])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("--hidden 1,2"), missing.stderr)
        let noFile = try CLI.run(["train", "--cache", train.path, "--out", folder.appendingPathComponent("run").path, "--layers", "1",
                                  "--objective", "ted=1"])
        XCTAssertNotEqual(noFile.status, 0)
        XCTAssertTrue(noFile.stderr.contains("ted_filters (--ted-filters)"), noFile.stderr)
    }
}

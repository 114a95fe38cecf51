import Foundation
import SafeTensors
import TestSupport
import XCTest

/// `--precision bf16` through the commands: `forward` and `cache` run the teacher's matrix products
/// in bf16 (the cache records it in its spec); on a CPU without AVX-512 BF16 both stop before any
/// work with a message that says so (simulated with DISTILLERY_FAULT_NO_BF16=1).
final class PrecisionCommandTests: XCTestCase {
    func testBF16ForwardAndCacheAndTheirRefusalWithoutTheCPUFeature() throws {
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let teacher = try CLI.tinyModelFolder()
        let input = work.appendingPathComponent("in.txt")
        try "the cat sat on the mat\nthe dog\n".write(to: input, atomically: true, encoding: .utf8)
        let data = work.appendingPathComponent("data.jsonl")
        try (0..<8).map { #"{"id": "r\#($0)", "text": "the cat sat on the mat \#($0)"}"# }.joined(separator: "\n").write(to: data, atomically: true, encoding: .utf8)

        let refusedForward = try CLI.run(["forward", "--model", teacher.path, "--input", input.path, "--out", work.appendingPathComponent("r.safetensors").path,
                                          "--precision", "bf16"], environment: ["DISTILLERY_FAULT_NO_BF16": "1"])
        XCTAssertNotEqual(refusedForward.status, 0)
        XCTAssertTrue(refusedForward.output.contains("needs a CPU with AVX-512 BF16"), refusedForward.output)
        let refusedCache = try CLI.run(["cache", "--teacher", teacher.path, "--data", data.path, "--out", work.appendingPathComponent("r.h5").path,
                                        "--hidden", "2", "--precision", "bf16"], environment: ["DISTILLERY_FAULT_NO_BF16": "1"])
        XCTAssertNotEqual(refusedCache.status, 0)
        XCTAssertTrue(refusedCache.output.contains("needs a CPU with AVX-512 BF16"), refusedCache.output)
        for name in ["r.safetensors", "r.h5", "r.h5.partial"] {
            XCTAssertFalse(FileManager.default.fileExists(atPath: work.appendingPathComponent(name).path), "\(name) written before the refusal")
        }

        let probe = try CLI.run(["forward", "--model", teacher.path, "--input", input.path, "--out", work.appendingPathComponent("p.safetensors").path,
                                 "--precision", "bf16"])
        guard probe.status == 0 else { throw XCTSkip("this CPU has no AVX-512 BF16: \(probe.output)") }
        let fp32 = work.appendingPathComponent("fp32.safetensors")
        XCTAssertEqual(try CLI.run(["forward", "--model", teacher.path, "--input", input.path, "--out", fp32.path, "--capture", "hidden"]).status, 0)
        let bf16 = work.appendingPathComponent("bf16.safetensors")
        XCTAssertEqual(try CLI.run(["forward", "--model", teacher.path, "--input", input.path, "--out", bf16.path, "--capture", "hidden", "--precision", "bf16"]).status, 0)
        let a = try SafeTensorsFile(url: fp32).floats("hidden.2"), b = try SafeTensorsFile(url: bf16).floats("hidden.2")
        let worst = zip(a, b).map { abs($0 - $1) }.max()!
        XCTAssertGreaterThan(worst, 0, "bf16 rounds")
        XCTAssertLessThan(worst, 0.2, "within bf16 rounding of two layers")

        let cache = work.appendingPathComponent("bf16.h5")
        let built = try CLI.run(["cache", "--teacher", teacher.path, "--data", data.path, "--out", cache.path, "--hidden", "2", "--precision", "bf16"])
        XCTAssertEqual(built.status, 0, built.output)
        let inspected = try CLI.run(["inspect", cache.path])
        XCTAssertTrue(inspected.stdout.contains("\"precision\":\"bf16\"") || inspected.stdout.contains("precision bf16"), inspected.stdout)
        // The provenance keeps what bf16 cost, measured on the data's first sequences against fp32.
        XCTAssertTrue(inspected.stdout.contains("bf16 teacher against fp32 on the first 8 sequences"), inspected.stdout)
        let line = inspected.stdout.split(separator: "\n").first { $0.contains("hidden.2: max") }
        let numbers = line.map { $0.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .punctuationCharacters)) } } ?? []
        XCTAssertEqual(numbers.count, 2, "hidden.2: max M, mean m in \(line ?? "none")")
        if numbers.count == 2 {
            XCTAssertTrue(numbers[0] > 0 && numbers[0] < 0.2 && numbers[1] > 0 && numbers[1] <= numbers[0], "\(numbers)")
        }
    }

    /// `train --precision bf16` and `finetune --precision bf16`: refused before any work without the
    /// CPU feature (no run folder); with it, they train and the run's spec records the precision.
    func testBF16TrainAndFinetuneAndTheirRefusalWithoutTheCPUFeature() throws {
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let teacher = CLI.fixtures.appendingPathComponent("tiny-cls")
        let data = try writeLabelledSentences(in: work, rows: 16, name: "train.jsonl", offset: 0)
        let cache = work.appendingPathComponent("train.h5")
        let built = try CLI.run(["cache", "--teacher", teacher.path, "--data", data.path, "--label-field", "label", "--id-field", "id",
                                 "--out", cache.path, "--max-length", "24", "--hidden", "0,2", "--logits", "full", "--threads", "1"])
        XCTAssertEqual(built.status, 0, built.output)
        func train(_ out: URL, environment: [String: String] = [:]) throws -> ProgramResult {
            try CLI.run(["train", "--cache", cache.path, "--teacher", teacher.path, "--out", out.path, "--layers", "1", "--objective", "kd=1",
                         "--objective", "hidden_mse=1", "--epochs", "1", "--batch-size", "8", "--precision", "bf16", "--threads", "1"],
                        environment: environment)
        }
        func finetune(_ out: URL, environment: [String: String] = [:]) throws -> ProgramResult {
            try CLI.run(["finetune", "--model", CLI.fixtures.appendingPathComponent("tiny-base").path, "--train", data.path,
                         "--label-field", "label", "--id-field", "id", "--out", out.path, "--epochs", "1", "--batch-size", "8",
                         "--precision", "bf16", "--threads", "1"], environment: environment)
        }
        let refusedRun = work.appendingPathComponent("refused-run"), refusedFinetune = work.appendingPathComponent("refused-finetune")
        for (result, out) in [(try train(refusedRun, environment: ["DISTILLERY_FAULT_NO_BF16": "1"]), refusedRun),
                              (try finetune(refusedFinetune, environment: ["DISTILLERY_FAULT_NO_BF16": "1"]), refusedFinetune)] {
            XCTAssertNotEqual(result.status, 0)
            XCTAssertTrue(result.output.contains("needs a CPU with AVX-512 BF16"), result.output)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "\(out.lastPathComponent) created before the refusal")
        }
        let run = work.appendingPathComponent("run")
        let trained = try train(run)
        if trained.output.contains("needs a CPU with AVX-512 BF16") { throw XCTSkip("this CPU has no AVX-512 BF16") }
        XCTAssertEqual(trained.status, 0, trained.output)
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("config.json"))) as! [String: Any]
        XCTAssertEqual((config["spec"] as? [String: Any])?["precision"] as? String, "bf16")
        XCTAssertTrue(FileManager.default.fileExists(atPath: run.appendingPathComponent("final/model.safetensors").path))
        let tuned = work.appendingPathComponent("tuned")
        let finetuned = try finetune(tuned)
        XCTAssertEqual(finetuned.status, 0, finetuned.output)
        let tunedConfig = try JSONSerialization.jsonObject(with: Data(contentsOf: tuned.appendingPathComponent("config.json"))) as! [String: Any]
        XCTAssertEqual((tunedConfig["spec"] as? [String: Any])?["precision"] as? String, "bf16")
    }
}
